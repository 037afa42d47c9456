using System.CommandLine;
using RunCommand.Cli.Output;
using RunCommand.Client;

namespace RunCommand.Cli.Commands;

/// <summary><c>runcmd vm list|show|update</c> and the <c>vm run-command</c> group.</summary>
internal static class VmCommands
{
    public static Command Create()
    {
        var vm = new Command("vm", "Manage virtual machines (machines running the RunCommand agent) and their run commands.");
        vm.Subcommands.Add(List());
        vm.Subcommands.Add(Show());
        vm.Subcommands.Add(Update());
        vm.Subcommands.Add(RunCommandCommands.Create());
        return vm;
    }

    private static Command List()
    {
        var (group, subscription, output) = (Options.ResourceGroup(required: false), Options.Subscription(), Options.Output());
        var command = new Command("list", "List virtual machines, of one resource group with -g.") { group, subscription, output };
        command.SetAction(async (result, cancellationToken) =>
        {
            using var session = Session.Open();
            var vms = await session.Client.ListVmsAsync(
                await session.SubscriptionAsync(result.GetValue(subscription), cancellationToken), result.GetValue(group), cancellationToken);
            Renderer.Vms(result.InvocationConfiguration.Output, vms, Options.Format(result, output));
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Show()
    {
        var (group, subscription, output) = (Options.ResourceGroup(), Options.Subscription(), Options.Output());
        var name = new Option<string>("--name", "-n") { Description = "Name of the virtual machine.", Required = true };
        var command = new Command("show", "Show a virtual machine and its agent's status.") { group, name, subscription, output };
        command.SetAction(async (result, cancellationToken) =>
        {
            using var session = Session.Open();
            var vm = await session.Client.GetVmAsync(
                new VmRef(await session.SubscriptionAsync(result.GetValue(subscription), cancellationToken), result.GetValue(group)!, result.GetValue(name)!),
                cancellationToken);
            Renderer.Vm(result.InvocationConfiguration.Output, vm, Options.Format(result, output));
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>
    /// <c>vm update --set tags.role=web</c> (az's generic update form, for tags: what a fleet run selects on).
    /// <c>--remove tags.role</c> drops one tag.
    /// </summary>
    private static Command Update()
    {
        var (group, subscription, output) = (Options.ResourceGroup(), Options.Subscription(), Options.Output());
        var name = new Option<string>("--name", "-n") { Description = "Name of the virtual machine.", Required = true };
        var set = new Option<string[]>("--set")
        {
            Description = "Properties to set, space-separated: tags.KEY=VALUE (the only properties a RunCommand VM has to change).",
            AllowMultipleArgumentsPerToken = true,
            HelpName = "tags.key=value",
        };
        var remove = new Option<string[]>("--remove")
        {
            Description = "Properties to remove, space-separated: tags.KEY.",
            AllowMultipleArgumentsPerToken = true,
            HelpName = "tags.key",
        };
        var command = new Command("update", "Update a virtual machine's tags.") { group, name, set, remove, subscription, output };
        command.SetAction(async (result, cancellationToken) =>
        {
            var sets = Options.IfGiven(result, set) ?? [];
            var removes = Options.IfGiven(result, remove) ?? [];
            if (sets.Length + removes.Length == 0)
            {
                throw CliException.Usage("nothing to update: give --set tags.KEY=VALUE or --remove tags.KEY");
            }

            using var session = Session.Open();
            var vmRef = new VmRef(await session.SubscriptionAsync(result.GetValue(subscription), cancellationToken), result.GetValue(group)!, result.GetValue(name)!);
            var tags = new Dictionary<string, string>((await session.Client.GetVmAsync(vmRef, cancellationToken)).Tags ?? new Dictionary<string, string>(), StringComparer.Ordinal);
            foreach (var assignment in sets)
            {
                var eq = assignment.IndexOf('=', StringComparison.Ordinal);
                if (!assignment.StartsWith("tags.", StringComparison.Ordinal) || eq <= "tags.".Length)
                {
                    throw CliException.Usage($"--set: '{assignment}' is not tags.KEY=VALUE (only tags can be changed)");
                }

                tags[assignment["tags.".Length..eq]] = assignment[(eq + 1)..];
            }

            foreach (var path in removes)
            {
                if (!path.StartsWith("tags.", StringComparison.Ordinal) || path.Length == "tags.".Length)
                {
                    throw CliException.Usage($"--remove: '{path}' is not tags.KEY");
                }

                tags.Remove(path["tags.".Length..]);
            }

            var vm = await session.Client.UpdateVmTagsAsync(vmRef, tags, cancellationToken);
            Renderer.Vm(result.InvocationConfiguration.Output, vm, Options.Format(result, output));
            return ExitCodes.Success;
        });
        return command;
    }
}
