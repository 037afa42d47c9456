using System.CommandLine;
using RunCommand.Client;

namespace RunCommand.Cli.Commands;

/// <summary>
/// az's <c>--ids</c>: full resource ids instead of <c>-g</c>/<c>--vm-name</c>/<c>-n</c> (several, space-separated, e.g.
/// from <c>list --query "[].id" -o tsv</c>). A run command's id, or a VM's (or scale-set instance's) for list.
/// </summary>
internal static class ResourceIds
{
    public static Option<string[]> Option(string what) => new("--ids")
    {
        Description = $"One or more resource ids ({what}, space-separated). If given, give no other 'Resource Id' arguments (-g, --vm-name, -n).",
        AllowMultipleArgumentsPerToken = true,
        HelpName = "ID",
    };

    /// <summary>The ids given, or null; a usage error when other naming options were given too.</summary>
    public static string[]? Given(ParseResult result, Option<string[]> ids, params Option[] naming)
    {
        if (Options.IfGiven(result, ids) is not { } given)
        {
            return null;
        }

        if (given.Length == 0)
        {
            throw CliException.Usage("--ids needs at least one resource id");
        }

        var clash = naming.Where(o => result.GetResult(o) is { Implicit: false }).Select(o => o.Name).ToList();
        return clash.Count == 0
            ? given
            : throw CliException.Usage($"--ids cannot be used with {string.Join(", ", clash)}: an id already names the resource");
    }

    /// <summary>
    /// <c>/subscriptions/S/resourceGroups/G/providers/Microsoft.Compute/virtualMachines/V/runCommands/N</c>, or the same
    /// under <c>virtualMachineScaleSets/SS/virtualMachines/I</c>.
    /// </summary>
    public static RunCommandRef RunCommand(string id)
    {
        var (vm, rest) = Vm(id, allowChild: true);
        // ARM ids are case-insensitive: ".../RUNCOMMANDS/x" and ".../runcommands/x" name the same child.
        return rest is [var type, var name] && type.Equals("runCommands", StringComparison.OrdinalIgnoreCase)
            ? new RunCommandRef(vm.Subscription, vm.ResourceGroup, vm.VmName, name, vm.ScaleSetName)
            : throw NotAnId(id, "run command");
    }

    public static VmRef Vm(string id) => Vm(id, allowChild: false) is ({ } vm, []) ? vm : throw NotAnId(id, "virtual machine");

    private static (VmRef Vm, string[] Remainder) Vm(string id, bool allowChild)
    {
        var s = id.Split('/', StringSplitOptions.RemoveEmptyEntries).Select(Uri.UnescapeDataString).ToArray();
        bool Is(int i, string name) => i < s.Length && s[i].Equals(name, StringComparison.OrdinalIgnoreCase);
        if (s.Length >= 8 && Is(0, "subscriptions") && Is(2, "resourceGroups") && Is(4, "providers") && Is(5, "Microsoft.Compute"))
        {
            if (Is(6, "virtualMachines"))
            {
                return (new VmRef(s[1], s[3], s[7]), s[8..]);
            }

            if (Is(6, "virtualMachineScaleSets") && s.Length >= 10 && Is(8, "virtualMachines"))
            {
                return (VmRef.Instance(s[1], s[3], s[7], s[9]), s[10..]);
            }
        }

        throw NotAnId(id, allowChild ? "run command" : "virtual machine");
    }

    private static CliException NotAnId(string id, string what) => CliException.Usage(
        $"--ids: '{id}' is not a {what} id (/subscriptions/SUB/resourceGroups/RG/providers/Microsoft.Compute/virtualMachines/VM"
        + (what == "run command" ? "/runCommands/NAME)" : ")"));
}
