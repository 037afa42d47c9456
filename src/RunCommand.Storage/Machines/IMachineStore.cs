namespace RunCommand.Storage;

/// <summary>VMs, scale sets and the credentials their agents enroll with.</summary>
public interface IMachineStore
{
    /// <summary>
    /// Enrolls an agent for a VM: creates the VM if it does not exist (with <paramref name="tags"/>; an existing VM keeps
    /// its tags), and replaces the VM's agent credential with <paramref name="credential"/> (a previous agent of that VM
    /// is refused from then on).
    /// </summary>
    Task<VmRecord> EnrollAgentAsync(VmKey vm, string location, AgentCredential credential, string? hostname, string? agentVersion, IReadOnlyDictionary<string, string>? tags, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>
    /// Enrolls an agent as a new instance of a scale set: creates the scale set if it does not exist, hands out the next
    /// instance id ("0", "1", ...; never reused) and binds the credential to that instance. The agent keeps its
    /// credential, so a restarted agent stays the same instance.
    /// </summary>
    Task<VmRecord> EnrollScaleSetInstanceAsync(ScaleSetKey scaleSet, string location, AgentCredential credential, string? hostname, string? agentVersion, IReadOnlyDictionary<string, string>? tags, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>The VM whose agent holds this token hash, or null.</summary>
    Task<VmRecord?> FindVmByAgentTokenAsync(byte[] agentTokenHash, CancellationToken cancellationToken);

    /// <summary>
    /// The VM or scale-set instance with this resource id (any casing) and the public key (SubjectPublicKeyInfo) its
    /// agent enrolled with; null when there is no such machine or its agent has no key (enrolled with a token, or revoked).
    /// </summary>
    Task<(VmRecord Vm, byte[] PublicKey)?> FindVmAgentKeyAsync(string vmResourceId, CancellationToken cancellationToken);

    /// <summary>
    /// Removes the VM's agent credential: its agent is refused from the next request on, until an agent enrolls again
    /// with an enrollment token. False when the VM does not exist.
    /// </summary>
    Task<bool> RevokeAgentAsync(VmKey vm, CancellationToken cancellationToken);

    /// <summary>
    /// Records the first use of an agent assertion (<paramref name="assertionId"/>: the SHA-256 of its signed payload),
    /// remembered until <paramref name="expires"/>. False when it was used before, on this node or any other: a replay.
    /// </summary>
    Task<bool> TryUseAgentAssertionAsync(byte[] assertionId, DateTimeOffset expires, CancellationToken cancellationToken);

    /// <summary>
    /// <see cref="TryUseAgentAssertionAsync"/> for many assertions, a few hundred per transaction (one node's uses,
    /// batched), each recorded only if its machine still holds the public key it verified with, checked in the same
    /// transaction: so a node that verified with a key it kept in memory refuses a machine revoked or re-keyed on another
    /// node, with no read of its own. For each, in order, what was found.
    /// </summary>
    Task<IReadOnlyList<AgentAssertionOutcome>> TryUseAgentAssertionsAsync(IReadOnlyList<AgentAssertionUse> uses, CancellationToken cancellationToken);

    /// <summary>Forgets the assertions that expired before <paramref name="now"/> (they would be refused for their time anyway); how many.</summary>
    Task<int> PurgeAgentAssertionsAsync(DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>
    /// Records that the VM's agent said, at <paramref name="now"/>, that it is stopping: it counts as disconnected until
    /// a contact later than that (<see cref="VmRecord.SignedOff"/>). False when the VM does not exist.
    /// </summary>
    Task<bool> SignOffAgentAsync(VmKey vm, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Records the version of the agent that runs now on the VM; false when the VM does not exist or already had it.</summary>
    Task<bool> SetAgentVersionAsync(VmKey vm, string agentVersion, CancellationToken cancellationToken);

    /// <summary>
    /// Records the last contact of many VMs' agents, a few hundred per transaction (one node's presence writes, batched),
    /// as server node <paramref name="node"/> saw them: each also says whether that node holds the agent's poll now
    /// (<see cref="AgentContact.PollHeld"/>, see <see cref="VmRecord.HeldUntil"/>).
    /// </summary>
    Task TouchAgentsAsync(IReadOnlyList<AgentContact> contacts, string node, CancellationToken cancellationToken);

    Task<VmRecord?> GetVmAsync(VmKey vm, CancellationToken cancellationToken);

    /// <summary>VMs (not scale-set instances) of a subscription, optionally of one resource group, ordered by resource group then name.</summary>
    Task<IReadOnlyList<VmRecord>> ListVmsAsync(string subscriptionId, string? resourceGroup, CancellationToken cancellationToken);

    /// <summary>Every machine (VMs, then scale-set instances) of a subscription, optionally of one resource group.</summary>
    Task<IReadOnlyList<VmRecord>> ListMachinesAsync(string subscriptionId, string? resourceGroup, CancellationToken cancellationToken);

    /// <summary>Replaces a VM's tags; null when the VM does not exist.</summary>
    Task<VmRecord?> SetVmTagsAsync(VmKey vm, IReadOnlyDictionary<string, string>? tags, CancellationToken cancellationToken);

    Task<ScaleSetRecord?> GetScaleSetAsync(ScaleSetKey scaleSet, CancellationToken cancellationToken);

    /// <summary>Instances of a scale set, ordered by instance id (numerically).</summary>
    Task<IReadOnlyList<VmRecord>> ListScaleSetInstancesAsync(ScaleSetKey scaleSet, CancellationToken cancellationToken);
}
