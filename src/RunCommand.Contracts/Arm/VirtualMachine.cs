namespace RunCommand.Contracts.Arm;

/// <summary>A machine known to RunCommand; created when its agent enrolls.</summary>
public sealed record VirtualMachineResource
{
    public required string Id { get; init; }

    public required string Name { get; init; }

    public string Type { get; init; } = ResourceTypes.VirtualMachine;

    public required string Location { get; init; }

    public IReadOnlyDictionary<string, string>? Tags { get; init; }

    /// <summary>For a scale-set instance: its instance id ("0", "1", ...); null for a VM.</summary>
    public string? InstanceId { get; init; }

    public required VirtualMachineProperties Properties { get; init; }
}

/// <summary>A scale set: it exists once its first instance's agent has enrolled (<c>runcmd agent --vmss-name</c>).</summary>
public sealed record VirtualMachineScaleSetResource
{
    public required string Id { get; init; }

    public required string Name { get; init; }

    public string Type { get; init; } = ResourceTypes.VirtualMachineScaleSet;

    public required string Location { get; init; }

    public required VirtualMachineScaleSetProperties Properties { get; init; }
}

public sealed record VirtualMachineScaleSetProperties
{
    public string ProvisioningState { get; init; } = "Succeeded";

    /// <summary>Instances enrolled (list them with <c>GET .../virtualMachineScaleSets/{vmss}/virtualMachines</c>).</summary>
    public required int InstanceCount { get; init; }
}

/// <summary>Body of <c>PATCH .../virtualMachines/{vm}</c>: only tags can change (the machine itself belongs to its agent).</summary>
public sealed record VirtualMachineUpdate
{
    /// <summary>The VM's complete new tag set (ARM PATCH semantics: replaces the tags); null leaves them as they are.</summary>
    public IReadOnlyDictionary<string, string>? Tags { get; init; }
}

public sealed record VirtualMachineProperties
{
    public string ProvisioningState { get; init; } = "Succeeded";

    /// <summary>Stable id of the machine, a GUID.</summary>
    public required string VmId { get; init; }

    public required VirtualMachineAgentView AgentInstanceView { get; init; }
}

/// <summary>How RunCommand sees the machine's agent.</summary>
public sealed record VirtualMachineAgentView
{
    /// <summary>Connected (polling now or within the presence window), Disconnected, or NeverConnected.</summary>
    public required string Status { get; init; }

    /// <summary>When the agent last talked to the server; null if never.</summary>
    public DateTimeOffset? LastContact { get; init; }

    /// <summary>Version string the agent reported at enrollment.</summary>
    public string? AgentVersion { get; init; }

    /// <summary>Host name the agent reported at enrollment.</summary>
    public string? Hostname { get; init; }
}

public static class ResourceTypes
{
    public const string VirtualMachine = "Microsoft.Compute/virtualMachines";
    public const string VmRunCommand = "Microsoft.Compute/virtualMachines/runCommands";
    public const string VmssVmRunCommand = "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommands";
    public const string VirtualMachineScaleSet = "Microsoft.Compute/virtualMachineScaleSets";
    public const string VmssVirtualMachine = "Microsoft.Compute/virtualMachineScaleSets/virtualMachines";
    public const string FleetRun = "RunCommand.Fleet/runs";
}

/// <summary>Values of <see cref="RunCommandInstanceView.ExecutionState"/>.</summary>
public static class ExecutionStates
{
    public const string Unknown = "Unknown";
    public const string Pending = "Pending";
    public const string Running = "Running";
    public const string Failed = "Failed";
    public const string Succeeded = "Succeeded";
    public const string TimedOut = "TimedOut";
    public const string Canceled = "Canceled";

    /// <summary>True for states an execution never leaves.</summary>
    public static bool IsTerminal(string? state) =>
        state is Failed or Succeeded or TimedOut or Canceled;
}
