using System.Globalization;

namespace RunCommand.Storage;

/// <summary>The machine verbs over any backend: enrollment creates or re-keys machines, instance ids are handed out once.</summary>
public sealed class MachineStore(IStorageBackend backend) : IMachineStore
{
    public Task<VmRecord> EnrollAgentAsync(VmKey vm, string location, AgentCredential credential, string? hostname, string? agentVersion, IReadOnlyDictionary<string, string>? tags, DateTimeOffset now, CancellationToken cancellationToken) =>
        backend.WriteAsync(async rows =>
        {
            // An existing VM keeps its tags and id; only its agent changes.
            if (!await rows.UpdateAgentAsync(vm, credential, hostname, agentVersion, now, cancellationToken))
            {
                await rows.InsertMachineAsync(NewMachine(vm, location, hostname, agentVersion, tags, now), credential, cancellationToken);
            }

            return (await rows.GetVmAsync(vm, cancellationToken))!;
        }, cancellationToken);

    public Task<VmRecord> EnrollScaleSetInstanceAsync(ScaleSetKey scaleSet, string location, AgentCredential credential, string? hostname, string? agentVersion, IReadOnlyDictionary<string, string>? tags, DateTimeOffset now, CancellationToken cancellationToken) =>
        backend.WriteAsync(async rows =>
        {
            var set = await rows.GetScaleSetAsync(scaleSet, cancellationToken);
            if (set is null)
            {
                set = new ScaleSetRecord
                {
                    SubscriptionId = scaleSet.SubscriptionId,
                    ResourceGroup = scaleSet.ResourceGroup,
                    Name = scaleSet.Name,
                    Location = location,
                    InstanceCount = 0,
                    Created = now,
                };
                await rows.InsertScaleSetAsync(set, cancellationToken);
            }

            // The id and the credential are committed together: a crash leaves either no instance or a complete one.
            var instance = new VmKey(set.SubscriptionId, set.ResourceGroup, set.InstanceCount.ToString(CultureInfo.InvariantCulture), set.Name);
            await rows.SetScaleSetInstanceCountAsync(scaleSet, set.InstanceCount + 1, cancellationToken);
            await rows.InsertMachineAsync(NewMachine(instance, set.Location, hostname, agentVersion, tags, now), credential, cancellationToken);
            return (await rows.GetVmAsync(instance, cancellationToken))!;
        }, cancellationToken);

    private static VmRecord NewMachine(VmKey vm, string location, string? hostname, string? agentVersion, IReadOnlyDictionary<string, string>? tags, DateTimeOffset now) => new()
    {
        Vm = vm,
        Location = location,
        VmId = Guid.NewGuid().ToString(),
        Tags = tags is { Count: > 0 } ? tags : null,
        LastContact = now,
        Hostname = hostname,
        AgentVersion = agentVersion,
        Created = now,
    };

    public Task<VmRecord?> FindVmByAgentTokenAsync(byte[] agentTokenHash, CancellationToken cancellationToken) =>
        backend.ReadAsync(rows => rows.FindVmByAgentTokenHashAsync(agentTokenHash, cancellationToken), cancellationToken);

    public Task<(VmRecord Vm, byte[] PublicKey)?> FindVmAgentKeyAsync(string vmResourceId, CancellationToken cancellationToken) =>
        backend.ReadAsync(rows => rows.FindVmAgentKeyAsync(vmResourceId.ToLowerInvariant(), cancellationToken), cancellationToken);

    public Task<bool> RevokeAgentAsync(VmKey vm, CancellationToken cancellationToken) =>
        backend.WriteAsync(rows => rows.SetAgentCredentialAsync(vm, AgentCredential.None, cancellationToken), cancellationToken);

    public Task<bool> TryUseAgentAssertionAsync(byte[] assertionId, DateTimeOffset expires, CancellationToken cancellationToken) =>
        backend.WriteAsync(rows => rows.InsertAgentAssertionAsync(assertionId, expires, cancellationToken), cancellationToken);

    public async Task<IReadOnlyList<AgentAssertionOutcome>> TryUseAgentAssertionsAsync(IReadOnlyList<AgentAssertionUse> uses, CancellationToken cancellationToken)
    {
        var outcomes = new List<AgentAssertionOutcome>(uses.Count);
        foreach (var batch in uses.Chunk(RowsPerTransaction))
        {
            outcomes.AddRange(await backend.WriteAsync(async rows =>
            {
                // The machines' keys in the same transaction as the inserts (one statement for the batch): a revocation or
                // a new enrollment commits either before (this use is refused) or after (it was accepted first).
                var keys = await rows.GetAgentPublicKeysAsync([.. batch.Select(u => u.Vm.Key).Distinct(StringComparer.Ordinal)], cancellationToken);
                var found = new AgentAssertionOutcome[batch.Length];
                for (var i = 0; i < batch.Length; i++)
                {
                    var use = batch[i];
                    found[i] = !keys.TryGetValue(use.Vm.Key, out var key) || !key.AsSpan().SequenceEqual(use.PublicKey)
                        ? AgentAssertionOutcome.CredentialGone
                        : await rows.InsertAgentAssertionAsync(use.Id, use.Expires, cancellationToken) ? AgentAssertionOutcome.FirstUse : AgentAssertionOutcome.Replayed;
                }

                return found;
            }, cancellationToken));
        }

        return outcomes;
    }

    /// <summary>
    /// Rows deleted (purging assertions) or written (agents' contacts) per transaction: about 40-90 ms of SQLite's single writer each on a busy machine, so
    /// agents' requests wait for one short batch, never for a whole minute of assertions.
    /// </summary>
    private const int RowsPerTransaction = 500;

    public async Task<int> PurgeAgentAssertionsAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        var total = 0;
        while (true)
        {
            var deleted = await backend.WriteAsync(rows => rows.DeleteAgentAssertionsExpiredAsync(now, RowsPerTransaction, cancellationToken), cancellationToken);
            total += deleted;
            if (deleted < RowsPerTransaction)
            {
                return total;
            }
        }
    }

    public Task<bool> SetAgentVersionAsync(VmKey vm, string agentVersion, CancellationToken cancellationToken) =>
        backend.WriteAsync(rows => rows.SetAgentVersionAsync(vm, agentVersion, cancellationToken), cancellationToken);

    public Task<bool> SignOffAgentAsync(VmKey vm, DateTimeOffset now, CancellationToken cancellationToken) =>
        backend.WriteAsync(rows => rows.SetAgentSignedOffAsync(vm, now, cancellationToken), cancellationToken);

    public async Task TouchAgentsAsync(IReadOnlyList<AgentContact> contacts, string node, CancellationToken cancellationToken)
    {
        foreach (var batch in contacts.Chunk(RowsPerTransaction))
        {
            await backend.WriteAsync(async rows =>
            {
                // A node's claims of the polls it holds carry one time: one statement for all of them.
                foreach (var same in batch.GroupBy(c => (c.At, c.PollHeld)))
                {
                    await rows.SetAgentContactsAsync([.. same.Select(c => c.Vm)], same.Key.At, node, same.Key.PollHeld, cancellationToken);
                }

                return true;
            }, cancellationToken);
        }
    }

    public Task<VmRecord?> GetVmAsync(VmKey vm, CancellationToken cancellationToken) =>
        backend.ReadAsync(rows => rows.GetVmAsync(vm, cancellationToken), cancellationToken);

    public Task<IReadOnlyList<VmRecord>> ListVmsAsync(string subscriptionId, string? resourceGroup, CancellationToken cancellationToken) =>
        backend.ReadAsync(rows => rows.ListMachinesAsync(new MachineQuery { SubscriptionId = subscriptionId, ResourceGroup = resourceGroup }, cancellationToken), cancellationToken);

    public Task<IReadOnlyList<VmRecord>> ListMachinesAsync(string subscriptionId, string? resourceGroup, CancellationToken cancellationToken) =>
        backend.ReadAsync(rows => rows.ListMachinesAsync(
            new MachineQuery { SubscriptionId = subscriptionId, ResourceGroup = resourceGroup, IncludeScaleSetInstances = true }, cancellationToken), cancellationToken);

    public Task<VmRecord?> SetVmTagsAsync(VmKey vm, IReadOnlyDictionary<string, string>? tags, CancellationToken cancellationToken) =>
        backend.WriteAsync(async rows =>
            await rows.SetVmTagsAsync(vm, tags is { Count: > 0 } ? tags : null, cancellationToken) ? await rows.GetVmAsync(vm, cancellationToken) : null,
            cancellationToken);

    public Task<ScaleSetRecord?> GetScaleSetAsync(ScaleSetKey scaleSet, CancellationToken cancellationToken) =>
        backend.ReadAsync(rows => rows.GetScaleSetAsync(scaleSet, cancellationToken), cancellationToken);

    public Task<IReadOnlyList<VmRecord>> ListScaleSetInstancesAsync(ScaleSetKey scaleSet, CancellationToken cancellationToken) =>
        backend.ReadAsync(rows => rows.ListMachinesAsync(new MachineQuery
        {
            SubscriptionId = scaleSet.SubscriptionId,
            ResourceGroup = scaleSet.ResourceGroup,
            IncludeScaleSetInstances = true,
            ScaleSetName = scaleSet.Name,
        }, cancellationToken), cancellationToken);
}
