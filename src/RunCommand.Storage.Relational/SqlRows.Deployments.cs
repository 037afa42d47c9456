namespace RunCommand.Storage.Relational;

/// <summary>Rows of <c>deployments</c> and <c>deployment_operations</c>.</summary>
public sealed partial class SqlRows
{
    public async Task<DeploymentRecord?> GetDeploymentAsync(DeploymentKey deployment, CancellationToken cancellationToken) =>
        (await ReadDeploymentsAsync("WHERE key = @key", cancellationToken, ("@key", deployment.Key))).FirstOrDefault();

    public async Task<IReadOnlyList<DeploymentRecord>> ListDeploymentsAsync(DeploymentQuery query, CancellationToken cancellationToken) =>
        query.UnfinishedOnly
            ? await ReadDeploymentsAsync("WHERE state IN ('Accepted', 'Running') ORDER BY created, key", cancellationToken)
            : await ReadDeploymentsAsync("WHERE lower(subscription) = lower(@sub) AND lower(resource_group) = lower(@rg) ORDER BY lower(name)", cancellationToken,
                ("@sub", query.SubscriptionId), ("@rg", query.ResourceGroup));

    public async Task SaveDeploymentAsync(DeploymentRecord deployment, CancellationToken cancellationToken) =>
        await ExecuteAsync("""
            INSERT INTO deployments(key, subscription, resource_group, name, deployment_id, state, created, ended, error)
            VALUES(@key, @sub, @rg, @name, @id, @state, @created, @ended, @error)
            ON CONFLICT(key) DO UPDATE SET name = excluded.name, deployment_id = excluded.deployment_id, state = excluded.state,
                created = excluded.created, ended = excluded.ended, error = excluded.error
            """, cancellationToken,
            ("@key", deployment.Deployment.Key), ("@sub", deployment.Deployment.SubscriptionId), ("@rg", deployment.Deployment.ResourceGroup),
            ("@name", deployment.Deployment.Name), ("@id", deployment.DeploymentId), ("@state", deployment.State.ToString()), ("@created", Time(deployment.Created)),
            ("@ended", Time(deployment.Ended)), ("@error", StorageFormat.Serialize(deployment.Error)));

    public async Task SaveDeploymentOperationAsync(DeploymentKey deployment, DeploymentOperationRecord operation, CancellationToken cancellationToken) =>
        await ExecuteAsync("""
            INSERT INTO deployment_operations(deployment_key, idx, operation_id, resource_id, resource_name, resource_type, depends_on, body, state, execution_id, status_code, error, started, ended)
            VALUES(@key, @idx, @op, @rid, @rname, @rtype, @deps, @body, @state, @exec, @code, @error, @started, @ended)
            ON CONFLICT(deployment_key, idx) DO UPDATE SET operation_id = excluded.operation_id, resource_id = excluded.resource_id,
                resource_name = excluded.resource_name, resource_type = excluded.resource_type, depends_on = excluded.depends_on, body = excluded.body,
                state = excluded.state, execution_id = excluded.execution_id, status_code = excluded.status_code, error = excluded.error,
                started = excluded.started, ended = excluded.ended
            """, cancellationToken,
            ("@key", deployment.Key), ("@idx", operation.Plan.Index), ("@op", operation.Plan.OperationId), ("@rid", operation.Plan.ResourceId),
            ("@rname", operation.Plan.ResourceName), ("@rtype", operation.Plan.ResourceType), ("@deps", StorageFormat.Serialize(operation.Plan.DependsOn)),
            ("@body", operation.Plan.SealedBody), ("@state", operation.State?.ToString()), ("@exec", operation.ExecutionId), ("@code", operation.StatusCode),
            ("@error", StorageFormat.Serialize(operation.Error)), ("@started", Time(operation.Started)), ("@ended", Time(operation.Ended)));

    public async Task<bool> DeleteDeploymentAsync(DeploymentKey deployment, CancellationToken cancellationToken)
    {
        await ExecuteAsync("DELETE FROM deployment_operations WHERE deployment_key = @key", cancellationToken, ("@key", deployment.Key));
        return await ExecuteAsync("DELETE FROM deployments WHERE key = @key", cancellationToken, ("@key", deployment.Key)) > 0;
    }

    private async Task<IReadOnlyList<DeploymentRecord>> ReadDeploymentsAsync(string where, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        var deployments = await QueryAsync($"SELECT key, subscription, resource_group, name, deployment_id, state, created, ended, error FROM deployments {where}",
            reader => (Key: reader.GetString(0), Record: new DeploymentRecord
            {
                Deployment = new DeploymentKey(reader.GetString(1), reader.GetString(2), reader.GetString(3)),
                DeploymentId = reader.GetString(4),
                State = Enum<DeploymentState>(reader, 5),
                Created = Time(reader, 6),
                Ended = TimeOrNull(reader, 7),
                Error = StorageFormat.DeserializeError(Text(reader, 8)),
                Operations = [],
            }), cancellationToken, parameters);

        var result = new List<DeploymentRecord>(deployments.Count);
        foreach (var (key, record) in deployments)
        {
            var operations = await QueryAsync("""
                SELECT idx, operation_id, resource_id, resource_name, resource_type, depends_on, body, state, execution_id, status_code, error, started, ended
                FROM deployment_operations WHERE deployment_key = @key ORDER BY idx
                """, reader => new DeploymentOperationRecord
            {
                Plan = new DeploymentOperationPlan
                {
                    Index = Int32(reader, 0),
                    OperationId = reader.GetString(1),
                    ResourceId = reader.GetString(2),
                    ResourceName = reader.GetString(3),
                    ResourceType = reader.GetString(4),
                    DependsOn = StorageFormat.DeserializeIndexes(reader.GetString(5)),
                    SealedBody = (byte[])reader.GetValue(6),
                },
                State = EnumOrNull<DeploymentState>(reader, 7),
                ExecutionId = Text(reader, 8),
                StatusCode = Text(reader, 9),
                Error = StorageFormat.DeserializeError(Text(reader, 10)),
                Started = TimeOrNull(reader, 11),
                Ended = TimeOrNull(reader, 12),
            }, cancellationToken, ("@key", key));
            result.Add(record with { Operations = operations });
        }

        return result;
    }
}
