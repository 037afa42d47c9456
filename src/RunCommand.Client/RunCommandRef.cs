namespace RunCommand.Client;

/// <summary>
/// Addresses one managed run command of a machine: a VM, or (with <paramref name="ScaleSetName"/>) the scale-set
/// instance whose instance id is <paramref name="VmName"/>.
/// </summary>
public sealed record RunCommandRef(string Subscription, string ResourceGroup, string VmName, string Name, string? ScaleSetName = null)
{
    /// <summary>The machine this run command belongs to.</summary>
    public VmRef Vm => new(Subscription, ResourceGroup, VmName, ScaleSetName);
}

/// <summary>Addresses one VM, or (with <paramref name="ScaleSetName"/>) one scale-set instance whose instance id is <paramref name="VmName"/>.</summary>
public sealed record VmRef(string Subscription, string ResourceGroup, string VmName, string? ScaleSetName = null)
{
    /// <summary>A scale-set instance.</summary>
    public static VmRef Instance(string subscription, string resourceGroup, string scaleSetName, string instanceId) =>
        new(subscription, resourceGroup, instanceId, scaleSetName);
}

/// <summary>Addresses one fleet run (<c>RunCommand.Fleet/runs</c>).</summary>
public sealed record FleetRunRef(string Subscription, string ResourceGroup, string Name);
