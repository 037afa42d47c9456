namespace RunCommand.Storage.Relational;

/// <summary>Rows of <c>fleet_runs</c> and <c>fleet_targets</c>.</summary>
public sealed partial class SqlRows
{
    private const string FleetRunSelect =
        "SELECT key, subscription, resource_group, name, location, definition, secrets, state, cancel_requested, created, completed FROM fleet_runs";

    public async Task<FleetRunRecord?> GetFleetRunAsync(FleetRunKey run, CancellationToken cancellationToken) =>
        (await ReadFleetRunsAsync(FleetRunSelect + " WHERE key = @key", cancellationToken, ("@key", run.Key))).FirstOrDefault();

    public async Task<IReadOnlyList<FleetRunRecord>> ListFleetRunsAsync(string? subscriptionId, string? resourceGroup, CancellationToken cancellationToken) =>
        resourceGroup is null
            ? await ReadFleetRunsAsync(FleetRunSelect + " WHERE state = 'Running' ORDER BY created, key", cancellationToken)
            : await ReadFleetRunsAsync(FleetRunSelect + " WHERE lower(subscription) = lower(@sub) AND lower(resource_group) = lower(@rg) ORDER BY sort_name",
                cancellationToken, ("@sub", subscriptionId), ("@rg", resourceGroup));

    public async Task InsertFleetRunAsync(FleetRunRecord run, CancellationToken cancellationToken)
    {
        await ExecuteAsync("""
            INSERT INTO fleet_runs(key, subscription, resource_group, name, sort_name, location, definition, secrets, state, cancel_requested, created, completed)
            VALUES(@key, @sub, @rg, @name, @sort, @loc, @def, @secrets, @state, @cancel, @created, @completed)
            """, cancellationToken,
            ("@key", run.Run.Key), ("@sub", run.Run.SubscriptionId), ("@rg", run.Run.ResourceGroup), ("@name", run.Run.Name),
            ("@sort", run.Run.Name.ToLowerInvariant()), ("@loc", run.Location), ("@def", StorageFormat.Serialize(run.Definition)),
            ("@secrets", run.SealedSecrets), ("@state", run.State.ToString()), ("@cancel", run.CancelRequested), ("@created", Time(run.Created)),
            ("@completed", Time(run.Completed)));
        foreach (var target in run.Targets)
        {
            await ExecuteAsync("""
                INSERT INTO fleet_targets(run_key, ordinal, machine_id, execution_id, not_started, start_failed, message)
                VALUES(@run, @ord, @machine, @exec, @ns, @failed, @msg)
                """, cancellationToken, ("@run", run.Run.Key), ("@ord", target.Ordinal), ("@machine", target.Machine.ResourceId),
                ("@exec", target.ExecutionId), ("@ns", target.NotStarted), ("@failed", target.StartFailed), ("@msg", target.Message));
        }
    }

    public async Task<FleetTargetRecord?> GetFleetTargetAsync(FleetRunKey run, int ordinal, CancellationToken cancellationToken) =>
        (await QueryAsync(FleetTargetSelect + " WHERE run_key = @run AND ordinal = @ord", ReadFleetTarget, cancellationToken,
            ("@run", run.Key), ("@ord", ordinal))).FirstOrDefault();

    public async Task SaveFleetTargetAsync(FleetRunKey run, FleetTargetRecord target, CancellationToken cancellationToken) =>
        await ExecuteAsync(
            "UPDATE fleet_targets SET execution_id = @exec, not_started = @ns, start_failed = @failed, message = @msg WHERE run_key = @run AND ordinal = @ord",
            cancellationToken, ("@run", run.Key), ("@ord", target.Ordinal), ("@exec", target.ExecutionId), ("@ns", target.NotStarted),
            ("@failed", target.StartFailed), ("@msg", target.Message));

    public async Task SaveFleetRunStateAsync(FleetRunKey run, FleetRunState state, bool cancelRequested, DateTimeOffset? completed, bool dropSecrets, CancellationToken cancellationToken) =>
        await ExecuteAsync("""
            UPDATE fleet_runs SET state = @state, cancel_requested = @cancel, completed = @completed,
                secrets = CASE WHEN @drop THEN NULL ELSE secrets END
            WHERE key = @key
            """, cancellationToken, ("@key", run.Key), ("@state", state.ToString()), ("@cancel", cancelRequested), ("@completed", Time(completed)), ("@drop", dropSecrets));

    private const string FleetTargetSelect = "SELECT ordinal, machine_id, execution_id, not_started, start_failed, message FROM fleet_targets";

    private static FleetTargetRecord ReadFleetTarget(System.Data.Common.DbDataReader reader) => new()
    {
        Ordinal = Int32(reader, 0),
        Machine = StorageFormat.ParseMachineId(reader.GetString(1)) ?? throw new InvalidDataException($"Stored fleet target is not a machine id: '{reader.GetString(1)}'."),
        ExecutionId = Text(reader, 2),
        NotStarted = Flag(reader, 3),
        StartFailed = Flag(reader, 4),
        Message = Text(reader, 5),
    };

    private async Task<IReadOnlyList<FleetRunRecord>> ReadFleetRunsAsync(string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        var runs = await QueryAsync(sql, reader => (Key: reader.GetString(0), Run: new FleetRunRecord
        {
            Run = new FleetRunKey(reader.GetString(1), reader.GetString(2), reader.GetString(3)),
            Location = reader.GetString(4),
            Definition = StorageFormat.DeserializeFleetDefinition(reader.GetString(5)),
            SealedSecrets = Bytes(reader, 6),
            State = Enum<FleetRunState>(reader, 7),
            CancelRequested = Flag(reader, 8),
            Created = Time(reader, 9),
            Completed = TimeOrNull(reader, 10),
            Targets = [],
        }), cancellationToken, parameters);

        var result = new List<FleetRunRecord>(runs.Count);
        foreach (var (key, run) in runs)
        {
            var targets = await QueryAsync(FleetTargetSelect + " WHERE run_key = @run ORDER BY ordinal", ReadFleetTarget, cancellationToken, ("@run", key));
            result.Add(run with { Targets = targets });
        }

        return result;
    }
}
