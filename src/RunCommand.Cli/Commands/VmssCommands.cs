using System.CommandLine;
using RunCommand.Cli.Output;

namespace RunCommand.Cli.Commands;

/// <summary><c>runcmd vmss list-instances</c> and <c>vmss run-command</c> (scale sets exist once an agent enrolls with --vmss-name).</summary>
internal static class VmssCommands
{
    public static Command Create()
    {
        var vmss = new Command("vmss", "Manage scale sets (agents enrolled with --vmss-name) and run commands on their instances.");
        vmss.Subcommands.Add(ListInstances());
        vmss.Subcommands.Add(RunCommandCommands.Create(scaleSet: true));
        return vmss;
    }

    private static Command ListInstances()
    {
        var (group, subscription, output) = (Options.ResourceGroup(), Options.Subscription(), Options.Output());
        var name = new Option<string>("--name", "-n", "--vmss-name") { Description = "Name of the scale set.", Required = true };
        var command = new Command("list-instances", "List the instances of a scale set with their agents' status.") { group, name, subscription, output };
        command.SetAction(async (result, cancellationToken) =>
        {
            using var session = Session.Open();
            var instances = await session.Client.ListInstancesAsync(
                await session.SubscriptionAsync(result.GetValue(subscription), cancellationToken), result.GetValue(group)!, result.GetValue(name)!, cancellationToken);
            Renderer.Vms(result.InvocationConfiguration.Output, instances, Options.Format(result, output));
            return ExitCodes.Success;
        });
        return command;
    }
}
