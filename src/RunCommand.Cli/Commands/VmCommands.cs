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
        agent.Subcommands.Add(EnrollmentTokens());
        agent.Subcommands.Add(AgentInstallCommand.Create());
        return agent;
    }

    /// <summary><c>vm agent enrollment-token create|list|revoke -g RG</c>: tokens agents of one resource group enroll with.</summary>
    private static Command EnrollmentTokens()
    {
        var tokens = new Command("enrollment-token", "Manage enrollment tokens limited to one resource group, with expiry and a use count.");

        var (group, subscription) = (Options.ResourceGroup(), Options.Subscription());
        var expiresIn = new Option<string>("--expires-in") { Description = "Lifetime, e.g. 1d, 12h (default: never expires).", HelpName = "duration" };
        var maxUses = new Option<int?>("--max-uses") { Description = "How many agents may enroll with it (default: unlimited)." };
        var vmss = new Option<string>("--vmss-name") { Description = "Only instances of this scale set may enroll with it (default: any VM or scale set of the resource group)." };
        var create = new Command("create", "Create an enrollment token; prints it once. Give it to the agent with --enroll-token-file.") { group, expiresIn, maxUses, vmss, subscription };
        create.SetAction(async (result, cancellationToken) =>
        {
            var lifetime = result.GetValue(expiresIn) is { } text ? AuthCommands.ParseDuration(text) : (TimeSpan?)null;
            using var session = Session.Open();
            var created = await session.Client.CreateEnrollmentTokenAsync(
                await session.SubscriptionAsync(result.GetValue(subscription), cancellationToken), result.GetValue(group)!, lifetime, result.GetValue(maxUses), cancellationToken, result.GetValue(vmss));
            result.InvocationConfiguration.Output.WriteLine(System.Text.Json.JsonSerializer.Serialize(created, AuthCommands.Indented.EnrollmentTokenResource));
            return ExitCodes.Success;
        });
        tokens.Subcommands.Add(create);

        var (group2, subscription2) = (Options.ResourceGroup(), Options.Subscription());
        var list = new Command("list", "List a resource group's enrollment tokens (never their values).") { group2, subscription2 };
        list.SetAction(async (result, cancellationToken) =>
        {
            using var session = Session.Open();
            var listed = await session.Client.ListEnrollmentTokensAsync(
                await session.SubscriptionAsync(result.GetValue(subscription2), cancellationToken), result.GetValue(group2)!, cancellationToken);
            result.InvocationConfiguration.Output.WriteLine(System.Text.Json.JsonSerializer.Serialize(listed, AuthCommands.Indented.IReadOnlyListEnrollmentTokenResource));
            return ExitCodes.Success;
        });
        tokens.Subcommands.Add(list);

        var (group3, subscription3) = (Options.ResourceGroup(), Options.Subscription());
        var id = new Option<string>("--id") { Description = "Id of the token.", Required = true };
        var revoke = new Command("revoke", "Revoke an enrollment token: no agent can enroll with it any more (enrolled agents keep their credential).") { group3, id, subscription3 };
        revoke.SetAction(async (result, cancellationToken) =>
        {
            using var session = Session.Open();
            await session.Client.RevokeEnrollmentTokenAsync(
                await session.SubscriptionAsync(result.GetValue(subscription3), cancellationToken), result.GetValue(group3)!, result.GetValue(id)!, cancellationToken);
            return ExitCodes.Success;
        });
        tokens.Subcommands.Add(revoke);
        return tokens;
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
