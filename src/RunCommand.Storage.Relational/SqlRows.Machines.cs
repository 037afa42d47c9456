using System.Data.Common;

namespace RunCommand.Storage.Relational;

/// <summary>Rows of <c>vms</c> (VMs and scale-set instances) and <c>scale_sets</c>.</summary>
public sealed partial class SqlRows
{
    private const string VmColumns =
        "v.subscription, v.resource_group, v.name, v.location, v.vm_id, v.tags, v.last_contact, v.hostname, v.agent_version, v.created, v.scale_set, v.signed_off, h.until";

    /// <summary>The lease of the node that holds the machine's poll (<see cref="VmRecord.HeldUntil"/>): join it to <c>vms v</c> wherever <see cref="VmColumns"/> are read.</summary>
    private const string VmHoldJoin = " LEFT JOIN leases h ON h.kind = '" + nameof(LeaseKind.Node) + "' AND h.key = v.held_by";

    /// <summary>How many columns <see cref="VmColumns"/> has (what a select reads after them starts there).</summary>
    private const int VmColumnCount = 13;

    private const string VmSelect = "SELECT " + VmColumns + " FROM vms v" + VmHoldJoin;

    private static VmRecord ReadVm(DbDataReader reader) => new()
    {
        Vm = new VmKey(reader.GetString(0), reader.GetString(1), reader.GetString(2), Text(reader, 10)),
        Location = reader.GetString(3),
        VmId = reader.GetString(4),
        Tags = StorageFormat.DeserializeTags(Text(reader, 5)),
        LastContact = TimeOrNull(reader, 6),
        Hostname = Text(reader, 7),
        AgentVersion = Text(reader, 8),
        Created = Time(reader, 9),
        SignedOff = TimeOrNull(reader, 11),
        HeldUntil = TimeOrNull(reader, 12),
    };

    public Task<VmRecord?> GetVmAsync(VmKey vm, CancellationToken cancellationToken) =>
        QuerySingleAsync(VmSelect + " WHERE v.key = @key", ReadVm, cancellationToken, ("@key", vm.Key));

    public async Task InsertMachineAsync(VmRecord vm, AgentCredential credential, CancellationToken cancellationToken) =>
        await ExecuteAsync("""
            INSERT INTO vms(key, subscription, resource_group, name, scale_set, location, vm_id, tags, agent_token_hash, agent_public_key, last_contact, hostname, agent_version, created, goal_version)
            VALUES(@key, @sub, @rg, @name, @ss, @loc, @vmid, @tags, @hash, @pk, @contact, @host, @ver, @created, 1)
            """, cancellationToken,
            ("@key", vm.Vm.Key), ("@sub", vm.Vm.SubscriptionId), ("@rg", vm.Vm.ResourceGroup), ("@name", vm.Vm.VmName), ("@ss", vm.Vm.ScaleSetName),
            ("@loc", vm.Location), ("@vmid", vm.VmId), ("@tags", StorageFormat.Serialize(vm.Tags)), ("@hash", credential.TokenHash), ("@pk", credential.PublicKey),
            ("@contact", Time(vm.LastContact)), ("@host", vm.Hostname), ("@ver", vm.AgentVersion), ("@created", Time(vm.Created)));

    public async Task<bool> UpdateAgentAsync(VmKey vm, AgentCredential credential, string? hostname, string? agentVersion, DateTimeOffset lastContact, CancellationToken cancellationToken) =>
        await ExecuteAsync(
            "UPDATE vms SET agent_token_hash = @hash, agent_public_key = @pk, last_contact = @now, hostname = @host, agent_version = @ver WHERE key = @key",
            cancellationToken, ("@key", vm.Key), ("@hash", credential.TokenHash), ("@pk", credential.PublicKey), ("@now", Time(lastContact)),
            ("@host", hostname), ("@ver", agentVersion)) == 1;

    public async Task<bool> SetAgentCredentialAsync(VmKey vm, AgentCredential credential, CancellationToken cancellationToken) =>
        await ExecuteAsync("UPDATE vms SET agent_token_hash = @hash, agent_public_key = @pk WHERE key = @key", cancellationToken,
            ("@key", vm.Key), ("@hash", credential.TokenHash), ("@pk", credential.PublicKey)) == 1;

    public async Task SetAgentContactsAsync(IReadOnlyList<VmKey> vms, DateTimeOffset contact, string node, bool pollHeld, CancellationToken cancellationToken)
    {
        var hold = pollHeld ? "@node" : "CASE WHEN held_by = @node THEN NULL ELSE held_by END";
        foreach (var (keys, parameters) in InLists("@k", [.. vms.Select(vm => vm.Key)]))
        {
            await ExecuteAsync($"UPDATE vms SET last_contact = @now, held_by = {hold} WHERE key IN ({keys})", cancellationToken,
                [("@now", Time(contact)), ("@node", node), .. parameters]);
        }
    }

    public async Task<bool> SetAgentVersionAsync(VmKey vm, string agentVersion, CancellationToken cancellationToken) =>
        await ExecuteAsync("UPDATE vms SET agent_version = @ver WHERE key = @key AND (agent_version IS NULL OR agent_version <> @ver)",
            cancellationToken, ("@key", vm.Key), ("@ver", agentVersion)) == 1;

    public async Task<bool> SetAgentSignedOffAsync(VmKey vm, DateTimeOffset signedOff, CancellationToken cancellationToken) =>
        await ExecuteAsync("UPDATE vms SET signed_off = @off, held_by = NULL WHERE key = @key", cancellationToken, ("@key", vm.Key), ("@off", Time(signedOff))) == 1;

    public async Task<bool> SetVmTagsAsync(VmKey vm, IReadOnlyDictionary<string, string>? tags, CancellationToken cancellationToken) =>
        await ExecuteAsync("UPDATE vms SET tags = @tags WHERE key = @key", cancellationToken, ("@key", vm.Key), ("@tags", StorageFormat.Serialize(tags))) == 1;

    public Task<VmRecord?> FindVmByAgentTokenHashAsync(byte[] tokenHash, CancellationToken cancellationToken) =>
        QuerySingleAsync(VmSelect + " WHERE v.agent_token_hash = @h", ReadVm, cancellationToken, ("@h", tokenHash));

    public async Task<(VmRecord Vm, byte[] PublicKey)?> FindVmAgentKeyAsync(string vmKey, CancellationToken cancellationToken)
    {
        var found = await QueryAsync(VmSelect.Replace(" FROM vms", ", v.agent_public_key FROM vms", StringComparison.Ordinal) + " WHERE v.key = @key AND v.agent_public_key IS NOT NULL",
            reader => (ReadVm(reader), (byte[])reader.GetValue(VmColumnCount)), cancellationToken, ("@key", vmKey));
        return found.Count == 0 ? null : found[0];
    }

    public async Task<IReadOnlyDictionary<string, byte[]>> GetAgentPublicKeysAsync(IReadOnlyList<string> vmKeys, CancellationToken cancellationToken)
    {
        var found = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var (keys, parameters) in InLists("@k", vmKeys))
        {
            foreach (var (key, publicKey) in await QueryAsync($"SELECT key, agent_public_key FROM vms WHERE key IN ({keys}) AND agent_public_key IS NOT NULL",
                reader => (reader.GetString(0), (byte[])reader.GetValue(1)), cancellationToken, parameters))
            {
                found[key] = publicKey;
            }
        }

        return found;
    }

    public async Task<IReadOnlyList<VmRecord>> ListMachinesAsync(MachineQuery query, CancellationToken cancellationToken) =>
        await QueryAsync(VmSelect + " WHERE lower(subscription) = lower(@sub)"
            + (query.ResourceGroup is null ? "" : " AND lower(resource_group) = lower(@rg)")
            + (query.IncludeScaleSetInstances ? "" : " AND scale_set IS NULL")
            + (query.ScaleSetName is null ? "" : " AND lower(scale_set) = lower(@ss)")
            // Instance ids are decimal numbers without leading zeros: ordered by length then text, they sort numerically.
            + " ORDER BY lower(resource_group), CASE WHEN scale_set IS NULL THEN 0 ELSE 1 END, lower(scale_set), CASE WHEN scale_set IS NULL THEN 0 ELSE length(name) END, lower(name)",
            ReadVm, cancellationToken, ("@sub", query.SubscriptionId), ("@rg", query.ResourceGroup), ("@ss", query.ScaleSetName));

    public Task<ScaleSetRecord?> GetScaleSetAsync(ScaleSetKey scaleSet, CancellationToken cancellationToken) =>
        QuerySingleAsync("SELECT subscription, resource_group, name, location, instance_count, created FROM scale_sets WHERE key = @key", reader => new ScaleSetRecord
        {
            SubscriptionId = reader.GetString(0),
            ResourceGroup = reader.GetString(1),
            Name = reader.GetString(2),
            Location = reader.GetString(3),
            InstanceCount = Int32(reader, 4),
            Created = Time(reader, 5),
        }, cancellationToken, ("@key", scaleSet.Key));

    public async Task InsertScaleSetAsync(ScaleSetRecord scaleSet, CancellationToken cancellationToken) =>
        await ExecuteAsync("""
            INSERT INTO scale_sets(key, subscription, resource_group, name, location, instance_count, created)
            VALUES(@key, @sub, @rg, @name, @loc, @count, @created)
            """, cancellationToken,
            ("@key", scaleSet.Key.Key), ("@sub", scaleSet.SubscriptionId), ("@rg", scaleSet.ResourceGroup), ("@name", scaleSet.Name),
            ("@loc", scaleSet.Location), ("@count", scaleSet.InstanceCount), ("@created", Time(scaleSet.Created)));

    public async Task SetScaleSetInstanceCountAsync(ScaleSetKey scaleSet, int instanceCount, CancellationToken cancellationToken) =>
        await ExecuteAsync("UPDATE scale_sets SET instance_count = @count WHERE key = @key", cancellationToken, ("@key", scaleSet.Key), ("@count", instanceCount));

    public async Task<long> GetGoalVersionAsync(VmKey vm, CancellationToken cancellationToken) =>
        await ScalarAsync("SELECT goal_version FROM vms WHERE key = @key", cancellationToken, ("@key", vm.Key)) is { } version
            ? Convert.ToInt64(version, System.Globalization.CultureInfo.InvariantCulture)
            : 0L;

    public async Task<(long Version, AgentCredential Credential)?> GetGoalVersionAndCredentialAsync(VmKey vm, CancellationToken cancellationToken)
    {
        var found = await QueryAsync("SELECT goal_version, agent_token_hash, agent_public_key FROM vms WHERE key = @key",
            reader => (reader.GetInt64(0), new AgentCredential(reader.IsDBNull(1) ? null : (byte[])reader.GetValue(1), reader.IsDBNull(2) ? null : (byte[])reader.GetValue(2))),
            cancellationToken, ("@key", vm.Key));
        return found.Count == 0 ? null : found[0];
    }

    public Task BumpGoalVersionAsync(VmKey vm, int runCommandsAdded, CancellationToken cancellationToken) =>
        DeferAsync("UPDATE vms SET goal_version = goal_version + 1, run_command_count = run_command_count + @added WHERE key = @key", cancellationToken,
            ("@key", vm.Key), ("@added", runCommandsAdded));
}
