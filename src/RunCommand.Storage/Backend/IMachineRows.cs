namespace RunCommand.Storage;

/// <summary>Rows of machines (VMs and scale-set instances) and scale sets.</summary>
public interface IMachineRows
{
    Task<VmRecord?> GetVmAsync(VmKey vm, CancellationToken cancellationToken);

    /// <summary>Inserts a machine with its agent credential; the goal-state version starts at 1.</summary>
    Task InsertMachineAsync(VmRecord vm, AgentCredential credential, CancellationToken cancellationToken);

    /// <summary>Replaces a machine's agent credential and agent details and sets its last contact; false when there is no such machine.</summary>
    Task<bool> UpdateAgentAsync(VmKey vm, AgentCredential credential, string? hostname, string? agentVersion, DateTimeOffset lastContact, CancellationToken cancellationToken);

    /// <summary>Replaces the credential only; false when there is no such machine.</summary>
    Task<bool> SetAgentCredentialAsync(VmKey vm, AgentCredential credential, CancellationToken cancellationToken);

    /// <summary>
    /// The same last contact for many VMs, in one statement, written by server node <paramref name="node"/>. With
    /// <paramref name="pollHeld"/> the node also says it holds their agents' polls (<see cref="VmRecord.HeldUntil"/>);
    /// without it, a hold that node wrote ends, and another node's hold stays.
    /// </summary>
    Task SetAgentContactsAsync(IReadOnlyList<VmKey> vms, DateTimeOffset contact, string node, bool pollHeld, CancellationToken cancellationToken);

    /// <summary>Sets the machine's agent version; false when there is no such machine or it already has that version.</summary>
    Task<bool> SetAgentVersionAsync(VmKey vm, string agentVersion, CancellationToken cancellationToken);

    /// <summary>Sets when the machine's agent signed off, and ends any node's hold of its poll; false when there is no such machine.</summary>
    Task<bool> SetAgentSignedOffAsync(VmKey vm, DateTimeOffset signedOff, CancellationToken cancellationToken);

    /// <summary>Replaces the tags (null or empty: none); false when there is no such machine.</summary>
    Task<bool> SetVmTagsAsync(VmKey vm, IReadOnlyDictionary<string, string>? tags, CancellationToken cancellationToken);

    Task<VmRecord?> FindVmByAgentTokenHashAsync(byte[] tokenHash, CancellationToken cancellationToken);

    /// <summary>The machine with this key and its agent's public key; null when none or it has no key.</summary>
    Task<(VmRecord Vm, byte[] PublicKey)?> FindVmAgentKeyAsync(string vmKey, CancellationToken cancellationToken);

    /// <summary>The public keys of the machines with these keys that have one, by machine key (absent: no machine, or no key).</summary>
    Task<IReadOnlyDictionary<string, byte[]>> GetAgentPublicKeysAsync(IReadOnlyList<string> vmKeys, CancellationToken cancellationToken);

    /// <summary>
    /// Machines matching the query, ordered by resource group, plain VMs before scale-set instances, scale set name,
    /// then instance id numerically (VMs by name), all case-insensitively.
    /// </summary>
    Task<IReadOnlyList<VmRecord>> ListMachinesAsync(MachineQuery query, CancellationToken cancellationToken);

    Task<ScaleSetRecord?> GetScaleSetAsync(ScaleSetKey scaleSet, CancellationToken cancellationToken);

    Task InsertScaleSetAsync(ScaleSetRecord scaleSet, CancellationToken cancellationToken);

    Task SetScaleSetInstanceCountAsync(ScaleSetKey scaleSet, int instanceCount, CancellationToken cancellationToken);

    /// <summary>The machine's goal-state version; 0 when there is no such machine.</summary>
    Task<long> GetGoalVersionAsync(VmKey vm, CancellationToken cancellationToken);

    /// <summary>
    /// A new goal-state version for the machine, and <paramref name="runCommandsAdded"/> added to its count of run
    /// commands (1 when the write that tells the agent created a run command row; the count is what
    /// <see cref="IRunCommandRows.ReadForPutAsync"/> answers, kept on the machine's row).
    /// </summary>
    Task BumpGoalVersionAsync(VmKey vm, int runCommandsAdded, CancellationToken cancellationToken);

    /// <summary>
    /// The machine's goal-state version and the agent credential it holds (its token's hash, its public key), in one
    /// statement; null when there is no such machine.
    /// </summary>
    Task<(long Version, AgentCredential Credential)?> GetGoalVersionAndCredentialAsync(VmKey vm, CancellationToken cancellationToken);

    /// <summary>Inserts the assertion id unless it is there; false when it was (nothing written).</summary>
    Task<bool> InsertAgentAssertionAsync(byte[] assertionId, DateTimeOffset expires, CancellationToken cancellationToken);

    /// <summary>Deletes up to <paramref name="limit"/> assertion ids that expired before <paramref name="now"/>; how many.</summary>
    Task<int> DeleteAgentAssertionsExpiredAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken);
}
