namespace RunCommand.Storage;

/// <summary>
/// Identifies a machine a run command can target, the way ARM does: a VM, or an instance of a scale set
/// (<see cref="ScaleSetName"/> set, <see cref="VmName"/> then being the instance id). Subscription, resource group
/// and names compare case-insensitively, the spelling of the first request is kept for display.
/// <see cref="Key"/> is the canonical (lower-case) id.
/// </summary>
public sealed record VmKey(string SubscriptionId, string ResourceGroup, string VmName, string? ScaleSetName = null)
{
    public string ResourceId => ScaleSetName is null
        ? $"/subscriptions/{SubscriptionId}/resourceGroups/{ResourceGroup}/providers/Microsoft.Compute/virtualMachines/{VmName}"
        : $"/subscriptions/{SubscriptionId}/resourceGroups/{ResourceGroup}/providers/Microsoft.Compute/virtualMachineScaleSets/{ScaleSetName}/virtualMachines/{VmName}";

    /// <summary>True for an instance of a scale set.</summary>
    public bool IsScaleSetInstance => ScaleSetName is not null;

    /// <summary>How ARM messages name the machine: <c>virtualMachines/vm1</c> or <c>virtualMachineScaleSets/ss/virtualMachines/0</c>.</summary>
    public string DisplayName => ScaleSetName is null ? $"virtualMachines/{VmName}" : $"virtualMachineScaleSets/{ScaleSetName}/virtualMachines/{VmName}";

    /// <summary>Canonical key used for lookups and uniqueness.</summary>
    public string Key => ResourceId.ToLowerInvariant();
}

/// <summary>A scale set addressed by resource group and name; compares case-insensitively.</summary>
public sealed record ScaleSetKey(string SubscriptionId, string ResourceGroup, string Name)
{
    public string ResourceId => $"/subscriptions/{SubscriptionId}/resourceGroups/{ResourceGroup}/providers/Microsoft.Compute/virtualMachineScaleSets/{Name}";

    public string Key => ResourceId.ToLowerInvariant();
}

/// <summary>A VM as stored; <see cref="Vm"/> keeps the display spelling.</summary>
public sealed record VmRecord
{
    public required VmKey Vm { get; init; }

    public required string Location { get; init; }

    /// <summary>Stable GUID of the machine.</summary>
    public required string VmId { get; init; }

    public IReadOnlyDictionary<string, string>? Tags { get; init; }

    /// <summary>Last time the agent called the server; null if it never did.</summary>
    public DateTimeOffset? LastContact { get; init; }

    public string? Hostname { get; init; }

    public string? AgentVersion { get; init; }

    public required DateTimeOffset Created { get; init; }

    /// <summary>When the agent last said it is stopping; it is disconnected unless it called after that. Null: never.</summary>
    public DateTimeOffset? SignedOff { get; init; }

    /// <summary>
    /// Until when a server node vouches that the agent holds a long poll open on it: the node's lease (kind
    /// <see cref="LeaseKind.Node"/>), which it renews while it runs. Null: no node says so (none holds a poll, or the one
    /// that did stopped renewing).
    /// </summary>
    public DateTimeOffset? HeldUntil { get; init; }
}

/// <summary>
/// A contact with a machine's agent that a server node saw at <paramref name="At"/>: a poll's start or end, a report.
/// <paramref name="PollHeld"/>: the node holds the agent's long poll open now.
/// </summary>
public sealed record AgentContact(VmKey Vm, DateTimeOffset At, bool PollHeld);

/// <summary>
/// What an agent proves itself with: the SHA-256 of a bearer token (older agents) or the public key
/// (SubjectPublicKeyInfo) it signs assertions with. At most one is set; both null means no agent may call for the VM.
/// </summary>
public sealed record AgentCredential(byte[]? TokenHash, byte[]? PublicKey)
{
    public static readonly AgentCredential None = new(null, null);
}

/// <summary>A scale set as stored: it exists once its first instance has enrolled.</summary>
public sealed record ScaleSetRecord
{
    public required string SubscriptionId { get; init; }

    public required string ResourceGroup { get; init; }

    /// <summary>Display spelling of the name.</summary>
    public required string Name { get; init; }

    public required string Location { get; init; }

    /// <summary>Instances ever enrolled (ids "0" to count-1 were handed out; ids are never reused).</summary>
    public required int InstanceCount { get; init; }

    public required DateTimeOffset Created { get; init; }

    public ScaleSetKey Key => new(SubscriptionId, ResourceGroup, Name);

    public string ResourceId => Key.ResourceId;
}

/// <summary>Which machines a listing returns.</summary>
public sealed record MachineQuery
{
    public required string SubscriptionId { get; init; }

    /// <summary>Only this resource group (case-insensitive); null: every group.</summary>
    public string? ResourceGroup { get; init; }

    /// <summary>False: plain VMs only; true: scale-set instances too.</summary>
    public bool IncludeScaleSetInstances { get; init; }

    /// <summary>Only instances of this scale set (case-insensitive); null: no such filter.</summary>
    public string? ScaleSetName { get; init; }
}

/// <summary>
/// One use of an agent assertion to record (<see cref="IMachineStore.TryUseAgentAssertionsAsync"/>): its id (the SHA-256
/// of its signed payload), remembered until <see cref="Expires"/>, and the machine and public key (SubjectPublicKeyInfo)
/// its signature verified with, which the machine must still hold when the use is recorded.
/// </summary>
public sealed record AgentAssertionUse(byte[] Id, DateTimeOffset Expires, VmKey Vm, byte[] PublicKey);

/// <summary>What recording an agent assertion's use found.</summary>
public enum AgentAssertionOutcome
{
    /// <summary>Recorded: its first use, and the machine still holds the key it verified with.</summary>
    FirstUse,

    /// <summary>Used before, on this node or another: a replay (nothing written).</summary>
    Replayed,

    /// <summary>The machine no longer exists or no longer holds that key (revoked or enrolled again with another one); nothing written.</summary>
    CredentialGone,
}
