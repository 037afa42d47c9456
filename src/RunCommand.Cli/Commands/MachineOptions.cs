using System.CommandLine;
using RunCommand.Client;

namespace RunCommand.Cli.Commands;

/// <summary>
/// How a run-command verb names its machine: <c>--vm-name</c> under <c>vm run-command</c>, or <c>--vmss-name</c> with
/// <c>--instance-id</c> under <c>vmss run-command</c>. One set of verbs serves both, as one API does on the server.
/// </summary>
internal sealed class MachineOptions
{
    private readonly Option<string>? _vmName;
    private readonly Option<string>? _scaleSet;
    private readonly Option<string>? _instanceId;

    private MachineOptions(Option<string>? vmName, Option<string>? scaleSet, Option<string>? instanceId)
    {
        (_vmName, _scaleSet, _instanceId) = (vmName, scaleSet, instanceId);
    }

    public static MachineOptions For(bool scaleSet, bool required = true, Option<string>? vmName = null) => scaleSet
        ? new(null,
            new Option<string>("--vmss-name") { Description = "Name of the scale set.", Required = required },
            new Option<string>("--instance-id") { Description = "Instance id of the scale-set VM (see `vmss list-instances`).", Required = required })
        : new(vmName ?? Options.VmName(required), null, null);

    public IReadOnlyList<Option<string>> All => _vmName is not null ? [_vmName] : [_scaleSet!, _instanceId!];

    /// <summary>True when the machine was not named at all (a document form of list/show may then apply).</summary>
    public bool IsAbsent(ParseResult result) => All.All(o => Options.IfGiven(result, o) is null);

    public VmRef Vm(ParseResult result, string subscription, string resourceGroup) => _vmName is not null
        ? new VmRef(subscription, resourceGroup, result.GetValue(_vmName)!)
        : VmRef.Instance(subscription, resourceGroup, result.GetValue(_scaleSet!)!, result.GetValue(_instanceId!)!);

    public RunCommandRef Command(ParseResult result, string subscription, string resourceGroup, string name)
    {
        var vm = Vm(result, subscription, resourceGroup);
        return new RunCommandRef(vm.Subscription, vm.ResourceGroup, vm.VmName, name, vm.ScaleSetName);
    }
}

internal static class MachineOptionsExtensions
{
    /// <summary>Lets a command's collection initializer take <see cref="MachineOptions"/> like a single option.</summary>
    public static void Add(this Command command, MachineOptions machine)
    {
        foreach (var option in machine.All)
        {
            command.Options.Add(option);
        }
    }
}
