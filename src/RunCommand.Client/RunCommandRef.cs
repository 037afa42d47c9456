namespace RunCommand.Client;

/// <summary>Addresses one managed run command of a VM: the four names in its ARM resource id.</summary>
public sealed record RunCommandRef(string Subscription, string ResourceGroup, string VmName, string Name)
{
    /// <summary>The VM this run command belongs to.</summary>
    public VmRef Vm => new(Subscription, ResourceGroup, VmName);
}

/// <summary>Addresses one VM.</summary>
public sealed record VmRef(string Subscription, string ResourceGroup, string VmName);
