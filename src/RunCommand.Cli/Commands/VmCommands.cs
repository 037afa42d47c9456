using System.CommandLine;
using RunCommand.Cli.Output;
using RunCommand.Client;

namespace RunCommand.Cli.Commands;

/// <summary><c>runcmd vm list|show</c> and the <c>vm run-command</c> group.</summary>
internal static class VmCommands
{
    public static Command Create()
    {
        var vm = new Command("vm", "Manage virtual machines (machines running the RunCommand agent) and their run commands.");
        vm.Subcommands.Add(List());
        vm.Subcommands.Add(Show());
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
}
