using Microsoft.Data.Sqlite;
using RunCommand.Contracts.Arm;

namespace RunCommand.Storage.Sqlite;

/// <summary>
/// The embedded store: one SQLite file in WAL mode. A committed transaction survives a kill -9 of the server
/// (the WAL is written before the commit returns); with <c>fullSync</c> each commit is also fsynced, so it
/// survives a power cut, at the price of one disk flush per write. Writers are serialized in process (SQLite
/// allows one writer at a time); readers run in parallel on their own connections.
/// </summary>
public sealed partial class SqliteRunCommandStore : IRunCommandStore
{
    private readonly string _connectionString;
    private readonly IChangeFeed _changes;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly string _pragmas;

    public SqliteRunCommandStore(string databasePath, IChangeFeed changes, bool fullSync = false)
    {
        _pragmas = $"PRAGMA synchronous={(fullSync ? "FULL" : "NORMAL")}; PRAGMA busy_timeout=10000;";
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = databasePath,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
        _changes = changes;
    }

    public async Task InitializeAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await ExecuteAsync(connection, null, "PRAGMA journal_mode=WAL;", cancellationToken);
        await ExecuteAsync(connection, null, Schema, cancellationToken);
        await ExecuteAsync(connection, null, AuthSchema, cancellationToken);
        await ExecuteAsync(connection, null, LeaseSchema, cancellationToken);

        // Databases created before scale sets existed lack the column; every VM of theirs is a plain VM (NULL).
        if (await ScalarAsync(connection, null, "SELECT 1 FROM pragma_table_info('vms') WHERE name = 'scale_set'", cancellationToken) is null)
        {
            await ExecuteAsync(connection, null, "ALTER TABLE vms ADD COLUMN scale_set TEXT", cancellationToken);
        }

        // Databases created before agents enrolled with keys lack the column; their agents all hold tokens (NULL).
        if (await ScalarAsync(connection, null, "SELECT 1 FROM pragma_table_info('vms') WHERE name = 'agent_public_key'", cancellationToken) is null)
        {
            await ExecuteAsync(connection, null, "ALTER TABLE vms ADD COLUMN agent_public_key BLOB", cancellationToken);
        }

        // Enrollment tokens made before they could be scoped to a scale set are scoped to their resource group (NULL).
        if (await ScalarAsync(connection, null, "SELECT 1 FROM pragma_table_info('enrollment_tokens') WHERE name = 'scale_set'", cancellationToken) is null)
        {
            await ExecuteAsync(connection, null, "ALTER TABLE enrollment_tokens ADD COLUMN scale_set TEXT", cancellationToken);
        }

        await ExecuteAsync(connection, null, "CREATE INDEX IF NOT EXISTS ix_vms_scale_set ON vms(lower(subscription), lower(resource_group), lower(scale_set))", cancellationToken);
    }

    private const string Schema = """
        CREATE TABLE IF NOT EXISTS tokens(
            purpose TEXT PRIMARY KEY,
            hash BLOB NOT NULL);
        CREATE TABLE IF NOT EXISTS vms(
            key TEXT PRIMARY KEY,
            subscription TEXT NOT NULL,
            resource_group TEXT NOT NULL,
            name TEXT NOT NULL,
            location TEXT NOT NULL,
            vm_id TEXT NOT NULL,
            tags TEXT,
            agent_token_hash BLOB UNIQUE,
            last_contact TEXT,
            hostname TEXT,
            agent_version TEXT,
            created TEXT NOT NULL,
            goal_version INTEGER NOT NULL DEFAULT 1);
        CREATE TABLE IF NOT EXISTS run_commands(
            key TEXT PRIMARY KEY,
            vm_key TEXT NOT NULL,
            name TEXT NOT NULL,
            sort_name TEXT NOT NULL,
            location TEXT NOT NULL,
            tags TEXT,
            spec TEXT NOT NULL,
            secrets BLOB,
            fingerprint TEXT NOT NULL,
            execution_id TEXT NOT NULL,
            operation_id TEXT NOT NULL,
            first_execution INTEGER NOT NULL,
            deleting INTEGER NOT NULL DEFAULT 0,
            created TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS ix_run_commands_vm ON run_commands(vm_key, sort_name);
        CREATE TABLE IF NOT EXISTS executions(
            id TEXT PRIMARY KEY,
            vm_key TEXT NOT NULL,
            command_resource_id TEXT NOT NULL,
            spec TEXT NOT NULL,
            secrets BLOB,
            state TEXT NOT NULL,
            exit_code INTEGER,
            message TEXT,
            start_time TEXT,
            end_time TEXT,
            cancel_requested INTEGER NOT NULL DEFAULT 0,
            delivered INTEGER NOT NULL DEFAULT 0,
            stdout_len INTEGER NOT NULL DEFAULT 0,
            stderr_len INTEGER NOT NULL DEFAULT 0,
            created TEXT NOT NULL);
        CREATE INDEX IF NOT EXISTS ix_executions_active ON executions(vm_key, created) WHERE state IN ('Pending', 'Running');
        CREATE TABLE IF NOT EXISTS output(
            execution_id TEXT NOT NULL,
            stream INTEGER NOT NULL,
            start_offset INTEGER NOT NULL,
            end_offset INTEGER NOT NULL,
            data BLOB NOT NULL,
            PRIMARY KEY(execution_id, stream, start_offset));
        CREATE TABLE IF NOT EXISTS operations(
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            resource_id TEXT NOT NULL,
            execution_id TEXT,
            created TEXT NOT NULL,
            completed TEXT);
        CREATE TABLE IF NOT EXISTS deployments(
            key TEXT PRIMARY KEY,
            subscription TEXT NOT NULL,
            resource_group TEXT NOT NULL,
            name TEXT NOT NULL,
            deployment_id TEXT NOT NULL,
            state TEXT NOT NULL,
            created TEXT NOT NULL,
            ended TEXT,
            error TEXT);
        CREATE INDEX IF NOT EXISTS ix_deployments_group ON deployments(lower(subscription), lower(resource_group), lower(name));
        CREATE TABLE IF NOT EXISTS deployment_operations(
            deployment_key TEXT NOT NULL,
            idx INTEGER NOT NULL,
            operation_id TEXT NOT NULL,
            resource_id TEXT NOT NULL,
            resource_name TEXT NOT NULL,
            resource_type TEXT NOT NULL,
            depends_on TEXT NOT NULL,
            body BLOB NOT NULL,
            state TEXT,
            execution_id TEXT,
            status_code TEXT,
            error TEXT,
            started TEXT,
            ended TEXT,
            PRIMARY KEY(deployment_key, idx));
        CREATE TABLE IF NOT EXISTS scale_sets(
            key TEXT PRIMARY KEY,
            subscription TEXT NOT NULL,
            resource_group TEXT NOT NULL,
            name TEXT NOT NULL,
            location TEXT NOT NULL,
            instance_count INTEGER NOT NULL DEFAULT 0,
            created TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS fleet_runs(
            key TEXT PRIMARY KEY,
            subscription TEXT NOT NULL,
            resource_group TEXT NOT NULL,
            name TEXT NOT NULL,
            sort_name TEXT NOT NULL,
            location TEXT NOT NULL,
            definition TEXT NOT NULL,
            secrets BLOB,
            state TEXT NOT NULL,
            cancel_requested INTEGER NOT NULL DEFAULT 0,
            created TEXT NOT NULL,
            completed TEXT);
        CREATE INDEX IF NOT EXISTS ix_fleet_runs_active ON fleet_runs(state) WHERE state = 'Running';
        CREATE TABLE IF NOT EXISTS fleet_targets(
            run_key TEXT NOT NULL,
            ordinal INTEGER NOT NULL,
            machine_id TEXT NOT NULL,
            execution_id TEXT,
            not_started INTEGER NOT NULL DEFAULT 0,
            start_failed INTEGER NOT NULL DEFAULT 0,
            message TEXT,
            PRIMARY KEY(run_key, ordinal));
        CREATE TABLE IF NOT EXISTS command_documents(
            key TEXT PRIMARY KEY,
            document TEXT NOT NULL,
            created TEXT NOT NULL,
            updated TEXT NOT NULL);
        """;

    // ---------------------------------------------------------------- credentials

    public async Task SetTokenHashAsync(string purpose, byte[] tokenHash, CancellationToken cancellationToken)
    {
        await WriteAsync(async (connection, transaction) =>
        {
            await ExecuteAsync(connection, transaction,
                "INSERT INTO tokens(purpose, hash) VALUES($p, $h) ON CONFLICT(purpose) DO UPDATE SET hash = excluded.hash",
                cancellationToken, ("$p", purpose), ("$h", tokenHash));
            return true;
        }, cancellationToken);
    }

    public async Task<byte[]> AddTokenHashIfAbsentAsync(string purpose, byte[] tokenHash, CancellationToken cancellationToken) =>
        await WriteAsync(async (connection, transaction) =>
        {
            await ExecuteAsync(connection, transaction, "INSERT INTO tokens(purpose, hash) VALUES($p, $h) ON CONFLICT(purpose) DO NOTHING",
                cancellationToken, ("$p", purpose), ("$h", tokenHash));
            return (byte[])(await ScalarAsync(connection, transaction, "SELECT hash FROM tokens WHERE purpose = $p", cancellationToken, ("$p", purpose)))!;
        }, cancellationToken);

    public async Task<byte[]?> GetTokenHashAsync(string purpose, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await ScalarAsync(connection, null, "SELECT hash FROM tokens WHERE purpose = $p", cancellationToken, ("$p", purpose)) as byte[];
    }

    public async Task<VmRecord> EnrollAgentAsync(VmKey vm, string location, byte[]? agentTokenHash, byte[]? agentPublicKey, string? hostname, string? agentVersion, IReadOnlyDictionary<string, string>? tags, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var record = await WriteAsync(async (connection, transaction) =>
        {
            var existing = await ReadVmAsync(connection, transaction, vm.Key, cancellationToken);
            if (existing is null)
            {
                await InsertMachineAsync(connection, transaction, vm, location, agentTokenHash, agentPublicKey, hostname, agentVersion, tags, now, cancellationToken);
            }
            else
            {
                await ExecuteAsync(connection, transaction,
                    "UPDATE vms SET agent_token_hash = $hash, agent_public_key = $pk, last_contact = $now, hostname = $host, agent_version = $ver WHERE key = $key",
                    cancellationToken, ("$key", vm.Key), ("$hash", agentTokenHash), ("$pk", agentPublicKey), ("$now", StorageFormat.Timestamp(now)), ("$host", hostname), ("$ver", agentVersion));
            }

            return (await ReadVmAsync(connection, transaction, vm.Key, cancellationToken))!;
        }, cancellationToken);
        return record;
    }

    public async Task<VmRecord> EnrollScaleSetInstanceAsync(string subscriptionId, string resourceGroup, string scaleSetName, string location, byte[]? agentTokenHash, byte[]? agentPublicKey, string? hostname, string? agentVersion, IReadOnlyDictionary<string, string>? tags, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var scaleSetKey = ScaleSetKey(subscriptionId, resourceGroup, scaleSetName);
        return await WriteAsync(async (connection, transaction) =>
        {
            var scaleSet = await ReadScaleSetAsync(connection, transaction, scaleSetKey, cancellationToken);
            if (scaleSet is null)
            {
                await ExecuteAsync(connection, transaction, """
                    INSERT INTO scale_sets(key, subscription, resource_group, name, location, instance_count, created)
                    VALUES($key, $sub, $rg, $name, $loc, 0, $now)
                    """, cancellationToken,
                    ("$key", scaleSetKey), ("$sub", subscriptionId), ("$rg", resourceGroup), ("$name", scaleSetName), ("$loc", location), ("$now", StorageFormat.Timestamp(now)));
                scaleSet = (await ReadScaleSetAsync(connection, transaction, scaleSetKey, cancellationToken))!;
            }

            // The id and the credential are committed together: a crash leaves either no instance or a complete one.
            var instance = new VmKey(scaleSet.SubscriptionId, scaleSet.ResourceGroup, scaleSet.InstanceCount.ToString(System.Globalization.CultureInfo.InvariantCulture), scaleSet.Name);
            await ExecuteAsync(connection, transaction, "UPDATE scale_sets SET instance_count = instance_count + 1 WHERE key = $key", cancellationToken, ("$key", scaleSetKey));
            await InsertMachineAsync(connection, transaction, instance, scaleSet.Location, agentTokenHash, agentPublicKey, hostname, agentVersion, tags, now, cancellationToken);
            return (await ReadVmAsync(connection, transaction, instance.Key, cancellationToken))!;
        }, cancellationToken);
    }

    private static async Task InsertMachineAsync(SqliteConnection connection, SqliteTransaction transaction, VmKey vm, string location, byte[]? agentTokenHash, byte[]? agentPublicKey, string? hostname, string? agentVersion, IReadOnlyDictionary<string, string>? tags, DateTimeOffset now, CancellationToken cancellationToken) =>
        await ExecuteAsync(connection, transaction, """
            INSERT INTO vms(key, subscription, resource_group, name, scale_set, location, vm_id, tags, agent_token_hash, agent_public_key, last_contact, hostname, agent_version, created)
            VALUES($key, $sub, $rg, $name, $ss, $loc, $vmid, $tags, $hash, $pk, $now, $host, $ver, $now)
            """, cancellationToken,
            ("$key", vm.Key), ("$sub", vm.SubscriptionId), ("$rg", vm.ResourceGroup), ("$name", vm.VmName), ("$ss", vm.ScaleSetName), ("$loc", location),
            ("$vmid", Guid.NewGuid().ToString()), ("$tags", tags is { Count: > 0 } ? StorageFormat.Serialize(tags) : null), ("$hash", agentTokenHash),
            ("$pk", agentPublicKey), ("$now", StorageFormat.Timestamp(now)), ("$host", hostname), ("$ver", agentVersion));

    private static string ScaleSetKey(string subscriptionId, string resourceGroup, string scaleSetName) =>
        $"/subscriptions/{subscriptionId}/resourcegroups/{resourceGroup}/providers/microsoft.compute/virtualmachinescalesets/{scaleSetName}".ToLowerInvariant();

    private static async Task<ScaleSetRecord?> ReadScaleSetAsync(SqliteConnection connection, SqliteTransaction? transaction, string key, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction,
            "SELECT subscription, resource_group, name, location, instance_count, created FROM scale_sets WHERE key = $key", ("$key", key));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        return new ScaleSetRecord
        {
            SubscriptionId = reader.GetString(0),
            ResourceGroup = reader.GetString(1),
            Name = reader.GetString(2),
            Location = reader.GetString(3),
            InstanceCount = reader.GetInt32(4),
            Created = StorageFormat.ParseTimestamp(reader.GetString(5)),
        };
    }

    public async Task<ScaleSetRecord?> GetScaleSetAsync(string subscriptionId, string resourceGroup, string scaleSetName, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await ReadScaleSetAsync(connection, null, ScaleSetKey(subscriptionId, resourceGroup, scaleSetName), cancellationToken);
    }

    public async Task<IReadOnlyList<VmRecord>> ListScaleSetInstancesAsync(string subscriptionId, string resourceGroup, string scaleSetName, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await ReadVmsAsync(connection,
            VmSelect + " WHERE lower(subscription) = lower($sub) AND lower(resource_group) = lower($rg) AND lower(scale_set) = lower($ss) ORDER BY CAST(name AS INTEGER)",
            cancellationToken, ("$sub", subscriptionId), ("$rg", resourceGroup), ("$ss", scaleSetName));
    }

    public async Task<IReadOnlyList<VmRecord>> ListMachinesAsync(string subscriptionId, string? resourceGroup, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await ReadVmsAsync(connection,
            VmSelect + " WHERE lower(subscription) = lower($sub)" + (resourceGroup is null ? "" : " AND lower(resource_group) = lower($rg)")
                + " ORDER BY lower(resource_group), scale_set IS NOT NULL, lower(scale_set), CAST(name AS INTEGER), lower(name)",
            cancellationToken, ("$sub", subscriptionId), ("$rg", resourceGroup));
    }

    public async Task<VmRecord?> SetVmTagsAsync(VmKey vm, IReadOnlyDictionary<string, string>? tags, CancellationToken cancellationToken)
    {
        return await WriteAsync(async (connection, transaction) =>
        {
            await ExecuteAsync(connection, transaction, "UPDATE vms SET tags = $tags WHERE key = $key", cancellationToken,
                ("$key", vm.Key), ("$tags", tags is { Count: > 0 } ? StorageFormat.Serialize(tags) : null));
            return await ReadVmAsync(connection, transaction, vm.Key, cancellationToken);
        }, cancellationToken);
    }

    private static async Task<IReadOnlyList<VmRecord>> ReadVmsAsync(SqliteConnection connection, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(connection, null, sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var result = new List<VmRecord>();
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(ReadVm(reader));
        }

        return result;
    }

    public async Task<VmRecord?> FindVmByAgentTokenAsync(byte[] agentTokenHash, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, VmSelect + " WHERE agent_token_hash = $h", ("$h", agentTokenHash));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadVm(reader) : null;
    }

    public async Task<(VmRecord Vm, byte[] PublicKey)?> FindVmAgentKeyAsync(string vmResourceId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, VmSelect.Replace(" FROM vms", ", agent_public_key FROM vms", StringComparison.Ordinal)
            + " WHERE key = $key AND agent_public_key IS NOT NULL", ("$key", vmResourceId.ToLowerInvariant()));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? (ReadVm(reader), (byte[])reader.GetValue(11)) : null;
    }

    public async Task TouchAgentAsync(VmKey vm, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await WriteAsync(async (connection, transaction) =>
        {
            await ExecuteAsync(connection, transaction, "UPDATE vms SET last_contact = $now WHERE key = $key", cancellationToken,
                ("$key", vm.Key), ("$now", StorageFormat.Timestamp(now)));
            return true;
        }, cancellationToken);
    }

    // ---------------------------------------------------------------- VMs

    public async Task<VmRecord?> GetVmAsync(VmKey vm, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await ReadVmAsync(connection, null, vm.Key, cancellationToken);
    }

    public async Task<IReadOnlyList<VmRecord>> ListVmsAsync(string subscriptionId, string? resourceGroup, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        var sql = VmSelect + " WHERE lower(subscription) = lower($sub) AND scale_set IS NULL" +
            (resourceGroup is null ? "" : " AND lower(resource_group) = lower($rg)") +
            " ORDER BY lower(resource_group), lower(name)";
        await using var command = Command(connection, null, sql, ("$sub", subscriptionId), ("$rg", resourceGroup));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var result = new List<VmRecord>();
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(ReadVm(reader));
        }

        return result;
    }

    private const string VmSelect =
        "SELECT subscription, resource_group, name, location, vm_id, tags, last_contact, hostname, agent_version, created, scale_set FROM vms";

    private static async Task<VmRecord?> ReadVmAsync(SqliteConnection connection, SqliteTransaction? transaction, string key, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, VmSelect + " WHERE key = $key", ("$key", key));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadVm(reader) : null;
    }

    private static VmRecord ReadVm(SqliteDataReader reader) => new()
    {
        Vm = new VmKey(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.IsDBNull(10) ? null : reader.GetString(10)),
        Location = reader.GetString(3),
        VmId = reader.GetString(4),
        Tags = StorageFormat.DeserializeTags(reader.IsDBNull(5) ? null : reader.GetString(5)),
        LastContact = reader.IsDBNull(6) ? null : StorageFormat.ParseTimestamp(reader.GetString(6)),
        Hostname = reader.IsDBNull(7) ? null : reader.GetString(7),
        AgentVersion = reader.IsDBNull(8) ? null : reader.GetString(8),
        Created = StorageFormat.ParseTimestamp(reader.GetString(9)),
    };

    // ---------------------------------------------------------------- run commands

    public async Task<WriteOutcome> PutRunCommandAsync(RunCommandWrite write, string newExecutionId, string newOperationId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var vmKey = write.Command.Vm.Key;
        var topics = new List<string>();
        var outcome = await WriteAsync(async (connection, transaction) =>
        {
            if (await ReadVmAsync(connection, transaction, vmKey, cancellationToken) is null)
            {
                return new WriteOutcome(WriteOutcomeKind.VmNotFound, null);
            }

            var existing = await ReadRunCommandAsync(connection, transaction, write.Command.Key, cancellationToken);
            if (existing is { Deleting: true })
            {
                return new WriteOutcome(WriteOutcomeKind.Deleting, existing);
            }

            if (existing is not null && existing.Fingerprint == write.Fingerprint)
            {
                // Same body again: ARM semantics say nothing changes and nothing re-runs. Tags may differ.
                await ExecuteAsync(connection, transaction, "UPDATE run_commands SET tags = $tags WHERE key = $key", cancellationToken,
                    ("$key", write.Command.Key), ("$tags", StorageFormat.Serialize(write.Tags)));
                return new WriteOutcome(WriteOutcomeKind.Unchanged, existing with { Tags = write.Tags });
            }

            if (existing is null)
            {
                var count = (long)(await ScalarAsync(connection, transaction, "SELECT count(*) FROM run_commands WHERE vm_key = $vm", cancellationToken, ("$vm", vmKey)))!;
                if (count >= write.MaxRunCommandsPerVm)
                {
                    return new WriteOutcome(WriteOutcomeKind.LimitReached, null);
                }
            }
            else
            {
                await StopExecutionAsync(connection, transaction, existing.Execution, "Canceled: the run command was updated", now, topics, cancellationToken);
            }

            var specJson = StorageFormat.Serialize(write.Spec);
            await ExecuteAsync(connection, transaction, """
                INSERT INTO executions(id, vm_key, command_resource_id, spec, secrets, state, created)
                VALUES($id, $vm, $rid, $spec, $secrets, 'Pending', $now)
                """, cancellationToken,
                ("$id", newExecutionId), ("$vm", vmKey), ("$rid", write.Command.ResourceId), ("$spec", specJson),
                ("$secrets", write.SealedSecrets), ("$now", StorageFormat.Timestamp(now)));
            await ExecuteAsync(connection, transaction,
                "INSERT INTO operations(id, kind, resource_id, execution_id, created) VALUES($id, 'put', $rid, $exec, $now)",
                cancellationToken, ("$id", newOperationId), ("$rid", write.Command.ResourceId), ("$exec", newExecutionId), ("$now", StorageFormat.Timestamp(now)));
            await ExecuteAsync(connection, transaction, """
                INSERT INTO run_commands(key, vm_key, name, sort_name, location, tags, spec, secrets, fingerprint, execution_id, operation_id, first_execution, created)
                VALUES($key, $vm, $name, $sort, $loc, $tags, $spec, $secrets, $fp, $exec, $op, 1, $now)
                ON CONFLICT(key) DO UPDATE SET location = excluded.location, tags = excluded.tags, spec = excluded.spec,
                    secrets = excluded.secrets, fingerprint = excluded.fingerprint, execution_id = excluded.execution_id,
                    operation_id = excluded.operation_id, first_execution = 0
                """, cancellationToken,
                ("$key", write.Command.Key), ("$vm", vmKey), ("$name", write.Command.Name), ("$sort", write.Command.Name.ToLowerInvariant()),
                ("$loc", write.Location), ("$tags", StorageFormat.Serialize(write.Tags)), ("$spec", specJson), ("$secrets", write.SealedSecrets),
                ("$fp", write.Fingerprint), ("$exec", newExecutionId), ("$op", newOperationId), ("$now", StorageFormat.Timestamp(now)));
            await BumpGoalStateAsync(connection, transaction, vmKey, cancellationToken);
            topics.Add(Topics.Vm(write.Command.Vm));

            var record = await ReadRunCommandAsync(connection, transaction, write.Command.Key, cancellationToken);
            return new WriteOutcome(existing is null ? WriteOutcomeKind.Created : WriteOutcomeKind.Updated, record);
        }, cancellationToken);

        // Durable from here: the agent is woken only after the commit, so it never sees work that could vanish.
        Publish(topics);
        return outcome;
    }

    public async Task<RunCommandRecord?> GetRunCommandAsync(RunCommandKey command, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await ReadRunCommandAsync(connection, null, command.Key, cancellationToken);
    }

    public async Task<IReadOnlyList<RunCommandRecord>> ListRunCommandsAsync(VmKey vm, string? afterName, int pageSize, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null,
            RunCommandSelect + " WHERE r.vm_key = $vm AND ($after IS NULL OR r.sort_name > $after) ORDER BY r.sort_name LIMIT $take",
            ("$vm", vm.Key), ("$after", afterName?.ToLowerInvariant()), ("$take", pageSize));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var result = new List<RunCommandRecord>();
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(ReadRunCommand(reader));
        }

        return result;
    }

    public async Task<DeleteOutcome> DeleteRunCommandAsync(RunCommandKey command, string newOperationId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var topics = new List<string>();
        var outcome = await WriteAsync(async (connection, transaction) =>
        {
            var existing = await ReadRunCommandAsync(connection, transaction, command.Key, cancellationToken);
            if (existing is null)
            {
                return new DeleteOutcome(DeleteOutcomeKind.NotFound, null);
            }

            if (existing.Deleting)
            {
                // A second delete while the first waits for the agent joins the first.
                return new DeleteOutcome(DeleteOutcomeKind.Accepted, existing.OperationId);
            }

            await ExecuteAsync(connection, transaction,
                "INSERT INTO operations(id, kind, resource_id, created) VALUES($id, 'delete', $rid, $now)",
                cancellationToken, ("$id", newOperationId), ("$rid", existing.Command.ResourceId), ("$now", StorageFormat.Timestamp(now)));
            await ExecuteAsync(connection, transaction,
                "UPDATE run_commands SET deleting = 1, operation_id = $op WHERE key = $key",
                cancellationToken, ("$key", command.Key), ("$op", newOperationId));
            var stopped = await StopExecutionAsync(connection, transaction, existing.Execution, "Canceled: the run command was deleted", now, topics, cancellationToken);
            if (stopped)
            {
                await RemoveRunCommandAsync(connection, transaction, command.Key, newOperationId, now, cancellationToken);
            }
            else
            {
                // The agent learns of the cancel from its goal state: a new version wakes its long poll at once.
                await BumpGoalStateAsync(connection, transaction, command.Vm.Key, cancellationToken);
                topics.Add(Topics.Vm(command.Vm));
            }

            return new DeleteOutcome(DeleteOutcomeKind.Accepted, newOperationId);
        }, cancellationToken);
        Publish(topics);
        return outcome;
    }

    /// <summary>
    /// Stops an execution: one that never reached the agent is canceled here; one the agent has is flagged and the
    /// agent reports the end. Returns true when the execution is over now.
    /// </summary>
    private static async Task<bool> StopExecutionAsync(SqliteConnection connection, SqliteTransaction transaction, ExecutionRecord execution, string message, DateTimeOffset now, List<string> topics, CancellationToken cancellationToken)
    {
        if (execution.IsTerminal)
        {
            return true;
        }

        topics.Add(Topics.Execution(execution.ExecutionId));
        if (!execution.Delivered)
        {
            await ExecuteAsync(connection, transaction,
                "UPDATE executions SET state = 'Canceled', message = $msg, end_time = $now, secrets = NULL, cancel_requested = 1 WHERE id = $id",
                cancellationToken, ("$id", execution.ExecutionId), ("$msg", message + " before it reached the agent."), ("$now", StorageFormat.Timestamp(now)));
            return true;
        }

        await ExecuteAsync(connection, transaction,
            "UPDATE executions SET cancel_requested = 1, message = $msg WHERE id = $id",
            cancellationToken, ("$id", execution.ExecutionId), ("$msg", message + "; waiting for the agent to stop it."));
        return false;
    }

    private static async Task RemoveRunCommandAsync(SqliteConnection connection, SqliteTransaction transaction, string key, string operationId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await ExecuteAsync(connection, transaction, "DELETE FROM run_commands WHERE key = $key", cancellationToken, ("$key", key));
        await ExecuteAsync(connection, transaction, "UPDATE operations SET completed = $now WHERE id = $id", cancellationToken,
            ("$id", operationId), ("$now", StorageFormat.Timestamp(now)));
    }

    private const string RunCommandSelect = """
        SELECT r.name, r.location, r.tags, r.spec, r.secrets, r.fingerprint, r.operation_id, r.first_execution, r.deleting, r.created,
               e.id, e.state, e.exit_code, e.message, e.start_time, e.end_time, e.cancel_requested, e.delivered, e.stdout_len, e.stderr_len, e.created,
               v.subscription, v.resource_group, v.name, v.scale_set
        FROM run_commands r JOIN executions e ON e.id = r.execution_id JOIN vms v ON v.key = r.vm_key
        """;

    private static async Task<RunCommandRecord?> ReadRunCommandAsync(SqliteConnection connection, SqliteTransaction? transaction, string key, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, RunCommandSelect + " WHERE r.key = $key", ("$key", key));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadRunCommand(reader) : null;
    }

    private static RunCommandRecord ReadRunCommand(SqliteDataReader reader) => new()
    {
        Command = new RunCommandKey(new VmKey(reader.GetString(21), reader.GetString(22), reader.GetString(23), reader.IsDBNull(24) ? null : reader.GetString(24)), reader.GetString(0)),
        Location = reader.GetString(1),
        Tags = StorageFormat.DeserializeTags(reader.IsDBNull(2) ? null : reader.GetString(2)),
        Spec = StorageFormat.DeserializeSpec(reader.GetString(3)),
        SealedSecrets = reader.IsDBNull(4) ? null : (byte[])reader.GetValue(4),
        Fingerprint = reader.GetString(5),
        OperationId = reader.GetString(6),
        IsFirstExecution = reader.GetInt64(7) != 0,
        Deleting = reader.GetInt64(8) != 0,
        Created = StorageFormat.ParseTimestamp(reader.GetString(9)),
        Execution = ReadExecution(reader, 10),
    };

    private const string ExecutionColumns =
        "e.id, e.state, e.exit_code, e.message, e.start_time, e.end_time, e.cancel_requested, e.delivered, e.stdout_len, e.stderr_len, e.created";

    private static ExecutionRecord ReadExecution(SqliteDataReader reader, int first) => new()
    {
        ExecutionId = reader.GetString(first),
        State = reader.GetString(first + 1),
        ExitCode = reader.IsDBNull(first + 2) ? null : reader.GetInt32(first + 2),
        Message = reader.IsDBNull(first + 3) ? null : reader.GetString(first + 3),
        StartTime = reader.IsDBNull(first + 4) ? null : StorageFormat.ParseTimestamp(reader.GetString(first + 4)),
        EndTime = reader.IsDBNull(first + 5) ? null : StorageFormat.ParseTimestamp(reader.GetString(first + 5)),
        CancelRequested = reader.GetInt64(first + 6) != 0,
        Delivered = reader.GetInt64(first + 7) != 0,
        StdoutLength = reader.GetInt64(first + 8),
        StderrLength = reader.GetInt64(first + 9),
        Created = StorageFormat.ParseTimestamp(reader.GetString(first + 10)),
    };

    public async Task<OperationRecord?> GetOperationAsync(string operationId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null,
            "SELECT id, kind, resource_id, execution_id, created, completed FROM operations WHERE id = $id", ("$id", operationId));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return null;
        }

        return new OperationRecord
        {
            OperationId = reader.GetString(0),
            Kind = reader.GetString(1),
            ResourceId = reader.GetString(2),
            ExecutionId = reader.IsDBNull(3) ? null : reader.GetString(3),
            Created = StorageFormat.ParseTimestamp(reader.GetString(4)),
            Completed = reader.IsDBNull(5) ? null : StorageFormat.ParseTimestamp(reader.GetString(5)),
        };
    }

    public async Task<ExecutionRecord?> GetExecutionAsync(string executionId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await ReadExecutionAsync(connection, null, executionId, cancellationToken);
    }

    private static async Task<ExecutionRecord?> ReadExecutionAsync(SqliteConnection connection, SqliteTransaction? transaction, string executionId, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction, $"SELECT {ExecutionColumns} FROM executions e WHERE e.id = $id", ("$id", executionId));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadExecution(reader, 0) : null;
    }

    public async Task<bool> StartActionRunAsync(ActionRunWrite write, string newExecutionId, string newOperationId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var vmKey = write.Vm.Key;
        var commandId = new RunCommandKey(write.Vm, write.RunCommandName).ResourceId;
        var started = await WriteAsync(async (connection, transaction) =>
        {
            if (await ReadVmAsync(connection, transaction, vmKey, cancellationToken) is null)
            {
                return false;
            }

            await ExecuteAsync(connection, transaction, """
                INSERT INTO executions(id, vm_key, command_resource_id, spec, state, created)
                VALUES($id, $vm, $rid, $spec, 'Pending', $now)
                """, cancellationToken,
                ("$id", newExecutionId), ("$vm", vmKey), ("$rid", commandId), ("$spec", StorageFormat.Serialize(write.Spec)), ("$now", StorageFormat.Timestamp(now)));
            await ExecuteAsync(connection, transaction,
                "INSERT INTO operations(id, kind, resource_id, execution_id, created) VALUES($id, 'action', $rid, $exec, $now)",
                cancellationToken, ("$id", newOperationId), ("$rid", commandId), ("$exec", newExecutionId), ("$now", StorageFormat.Timestamp(now)));
            await BumpGoalStateAsync(connection, transaction, vmKey, cancellationToken);
            return true;
        }, cancellationToken);

        // Durable from here: wake the agent only after the commit.
        if (started)
        {
            Publish([Topics.Vm(write.Vm)]);
        }

        return started;
    }

    // ---------------------------------------------------------------- command documents

    public async Task<bool> PutCommandDocumentAsync(RunCommandDocument document, DateTimeOffset now, CancellationToken cancellationToken)
    {
        return await WriteAsync(async (connection, transaction) =>
        {
            var key = document.Id.ToLowerInvariant();
            var exists = await ScalarAsync(connection, transaction, "SELECT 1 FROM command_documents WHERE key = $key", cancellationToken, ("$key", key)) is not null;
            await ExecuteAsync(connection, transaction, """
                INSERT INTO command_documents(key, document, created, updated) VALUES($key, $doc, $now, $now)
                ON CONFLICT(key) DO UPDATE SET document = excluded.document, updated = excluded.updated
                """, cancellationToken, ("$key", key), ("$doc", StorageFormat.Serialize(document)), ("$now", StorageFormat.Timestamp(now)));
            return !exists;
        }, cancellationToken);
    }

    public async Task<CommandDocumentRecord?> GetCommandDocumentAsync(string commandId, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, "SELECT document, created, updated FROM command_documents WHERE key = $key", ("$key", commandId.ToLowerInvariant()));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadDocument(reader) : null;
    }

    public async Task<IReadOnlyList<CommandDocumentRecord>> ListCommandDocumentsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, "SELECT document, created, updated FROM command_documents ORDER BY key");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var result = new List<CommandDocumentRecord>();
        while (await reader.ReadAsync(cancellationToken))
        {
            result.Add(ReadDocument(reader));
        }

        return result;
    }

    public async Task<bool> DeleteCommandDocumentAsync(string commandId, CancellationToken cancellationToken)
    {
        return await WriteAsync(async (connection, transaction) =>
        {
            await using var command = Command(connection, transaction, "DELETE FROM command_documents WHERE key = $key", ("$key", commandId.ToLowerInvariant()));
            return await command.ExecuteNonQueryAsync(cancellationToken) > 0;
        }, cancellationToken);
    }

    private static CommandDocumentRecord ReadDocument(SqliteDataReader reader) => new()
    {
        Document = StorageFormat.DeserializeDocument(reader.GetString(0)),
        Created = StorageFormat.ParseTimestamp(reader.GetString(1)),
        Updated = StorageFormat.ParseTimestamp(reader.GetString(2)),
    };

    // ---------------------------------------------------------------- agent protocol

    public async Task<long> GetGoalStateVersionAsync(VmKey vm, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return (long)(await ScalarAsync(connection, null, "SELECT goal_version FROM vms WHERE key = $key", cancellationToken, ("$key", vm.Key)) ?? 0L);
    }

    public async Task<(long Version, IReadOnlyList<PendingWork> Work)> LeaseGoalStateAsync(VmKey vm, CancellationToken cancellationToken)
    {
        // Most polls find everything delivered already: a plain read, no write lock.
        await using (var connection = await OpenAsync(cancellationToken))
        {
            using var snapshot = connection.BeginTransaction(deferred: true);
            var read = await ReadGoalStateAsync(connection, snapshot, vm, cancellationToken);
            if (read.Work.All(w => w.Execution.Delivered))
            {
                return read;
            }
        }

        return await WriteAsync(async (connection, transaction) =>
        {
            // Checkpoint: once delivered, a delete can no longer cancel an execution on the server alone; it must ask
            // the agent. Marked in the same transaction as the read, so the answer and the mark agree.
            await ExecuteAsync(connection, transaction, "UPDATE executions SET delivered = 1 WHERE vm_key = $vm AND state = 'Pending' AND delivered = 0",
                cancellationToken, ("$vm", vm.Key));
            return await ReadGoalStateAsync(connection, transaction, vm, cancellationToken);
        }, cancellationToken);
    }

    private static async Task<(long Version, IReadOnlyList<PendingWork> Work)> ReadGoalStateAsync(SqliteConnection connection, SqliteTransaction transaction, VmKey vm, CancellationToken cancellationToken)
    {
        var version = (long)(await ScalarAsync(connection, transaction, "SELECT goal_version FROM vms WHERE key = $key", cancellationToken, ("$key", vm.Key)) ?? 0L);
        await using var command = Command(connection, transaction,
            $"SELECT {ExecutionColumns}, e.command_resource_id, e.spec, e.secrets FROM executions e WHERE e.vm_key = $vm AND e.state IN ('Pending', 'Running') ORDER BY e.created",
            ("$vm", vm.Key));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var work = new List<PendingWork>();
        while (await reader.ReadAsync(cancellationToken))
        {
            work.Add(new PendingWork
            {
                Execution = ReadExecution(reader, 0),
                Command = StorageFormat.ParseRunCommandId(reader.GetString(11)),
                Spec = StorageFormat.DeserializeSpec(reader.GetString(12)),
                SealedSecrets = reader.IsDBNull(13) ? null : (byte[])reader.GetValue(13),
            });
        }

        return (version, work);
    }

    public async Task<ReportOutcome?> RecordReportAsync(VmKey vm, ReportWrite report, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var topics = new List<string>();
        var outcome = await WriteAsync(async (connection, transaction) =>
        {
            var owner = await ScalarAsync(connection, transaction, "SELECT vm_key FROM executions WHERE id = $id", cancellationToken, ("$id", report.ExecutionId)) as string;
            if (owner != vm.Key)
            {
                return null;
            }

            var execution = (await ReadExecutionAsync(connection, transaction, report.ExecutionId, cancellationToken))!;
            var stdoutLength = await AppendAsync(connection, transaction, execution.ExecutionId, OutputStream.Stdout, execution.StdoutLength, report.StdoutOffset, report.StdoutData, cancellationToken);
            var stderrLength = await AppendAsync(connection, transaction, execution.ExecutionId, OutputStream.Stderr, execution.StderrLength, report.StderrOffset, report.StderrData, cancellationToken);
            var changed = stdoutLength != execution.StdoutLength || stderrLength != execution.StderrLength;

            if (!execution.IsTerminal && report.State != execution.State && IsForward(execution.State, report.State))
            {
                var terminal = ExecutionStates.IsTerminal(report.State);
                await ExecuteAsync(connection, transaction, """
                    UPDATE executions SET state = $state, exit_code = $code, message = $msg,
                        start_time = coalesce(start_time, $start), end_time = $end, delivered = 1,
                        secrets = CASE WHEN $terminal THEN NULL ELSE secrets END
                    WHERE id = $id
                    """, cancellationToken,
                    ("$id", execution.ExecutionId), ("$state", report.State), ("$code", report.ExitCode), ("$msg", report.Message),
                    ("$start", report.StartTime is { } s ? StorageFormat.Timestamp(s) : terminal ? StorageFormat.Timestamp(now) : null),
                    ("$end", terminal ? StorageFormat.Timestamp(report.EndTime ?? now) : null), ("$terminal", terminal));
                changed = true;
                if (terminal)
                {
                    // The goal state no longer lists it, but the version stays: the agent reported the end itself
                    // and has nothing to do about it, so its poll is not woken on every script's latency path.
                    await CompleteDeleteAsync(connection, transaction, execution.ExecutionId, now, cancellationToken);
                }
            }

            if (changed)
            {
                await ExecuteAsync(connection, transaction, "UPDATE executions SET stdout_len = $o, stderr_len = $e WHERE id = $id", cancellationToken,
                    ("$id", execution.ExecutionId), ("$o", stdoutLength), ("$e", stderrLength));
                topics.Add(Topics.Execution(execution.ExecutionId));
            }

            var after = (await ReadExecutionAsync(connection, transaction, execution.ExecutionId, cancellationToken))!;
            return new ReportOutcome(after.StdoutLength, after.StderrLength, after.CancelRequested && !after.IsTerminal, after.IsTerminal);
        }, cancellationToken);
        Publish(topics);
        return outcome;
    }

    private static bool IsForward(string from, string to) =>
        (from, to) switch
        {
            (ExecutionStates.Pending, _) => to != ExecutionStates.Pending,
            (ExecutionStates.Running, _) => ExecutionStates.IsTerminal(to),
            _ => false,
        };

    /// <summary>When the execution of a run command being deleted has ended, the resource goes away.</summary>
    private static async Task CompleteDeleteAsync(SqliteConnection connection, SqliteTransaction transaction, string executionId, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var command = Command(connection, transaction,
            "SELECT key, operation_id FROM run_commands WHERE execution_id = $id AND deleting = 1", ("$id", executionId));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (await reader.ReadAsync(cancellationToken))
        {
            var key = reader.GetString(0);
            var operationId = reader.GetString(1);
            await reader.DisposeAsync();
            await RemoveRunCommandAsync(connection, transaction, key, operationId, now, cancellationToken);
        }
    }

    /// <summary>Appends the part of a chunk past what is held; a chunk starting beyond the end is refused (the ack tells where to resume).</summary>
    private static async Task<long> AppendAsync(SqliteConnection connection, SqliteTransaction transaction, string executionId, OutputStream stream, long held, long? offset, byte[]? data, CancellationToken cancellationToken)
    {
        if (offset is not { } start || data is not { Length: > 0 } || start > held || start + data.Length <= held)
        {
            return held;
        }

        var skip = (int)(held - start);
        var fresh = skip == 0 ? data : data.AsSpan(skip).ToArray();
        await ExecuteAsync(connection, transaction,
            "INSERT INTO output(execution_id, stream, start_offset, end_offset, data) VALUES($id, $s, $start, $end, $data)",
            cancellationToken, ("$id", executionId), ("$s", (int)stream), ("$start", held), ("$end", held + fresh.Length), ("$data", fresh));
        return held + fresh.Length;
    }

    public async Task<bool> CancelExecutionAsync(string executionId, string message, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var topics = new List<string>();
        var canceled = await WriteAsync(async (connection, transaction) =>
        {
            var execution = await ReadExecutionAsync(connection, transaction, executionId, cancellationToken);
            if (execution is null || execution.IsTerminal)
            {
                return false;
            }

            var vmKey = (string)(await ScalarAsync(connection, transaction, "SELECT vm_key FROM executions WHERE id = $id", cancellationToken, ("$id", executionId)))!;
            if (!await StopExecutionAsync(connection, transaction, execution, message, now, topics, cancellationToken))
            {
                // The agent learns of the cancel from its goal state.
                await BumpGoalStateAsync(connection, transaction, vmKey, cancellationToken);
                topics.Add("vm:" + vmKey);
            }

            return true;
        }, cancellationToken);
        Publish(topics);
        return canceled;
    }

    public async Task<byte[]> ReadOutputAsync(string executionId, OutputStream stream, long offset, int maxBytes, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = Command(connection, null, """
            SELECT start_offset, data FROM output
            WHERE execution_id = $id AND stream = $s AND end_offset > $from AND start_offset < $to
            ORDER BY start_offset
            """, ("$id", executionId), ("$s", (int)stream), ("$from", offset), ("$to", offset + maxBytes));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        using var buffer = new MemoryStream();
        while (await reader.ReadAsync(cancellationToken))
        {
            var start = reader.GetInt64(0);
            var data = (byte[])reader.GetValue(1);
            var from = (int)Math.Max(0, offset - start);
            var take = (int)Math.Min(data.Length - from, offset + maxBytes - (start + from));
            buffer.Write(data, from, take);
        }

        return buffer.ToArray();
    }

    // ---------------------------------------------------------------- deployments

    public async Task<DeploymentPutOutcome> PutDeploymentAsync(DeploymentWrite write, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var key = write.Deployment.Key;
        var outcome = await WriteAsync(async (connection, transaction) =>
        {
            var state = await ScalarAsync(connection, transaction, "SELECT state FROM deployments WHERE key = $key", cancellationToken, ("$key", key)) as string;
            if (state is not null && !DeploymentStates.IsTerminal(state))
            {
                return DeploymentPutOutcome.Active;
            }

            await ExecuteAsync(connection, transaction, "DELETE FROM deployment_operations WHERE deployment_key = $key", cancellationToken, ("$key", key));
            await ExecuteAsync(connection, transaction, """
                INSERT INTO deployments(key, subscription, resource_group, name, deployment_id, state, created, ended, error)
                VALUES($key, $sub, $rg, $name, $id, $state, $now, NULL, NULL)
                ON CONFLICT(key) DO UPDATE SET name = excluded.name, deployment_id = excluded.deployment_id, state = excluded.state,
                    created = excluded.created, ended = NULL, error = NULL
                """, cancellationToken,
                ("$key", key), ("$sub", write.Deployment.SubscriptionId), ("$rg", write.Deployment.ResourceGroup), ("$name", write.Deployment.Name),
                ("$id", write.DeploymentId), ("$state", DeploymentStates.Accepted), ("$now", StorageFormat.Timestamp(now)));
            foreach (var operation in write.Operations)
            {
                await ExecuteAsync(connection, transaction, """
                    INSERT INTO deployment_operations(deployment_key, idx, operation_id, resource_id, resource_name, resource_type, depends_on, body)
                    VALUES($key, $idx, $op, $rid, $rname, $rtype, $deps, $body)
                    """, cancellationToken,
                    ("$key", key), ("$idx", operation.Index), ("$op", operation.OperationId), ("$rid", operation.ResourceId), ("$rname", operation.ResourceName),
                    ("$rtype", operation.ResourceType), ("$deps", StorageFormat.Serialize(operation.DependsOn)), ("$body", operation.SealedBody));
            }

            return state is null ? DeploymentPutOutcome.Created : DeploymentPutOutcome.Replaced;
        }, cancellationToken);
        if (outcome != DeploymentPutOutcome.Active)
        {
            _changes.Publish(Topics.Deployment(write.Deployment));
        }

        return outcome;
    }

    public async Task<DeploymentRecord?> GetDeploymentAsync(DeploymentKey deployment, CancellationToken cancellationToken) =>
        (await ReadDeploymentsAsync("WHERE key = $key", cancellationToken, ("$key", deployment.Key))).FirstOrDefault();

    public async Task<IReadOnlyList<DeploymentRecord>> ListDeploymentsAsync(string subscriptionId, string resourceGroup, CancellationToken cancellationToken) =>
        await ReadDeploymentsAsync("WHERE lower(subscription) = lower($sub) AND lower(resource_group) = lower($rg) ORDER BY lower(name)", cancellationToken,
            ("$sub", subscriptionId), ("$rg", resourceGroup));

    public async Task<IReadOnlyList<DeploymentRecord>> ListUnfinishedDeploymentsAsync(CancellationToken cancellationToken) =>
        await ReadDeploymentsAsync($"WHERE state IN ('{DeploymentStates.Accepted}', '{DeploymentStates.Running}') ORDER BY created", cancellationToken);

    public async Task<bool> RecordDeploymentOperationStartedAsync(DeploymentKey deployment, string deploymentId, int index, string executionId, string statusCode, DateTimeOffset now, CancellationToken cancellationToken) =>
        await UpdateDeploymentAsync(deployment, deploymentId, async (connection, transaction, key) =>
        {
            var stamp = StorageFormat.Timestamp(now);
            await ExecuteAsync(connection, transaction, """
                UPDATE deployment_operations SET state = $state, execution_id = $exec, status_code = $code, started = $now
                WHERE deployment_key = $key AND idx = $idx
                """, cancellationToken,
                ("$state", DeploymentStates.Running), ("$exec", executionId), ("$code", statusCode), ("$now", stamp), ("$key", key), ("$idx", index));
            await ExecuteAsync(connection, transaction, "UPDATE deployments SET state = $state WHERE key = $key", cancellationToken,
                ("$state", DeploymentStates.Running), ("$key", key));
        }, cancellationToken);

    public async Task<bool> RecordDeploymentOperationEndedAsync(DeploymentKey deployment, string deploymentId, int index, string state, string statusCode, ArmError? error, DateTimeOffset now, CancellationToken cancellationToken) =>
        await UpdateDeploymentAsync(deployment, deploymentId, async (connection, transaction, key) =>
        {
            var stamp = StorageFormat.Timestamp(now);
            await ExecuteAsync(connection, transaction, """
                UPDATE deployment_operations SET state = $state, status_code = $code, error = $error, started = coalesce(started, $now), ended = $now
                WHERE deployment_key = $key AND idx = $idx
                """, cancellationToken,
                ("$state", state), ("$code", statusCode), ("$error", StorageFormat.Serialize(error)), ("$now", stamp), ("$key", key), ("$idx", index));
            await ExecuteAsync(connection, transaction, "UPDATE deployments SET state = $state WHERE key = $key", cancellationToken,
                ("$state", DeploymentStates.Running), ("$key", key));
        }, cancellationToken);

    public async Task<bool> FinishDeploymentAsync(DeploymentKey deployment, string deploymentId, string state, ArmError? error, DateTimeOffset now, CancellationToken cancellationToken) =>
        await UpdateDeploymentAsync(deployment, deploymentId, async (connection, transaction, key) =>
            await ExecuteAsync(connection, transaction, "UPDATE deployments SET state = $state, ended = $now, error = $error WHERE key = $key", cancellationToken,
                ("$state", state), ("$now", StorageFormat.Timestamp(now)), ("$error", StorageFormat.Serialize(error)), ("$key", key)),
            cancellationToken);

    public async Task<bool> DeleteDeploymentAsync(DeploymentKey deployment, CancellationToken cancellationToken)
    {
        var deleted = await WriteAsync(async (connection, transaction) =>
        {
            await ExecuteAsync(connection, transaction, "DELETE FROM deployment_operations WHERE deployment_key = $key", cancellationToken, ("$key", deployment.Key));
            await using var command = Command(connection, transaction, "DELETE FROM deployments WHERE key = $key", ("$key", deployment.Key));
            return await command.ExecuteNonQueryAsync(cancellationToken) > 0;
        }, cancellationToken);
        if (deleted)
        {
            _changes.Publish(Topics.Deployment(deployment));
        }

        return deleted;
    }

    /// <summary>Runs an update of one run of a deployment when it is still that run and not finished; publishes the change.</summary>
    private async Task<bool> UpdateDeploymentAsync(DeploymentKey deployment, string deploymentId, Func<SqliteConnection, SqliteTransaction, string, Task> update, CancellationToken cancellationToken)
    {
        var key = deployment.Key;
        var updated = await WriteAsync(async (connection, transaction) =>
        {
            await using (var check = Command(connection, transaction, "SELECT deployment_id, state FROM deployments WHERE key = $key", ("$key", key)))
            await using (var reader = await check.ExecuteReaderAsync(cancellationToken))
            {
                if (!await reader.ReadAsync(cancellationToken) || reader.GetString(0) != deploymentId || DeploymentStates.IsTerminal(reader.GetString(1)))
                {
                    return false;
                }
            }

            await update(connection, transaction, key);
            return true;
        }, cancellationToken);
        if (updated)
        {
            _changes.Publish(Topics.Deployment(deployment));
        }

        return updated;
    }

    private async Task<IReadOnlyList<DeploymentRecord>> ReadDeploymentsAsync(string where, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var transaction = connection.BeginTransaction(deferred: true);
        var deployments = new List<(string Key, DeploymentRecord Record)>();
        await using (var command = Command(connection, transaction,
            $"SELECT key, subscription, resource_group, name, deployment_id, state, created, ended, error FROM deployments {where}", parameters))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                deployments.Add((reader.GetString(0), new DeploymentRecord
                {
                    Deployment = new DeploymentKey(reader.GetString(1), reader.GetString(2), reader.GetString(3)),
                    DeploymentId = reader.GetString(4),
                    State = reader.GetString(5),
                    Created = StorageFormat.ParseTimestamp(reader.GetString(6)),
                    Ended = reader.IsDBNull(7) ? null : StorageFormat.ParseTimestamp(reader.GetString(7)),
                    Error = StorageFormat.DeserializeError(reader.IsDBNull(8) ? null : reader.GetString(8)),
                    Operations = [],
                }));
            }
        }

        var result = new List<DeploymentRecord>();
        foreach (var (key, record) in deployments)
        {
            var operations = new List<DeploymentOperationRecord>();
            await using var command = Command(connection, transaction, """
                SELECT idx, operation_id, resource_id, resource_name, resource_type, depends_on, body, state, execution_id, status_code, error, started, ended
                FROM deployment_operations WHERE deployment_key = $key ORDER BY idx
                """, ("$key", key));
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                operations.Add(new DeploymentOperationRecord
                {
                    Plan = new DeploymentOperationPlan
                    {
                        Index = reader.GetInt32(0),
                        OperationId = reader.GetString(1),
                        ResourceId = reader.GetString(2),
                        ResourceName = reader.GetString(3),
                        ResourceType = reader.GetString(4),
                        DependsOn = StorageFormat.DeserializeIndexes(reader.GetString(5)),
                        SealedBody = (byte[])reader.GetValue(6),
                    },
                    State = reader.IsDBNull(7) ? null : reader.GetString(7),
                    ExecutionId = reader.IsDBNull(8) ? null : reader.GetString(8),
                    StatusCode = reader.IsDBNull(9) ? null : reader.GetString(9),
                    Error = StorageFormat.DeserializeError(reader.IsDBNull(10) ? null : reader.GetString(10)),
                    Started = reader.IsDBNull(11) ? null : StorageFormat.ParseTimestamp(reader.GetString(11)),
                    Ended = reader.IsDBNull(12) ? null : StorageFormat.ParseTimestamp(reader.GetString(12)),
                });
            }

            result.Add(record with { Operations = operations });
        }

        return result;
    }

    // ---------------------------------------------------------------- fleet runs

    public async Task<FleetCreateOutcome> CreateFleetRunAsync(FleetRunRecord run, CancellationToken cancellationToken)
    {
        var outcome = await WriteAsync(async (connection, transaction) =>
        {
            if (await ScalarAsync(connection, transaction, "SELECT 1 FROM fleet_runs WHERE key = $key", cancellationToken, ("$key", run.Run.Key)) is not null)
            {
                return FleetCreateOutcome.Exists;
            }

            // The run and its target snapshot are one transaction: the orchestrator never sees a run with part of its targets.
            await ExecuteAsync(connection, transaction, """
                INSERT INTO fleet_runs(key, subscription, resource_group, name, sort_name, location, definition, secrets, state, created)
                VALUES($key, $sub, $rg, $name, $sort, $loc, $def, $secrets, $state, $now)
                """, cancellationToken,
                ("$key", run.Run.Key), ("$sub", run.Run.SubscriptionId), ("$rg", run.Run.ResourceGroup), ("$name", run.Run.Name),
                ("$sort", run.Run.Name.ToLowerInvariant()), ("$loc", run.Location), ("$def", StorageFormat.Serialize(run.Definition)),
                ("$secrets", run.SealedSecrets), ("$state", run.State), ("$now", StorageFormat.Timestamp(run.Created)));
            foreach (var target in run.Targets)
            {
                await ExecuteAsync(connection, transaction,
                    "INSERT INTO fleet_targets(run_key, ordinal, machine_id, not_started, message) VALUES($run, $ord, $machine, $ns, $msg)",
                    cancellationToken, ("$run", run.Run.Key), ("$ord", target.Ordinal), ("$machine", target.Machine.ResourceId),
                    ("$ns", target.NotStarted), ("$msg", target.Message));
            }

            return FleetCreateOutcome.Created;
        }, cancellationToken);

        // Durable from here: the orchestrator is woken only after the commit.
        if (outcome == FleetCreateOutcome.Created)
        {
            _changes.Publish(Topics.Fleets);
        }

        return outcome;
    }

    public async Task<FleetRunRecord?> GetFleetRunAsync(FleetRunKey run, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return (await ReadFleetRunsAsync(connection, FleetRunSelect + " WHERE key = $key", cancellationToken, ("$key", run.Key))).SingleOrDefault();
    }

    public async Task<IReadOnlyList<FleetRunRecord>> ListFleetRunsAsync(string subscriptionId, string resourceGroup, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await ReadFleetRunsAsync(connection,
            FleetRunSelect + " WHERE lower(subscription) = lower($sub) AND lower(resource_group) = lower($rg) ORDER BY sort_name",
            cancellationToken, ("$sub", subscriptionId), ("$rg", resourceGroup));
    }

    public async Task<IReadOnlyList<FleetRunRecord>> ListActiveFleetRunsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken);
        return await ReadFleetRunsAsync(connection, FleetRunSelect + " WHERE state = 'Running' ORDER BY created", cancellationToken);
    }

    public async Task RecordFleetTargetStartAsync(FleetRunKey run, int ordinal, string? executionId, string? failureMessage, CancellationToken cancellationToken)
    {
        await WriteAsync(async (connection, transaction) =>
        {
            await ExecuteAsync(connection, transaction,
                "UPDATE fleet_targets SET execution_id = $exec, start_failed = $failed, message = $msg WHERE run_key = $run AND ordinal = $ord",
                cancellationToken, ("$run", run.Key), ("$ord", ordinal), ("$exec", executionId), ("$failed", executionId is null), ("$msg", failureMessage));
            return true;
        }, cancellationToken);

        // Watchers of the run (a CLI following it) learn of the new target at once.
        _changes.Publish(Topics.Fleet(run));
    }

    public async Task SkipUnstartedFleetTargetsAsync(FleetRunKey run, string message, CancellationToken cancellationToken)
    {
        await WriteAsync(async (connection, transaction) =>
        {
            await ExecuteAsync(connection, transaction,
                "UPDATE fleet_targets SET not_started = 1, message = $msg WHERE run_key = $run AND execution_id IS NULL AND start_failed = 0 AND not_started = 0",
                cancellationToken, ("$run", run.Key), ("$msg", message));
            return true;
        }, cancellationToken);
        _changes.Publish(Topics.Fleet(run));
    }

    public async Task CompleteFleetRunAsync(FleetRunKey run, string state, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await WriteAsync(async (connection, transaction) =>
        {
            // The secrets are no longer needed once no target can start.
            await ExecuteAsync(connection, transaction,
                "UPDATE fleet_runs SET state = $state, completed = $now, secrets = NULL WHERE key = $key AND state = 'Running'",
                cancellationToken, ("$key", run.Key), ("$state", state), ("$now", StorageFormat.Timestamp(now)));
            return true;
        }, cancellationToken);
        _changes.Publish(Topics.Fleet(run));
    }

    public async Task<bool> RequestFleetRunCancelAsync(FleetRunKey run, CancellationToken cancellationToken)
    {
        var found = await WriteAsync(async (connection, transaction) =>
        {
            await using var command = Command(connection, transaction, "UPDATE fleet_runs SET cancel_requested = 1 WHERE key = $key AND state = 'Running'", ("$key", run.Key));
            await command.ExecuteNonQueryAsync(cancellationToken);
            return await ScalarAsync(connection, transaction, "SELECT 1 FROM fleet_runs WHERE key = $key", cancellationToken, ("$key", run.Key)) is not null;
        }, cancellationToken);
        if (found)
        {
            _changes.Publish(Topics.Fleets);
        }

        return found;
    }

    private const string FleetRunSelect =
        "SELECT key, subscription, resource_group, name, location, definition, secrets, state, cancel_requested, created, completed FROM fleet_runs";

    private static async Task<IReadOnlyList<FleetRunRecord>> ReadFleetRunsAsync(SqliteConnection connection, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        var runs = new List<(string Key, FleetRunRecord Run)>();
        await using (var command = Command(connection, null, sql, parameters))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                runs.Add((reader.GetString(0), new FleetRunRecord
                {
                    Run = new FleetRunKey(reader.GetString(1), reader.GetString(2), reader.GetString(3)),
                    Location = reader.GetString(4),
                    Definition = StorageFormat.DeserializeFleetDefinition(reader.GetString(5)),
                    SealedSecrets = reader.IsDBNull(6) ? null : (byte[])reader.GetValue(6),
                    State = reader.GetString(7),
                    CancelRequested = reader.GetInt64(8) != 0,
                    Created = StorageFormat.ParseTimestamp(reader.GetString(9)),
                    Completed = reader.IsDBNull(10) ? null : StorageFormat.ParseTimestamp(reader.GetString(10)),
                    Targets = [],
                }));
            }
        }

        var result = new List<FleetRunRecord>();
        foreach (var (key, run) in runs)
        {
            var targets = new List<FleetTargetRecord>();
            await using var command = Command(connection, null,
                "SELECT ordinal, machine_id, execution_id, not_started, start_failed, message FROM fleet_targets WHERE run_key = $run ORDER BY ordinal", ("$run", key));
            await using var reader = await command.ExecuteReaderAsync(cancellationToken);
            while (await reader.ReadAsync(cancellationToken))
            {
                targets.Add(new FleetTargetRecord
                {
                    Ordinal = reader.GetInt32(0),
                    Machine = StorageFormat.ParseMachineId(reader.GetString(1)) ?? throw new InvalidDataException($"Stored fleet target is not a machine id: '{reader.GetString(1)}'."),
                    ExecutionId = reader.IsDBNull(2) ? null : reader.GetString(2),
                    NotStarted = reader.GetInt64(3) != 0,
                    StartFailed = reader.GetInt64(4) != 0,
                    Message = reader.IsDBNull(5) ? null : reader.GetString(5),
                });
            }

            result.Add(run with { Targets = targets });
        }

        return result;
    }

    // ---------------------------------------------------------------- plumbing

    private static async Task BumpGoalStateAsync(SqliteConnection connection, SqliteTransaction transaction, string vmKey, CancellationToken cancellationToken) =>
        await ExecuteAsync(connection, transaction, "UPDATE vms SET goal_version = goal_version + 1 WHERE key = $key", cancellationToken, ("$key", vmKey));

    private void Publish(List<string> topics)
    {
        foreach (var topic in topics.Distinct(StringComparer.Ordinal))
        {
            _changes.Publish(topic);
        }
    }

    private async Task<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync(cancellationToken);
        await using var pragma = connection.CreateCommand();
        pragma.CommandText = _pragmas;
        await pragma.ExecuteNonQueryAsync(cancellationToken);
        return connection;
    }

    /// <summary>Runs <paramref name="work"/> in one IMMEDIATE transaction; commits when it returns, rolls back when it throws.</summary>
    private async Task<T> WriteAsync<T>(Func<SqliteConnection, SqliteTransaction, Task<T>> work, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            await using var connection = await OpenAsync(cancellationToken);
            await using var transaction = connection.BeginTransaction(deferred: false);
            var result = await work(connection, transaction);
            await transaction.CommitAsync(CancellationToken.None);
            return result;
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private static SqliteCommand Command(SqliteConnection connection, SqliteTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        }

        return command;
    }

    private static async Task ExecuteAsync(SqliteConnection connection, SqliteTransaction? transaction, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(connection, transaction, sql, parameters);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task<object?> ScalarAsync(SqliteConnection connection, SqliteTransaction? transaction, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = Command(connection, transaction, sql, parameters);
        var value = await command.ExecuteScalarAsync(cancellationToken);
        return value is DBNull ? null : value;
    }
}
