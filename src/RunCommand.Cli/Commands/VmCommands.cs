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
        vm.Subcommands.Add(Agent());
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

    private static Command Agent()
    {
        var agent = new Command("agent", "Manage a VM's agent.");
        var (group, subscription) = (Options.ResourceGroup(), Options.Subscription());
        var name = new Option<string>("--name", "-n") { Description = "Name of the virtual machine.", Required = true };
        var revoke = new Command("revoke", "Revoke the VM's agent credential: the agent is refused at once and gets no more work until it enrolls again.")
        {
            group, name, subscription,
        };
        revoke.SetAction(async (result, cancellationToken) =>
        {
            using var session = Session.Open();
            await session.Client.RevokeAgentAsync(
                new VmRef(await session.SubscriptionAsync(result.GetValue(subscription), cancellationToken), result.GetValue(group)!, result.GetValue(name)!),
                cancellationToken);
            return ExitCodes.Success;
        });
        agent.Subcommands.Add(revoke);
        return agent;
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
