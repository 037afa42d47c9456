using System.CommandLine;
using System.Net;
using RunCommand.Cli.Input;
using RunCommand.Cli.Output;
using RunCommand.Client;
using RunCommand.Contracts.Arm;

namespace RunCommand.Cli.Commands;

/// <summary>
/// <c>runcmd vm run-command create|update|show|list|delete|wait|logs|invoke|document</c>, as in <c>az vm run-command</c>;
/// <c>list</c> and <c>show</c> also answer az's document forms (<c>--location</c>, <c>--command-id</c>).
/// </summary>
internal static class RunCommandCommands
{
    /// <summary>Environment variable read when --run-as-password is not given.</summary>
    public const string RunAsPasswordVariable = "RUNCMD_RUN_AS_PASSWORD";

    /// <summary>The group for VMs, or with <paramref name="scaleSet"/> for scale-set instances (<c>vmss run-command</c>).</summary>
    public static Command Create(bool scaleSet = false)
    {
        var group = new Command("run-command", scaleSet
            ? "Manage run commands on a scale-set instance (like az vmss run-command): --vmss-name and --instance-id name it."
            : "Manage run commands on a virtual machine (like az vm run-command).");
        group.Subcommands.Add(CreateOrUpdate(isUpdate: false, scaleSet));
        group.Subcommands.Add(CreateOrUpdate(isUpdate: true, scaleSet));
        group.Subcommands.Add(Show(scaleSet));
        group.Subcommands.Add(List(scaleSet));
        group.Subcommands.Add(Delete(scaleSet));
        group.Subcommands.Add(Wait(scaleSet));
        group.Subcommands.Add(Logs(scaleSet));
        group.Subcommands.Add(CommandDocumentCommands.Invoke(scaleSet));
        if (!scaleSet)
        {
            group.Subcommands.Add(CommandDocumentCommands.Document());
        }

        return group;
    }

    private static Command CreateOrUpdate(bool isUpdate, bool scaleSet)
    {
        var name = Options.RunCommandName(required: !isUpdate);
        var machine = MachineOptions.For(scaleSet, required: !isUpdate);
        var group = Options.ResourceGroup(required: !isUpdate);
        var ids = ResourceIds.Option("run commands");
        var subscription = Options.Subscription();
        var output = Options.Output();
        var noWait = Options.NoWait();
        var script = new Option<string>("--script")
        {
            Description = "Inline script to run (bash unless it starts with a shebang). '@FILE' reads it from FILE.",
        };
        var scriptUri = new Option<string>("--script-uri") { Description = "URL the agent downloads the script from." };
        var commandId = new Option<string>("--command-id")
        {
            Description = "Command document to run (see `vm run-command list --location`), e.g. ifconfig or a custom one; its parameters "
                + "are checked and defaulted by the server. RunShellScript needs script lines: use --script, or `vm run-command invoke`.",
        };
        var parameters = new Option<string[]>("--parameters")
        {
            Description = "Script parameters, space-separated: name=value becomes an environment variable (split at the first '='), "
                + "a bare value is a positional argument; '=value' is a positional value that may contain '=' or start with '@'. "
                + "'@FILE' reads one item (name=value or value) from FILE, less one trailing newline.",
            AllowMultipleArgumentsPerToken = true,
            HelpName = "name=value|value|@FILE",
        };
        var protectedParameters = new Option<string[]>("--protected-parameters")
        {
            Description = "Secret script parameters, space-separated: name=value becomes an environment variable, a bare value a "
                + "positional argument ('=value' keeps an '=' or a leading '@'). Stored encrypted, never returned by the API, and "
                + "never put on the script's command line. Given here, a value is on runcmd's own command line (the process list) "
                + "while it runs: '@FILE' reads one item (name=value or value) from FILE instead, less one trailing newline.",
            AllowMultipleArgumentsPerToken = true,
            HelpName = "name=value|value|@FILE",
        };
        var timeout = new Option<int>("--timeout-in-seconds") { Description = "Stop the script after this many seconds (0: no limit)." };
        var asyncExecution = new Option<bool>("--async-execution")
        {
            Description = "Complete the operation as soon as the script starts instead of when it ends.",
            HelpName = "true|false",
        };
        var runAsUser = new Option<string>("--run-as-user") { Description = "Run the script as this user." };
        var runAsPassword = new Option<string>("--run-as-password")
        {
            Description = "Password of --run-as-user (never shown by the API). '@FILE' reads it from FILE, which keeps it out of "
                + $"the process list; so does setting {RunAsPasswordVariable} instead.",
        };
        var outputBlobUri = new Option<string>("--output-blob-uri") { Description = "Append blob (with SAS) receiving stdout." };
        var errorBlobUri = new Option<string>("--error-blob-uri") { Description = "Append blob (with SAS) receiving stderr." };
        const string IdentityHelp = " clientId=ID, objectId=ID, or {} for the system-assigned identity; self-hosted, it names a "
            + "storage credential configured on the agent (--storage-credentials), used when the URL has no SAS.";
        var outputBlobIdentity = new Option<string>("--output-blob-managed-identity", "--output-blob-mi")
        {
            Description = "Identity that writes --output-blob-uri:" + IdentityHelp,
            HelpName = "clientId=ID|objectId=ID|{}",
        };
        var errorBlobIdentity = new Option<string>("--error-blob-managed-identity", "--error-blob-mi")
        {
            Description = "Identity that writes --error-blob-uri:" + IdentityHelp,
            HelpName = "clientId=ID|objectId=ID|{}",
        };
        var scriptUriIdentity = new Option<string>("--script-uri-managed-identity", "--script-uri-mi")
        {
            Description = "Identity that reads --script-uri:" + IdentityHelp,
            HelpName = "clientId=ID|objectId=ID|{}",
        };
        var treatFailure = new Option<bool>("--treat-failure-as-deployment-failure")
        {
            Description = "Make provisioningState Failed when the script fails.",
            HelpName = "true|false",
        };
        var location = new Option<string>("--location", "-l")
        {
            Description = "Location. Default: the VM's location, else the subscription's, else 'local'.",
        };
        var tags = new Option<string[]>("--tags")
        {
            Description = "Space-separated tags: key[=value].",
            AllowMultipleArgumentsPerToken = true,
            HelpName = "key=value",
        };

        var command = isUpdate
            ? new Command("update", "Update the given properties of a run command (PATCH); a changed script runs again.")
            : new Command("create", "Create or replace a run command and run it; waits until the script ends (with --async-execution: until it starts) unless --no-wait, "
                + "showing its state on stderr as it changes. Exit code 1 when the script did not succeed.\n"
                + "A create identical to the existing run command (same script, parameters and settings) does not run again: it prints the "
                + "earlier result and says so on stderr. To run it again, delete it first (vm run-command delete --yes) or change something.");
        foreach (var option in new Option[]
        {
            name, group, script, scriptUri, commandId, parameters, protectedParameters, timeout, asyncExecution,
            runAsUser, runAsPassword, outputBlobUri, errorBlobUri, outputBlobIdentity, errorBlobIdentity, scriptUriIdentity,
            treatFailure, location, tags, noWait, subscription, output,
        })
        {
            command.Options.Add(option);
        }

        command.Add(machine);
        if (isUpdate)
        {
            command.Options.Add(ids);
        }

        command.SetAction(async (result, cancellationToken) =>
        {
            var sources = new[] { Options.IfGiven(result, script), Options.IfGiven(result, scriptUri), Options.IfGiven(result, commandId) }
                .Count(s => s is not null);
            if (sources > 1)
            {
                throw CliException.Usage("give only one of --script, --script-uri and --command-id");
            }

            if (!isUpdate && sources == 0)
            {
                throw CliException.Usage("give the script to run with --script, --script-uri or --command-id");
            }

            if (Options.IfGiven(result, scriptUriIdentity) is not null && Options.IfGiven(result, scriptUri) is null)
            {
                throw CliException.Usage("--script-uri-managed-identity goes with --script-uri");
            }

            if (Options.IfGiven(result, timeout) is < 0)
            {
                throw CliException.Usage("--timeout-in-seconds must be 0 (no limit) or more");
            }

            var givenIds = isUpdate ? ResourceIds.Given(result, ids, [name, group, .. machine.All]) : null;
            if (givenIds is null && isUpdate)
            {
                RequireNames(result, name, group, machine);
            }

            using var session = Session.Open();

            var source = sources == 0
                ? null
                : new RunCommandSource
                {
                    Script = ReadScript(Options.IfGiven(result, script)),
                    ScriptUri = Options.IfGiven(result, scriptUri),
                    CommandId = Options.IfGiven(result, commandId),
                    ScriptUriManagedIdentity = ManagedIdentityParser.Parse("--script-uri-managed-identity", Options.IfGiven(result, scriptUriIdentity)),
                };
            var givenParameters = Options.IfGiven(result, parameters);
            var givenProtected = Options.IfGiven(result, protectedParameters);
            var givenTags = Options.IfGiven(result, tags);
            var properties = new RunCommandProperties
            {
                Source = source,
                Parameters = givenParameters is null ? null : ParameterParser.ParseArguments("--parameters", givenParameters, secret: false),
                ProtectedParameters = givenProtected is null ? null : ParameterParser.ParseArguments("--protected-parameters", givenProtected, secret: true),
                TimeoutInSeconds = Options.IfGiven(result, timeout),
                AsyncExecution = Options.IfGiven(result, asyncExecution),
                RunAsUser = Options.IfGiven(result, runAsUser),
                RunAsPassword = RunAsPassword(Options.IfGiven(result, runAsPassword), Options.IfGiven(result, runAsUser) is not null),
                OutputBlobUri = Options.IfGiven(result, outputBlobUri),
                ErrorBlobUri = Options.IfGiven(result, errorBlobUri),
                OutputBlobManagedIdentity = ManagedIdentityParser.Parse("--output-blob-managed-identity", Options.IfGiven(result, outputBlobIdentity)),
                ErrorBlobManagedIdentity = ManagedIdentityParser.Parse("--error-blob-managed-identity", Options.IfGiven(result, errorBlobIdentity)),
                TreatFailureAsDeploymentFailure = Options.IfGiven(result, treatFailure),
            };

            var format = Options.Format(result, output);
            if (givenIds is not null)
            {
                // az applies an update to each id in turn and prints each result.
                var exitCode = ExitCodes.Success;
                foreach (var id in givenIds)
                {
                    exitCode = Math.Max(exitCode, await WriteAsync(ResourceIds.RunCommand(id)));
                }

                return exitCode;
            }

            return await WriteAsync(machine.Command(result, await session.SubscriptionAsync(result.GetValue(subscription), cancellationToken), result.GetValue(group)!, result.GetValue(name)!));

            async Task<int> WriteAsync(RunCommandRef target)
            {
                ArmResponse<RunCommandResource> response;
                if (isUpdate)
                {
                    var patch = new RunCommandResource
                    {
                        Location = Options.IfGiven(result, location),
                        Tags = givenTags is null ? null : ParameterParser.ParseTags(givenTags),
                        Properties = properties,
                    };
                    if (patch == new RunCommandResource { Properties = new RunCommandProperties() })
                    {
                        throw CliException.Usage("nothing to update: give at least one property, e.g. --script or --parameters");
                    }

                    response = await session.Client.PatchAsync(target, patch, cancellationToken);
                }
                else
                {
                    var resource = new RunCommandResource
                    {
                        Location = Options.IfGiven(result, location) ?? await DefaultLocationAsync(session, target, cancellationToken),
                        Tags = givenTags is null ? null : ParameterParser.ParseTags(givenTags),
                        Properties = properties,
                    };
                    response = await session.Client.CreateOrUpdateAsync(target, resource, cancellationToken);
                }

                if (response.Unchanged)
                {
                    result.InvocationConfiguration.Error.WriteLine(
                        $"Unchanged: run command '{target.Name}' already has this script, parameters and settings, so it did not run again; "
                        + "this is its earlier result. To run it again: vm run-command delete ... --yes, then create (or change something).");
                }

                if (result.GetValue(noWait))
                {
                    if (response.Body is not null)
                    {
                        Renderer.RunCommand(result.InvocationConfiguration.Output, response.Body, format);
                    }

                    return ExitCodes.Success;
                }

                return await WaitAndShowAsync(session.Client, target, response.OperationUrl, format, result.InvocationConfiguration, cancellationToken);
            }
        });
        return command;
    }

    /// <summary>
    /// Waits for the operation, prints the run command with its instance view, and turns the outcome into the exit code:
    /// 1 when the operation failed or the script ended in any state but Succeeded; a script still running (async
    /// execution) is not a failure.
    /// </summary>
    private static async Task<int> WaitAndShowAsync(
        RunCommandClient client, RunCommandRef target, Uri? operationUrl, OutputSettings format, InvocationConfiguration console,
        CancellationToken cancellationToken)
    {
        AsyncOperation? operation = null;
        RunCommandResource resource;
        var progress = new WaitProgress(client, target, console.Error);
        if (operationUrl is not null)
        {
            try
            {
                await progress.ReportAsync(cancellationToken);
                operation = await client.WaitForOperationAsync(operationUrl, WaitProgress.PollSeconds, progress.ReportAsync, cancellationToken);
                resource = await client.GetAsync(target, expandInstanceView: true, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                // Ctrl-C stops the wait, not the run (as in az): say so, and how to find the run again.
                throw new CliException(
                    $"stopped waiting; run command '{target.Name}' goes on on the machine. See it with: {ShowCommandLine(target)}",
                    ExitCodes.Interrupted);
            }
        }
        else
        {
            // A server that gives no operation to long-poll: watch the resource itself until it settles.
            while (true)
            {
                resource = await client.GetAsync(target, expandInstanceView: true, cancellationToken);
                if (resource.Properties?.ProvisioningState is not ("Creating" or "Updating" or "Deleting" or null))
                {
                    break;
                }

                await progress.ReportAsync(cancellationToken);

                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
            }
        }

        Renderer.RunCommand(console.Output, resource, format);

        if (operation is { Status: not OperationStatus.Succeeded })
        {
            var why = operation.Error is { } error ? ArmRequestException.Describe(error) : $"the operation ended {operation.Status}";
            console.Error.WriteLine($"ERROR: {why}");
            return ExitCodes.Failure;
        }

        var view = resource.Properties?.InstanceView;
        if (view is not null && ExecutionStates.IsTerminal(view.ExecutionState) && view.ExecutionState != ExecutionStates.Succeeded)
        {
            console.Error.WriteLine(
                $"ERROR: the script ended {view.ExecutionState}"
                + (view.ExitCode is { } code ? $" with exit code {code}" : "")
                + (string.IsNullOrEmpty(view.ExecutionMessage) ? "" : $": {view.ExecutionMessage}"));
            return ExitCodes.Failure;
        }

        return ExitCodes.Success;
    }

    /// <summary>The <c>runcmd ... run-command show</c> line that shows <paramref name="target"/> with its instance view.</summary>
    private static string ShowCommandLine(RunCommandRef target) => target.ScaleSetName is { } scaleSet
        ? $"runcmd vmss run-command show -g {target.ResourceGroup} --vmss-name {scaleSet} --instance-id {target.VmName} -n {target.Name} --instance-view"
        : $"runcmd vm run-command show -g {target.ResourceGroup} --vm-name {target.VmName} -n {target.Name} --instance-view";

    private static async Task<string> DefaultLocationAsync(Session session, RunCommandRef target, CancellationToken cancellationToken)
    {
        try
        {
            return (await session.Client.GetVmAsync(target.Vm, cancellationToken)).Location;
        }
        catch (ArmRequestException e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return session.Config.DefaultLocation ?? "local";
        }
    }

    /// <summary>--run-as-password as given, read from '@FILE', or from the environment when only --run-as-user is given.</summary>
    private static string? RunAsPassword(string? given, bool userGiven)
    {
        if (given is null)
        {
            return !userGiven ? null : Environment.GetEnvironmentVariable(RunAsPasswordVariable) is { Length: > 0 } fromEnvironment ? fromEnvironment : null;
        }

        if (!given.StartsWith('@') || given.Length == 1)
        {
            return given;
        }

        // The path is not echoed: a password that happens to start with '@' would otherwise be printed.
        var path = given[1..];
        return File.Exists(path)
            ? File.ReadAllText(path).TrimEnd('\r', '\n')
            : throw CliException.Usage("--run-as-password: the file given after '@' does not exist "
                + $"(to keep a password out of the process list, set {RunAsPasswordVariable} instead)");
    }

    private static string? ReadScript(string? script)
    {
        if (script is null || !script.StartsWith('@') || script.Length == 1)
        {
            return script;
        }

        var path = script[1..];
        return File.Exists(path)
            ? File.ReadAllText(path)
            : throw CliException.Usage($"--script: the file {path} does not exist (to run a script starting with '@', put a space before it)");
    }

    private static Command Show(bool scaleSet)
    {
        var (name, machine, group, subscription, output) = (Options.RunCommandName(required: false), MachineOptions.For(scaleSet, required: false), Options.ResourceGroup(required: false), Options.Subscription(), Options.Output());
        var instanceView = new Option<bool>("--instance-view") { Description = "Include the instance view (state, exit code, output tail)." };
        var expand = Expand();
        var commandId = CommandDocumentCommands.CommandId(required: false);
        var location = CommandDocumentCommands.Location();
        var ids = ResourceIds.Option("run commands");
        var command = new Command("show", "Show a run command (-g, --vm-name, -n, or --ids), or with --command-id a command document of a location (az's form).")
        {
            name, machine, group, ids, instanceView, expand, commandId, location, subscription, output,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            if (Options.IfGiven(result, commandId) is { } id)
            {
                return await CommandDocumentCommands.ShowAsync(result, result.GetValue(subscription), Options.IfGiven(result, location), id, Options.Format(result, output), cancellationToken);
            }

            var expandView = result.GetValue(instanceView) || result.GetValue(expand) is not null;
            if (ResourceIds.Given(result, ids, [name, group, .. machine.All]) is { } givenIds)
            {
                using var byId = Session.Open();
                var shown = new List<RunCommandResource>();
                foreach (var resourceId in givenIds)
                {
                    shown.Add(await byId.Client.GetAsync(ResourceIds.RunCommand(resourceId), expandView, cancellationToken));
                }

                // One id prints the resource, several a list of them (as az).
                if (shown.Count == 1)
                {
                    Renderer.RunCommand(result.InvocationConfiguration.Output, shown[0], Options.Format(result, output));
                }
                else
                {
                    Renderer.RunCommands(result.InvocationConfiguration.Output, shown, Options.Format(result, output));
                }

                return ExitCodes.Success;
            }

            RequireAll(result, "show", [group, .. machine.All, name]);
            using var session = Session.Open();
            var target = machine.Command(result, await session.SubscriptionAsync(result.GetValue(subscription), cancellationToken), result.GetValue(group)!, result.GetValue(name)!);
            var resource = await session.Client.GetAsync(target, result.GetValue(instanceView) || result.GetValue(expand) is not null, cancellationToken);
            Renderer.RunCommand(result.InvocationConfiguration.Output, resource, Options.Format(result, output));
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command List(bool scaleSet)
    {
        var (machine, group, subscription, output) = (MachineOptions.For(scaleSet, required: false), Options.ResourceGroup(required: false), Options.Subscription(), Options.Output());
        var expand = Expand();
        var instanceView = new Option<bool>("--instance-view") { Description = "Include each run command's instance view." };
        var location = CommandDocumentCommands.Location();
        var ids = ResourceIds.Option(scaleSet ? "scale-set instances" : "virtual machines");
        var command = new Command("list", "List the run commands of a virtual machine (-g, --vm-name, or --ids), or with --location and no --vm-name the command documents of that location (az's form).")
        {
            machine, group, ids, instanceView, expand, location, subscription, output,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            if (ResourceIds.Given(result, ids, [group, .. machine.All]) is { } givenIds)
            {
                using var byId = Session.Open();
                var all = new List<RunCommandResource>();
                foreach (var id in givenIds)
                {
                    all.AddRange(await byId.Client.ListAsync(ResourceIds.Vm(id), result.GetValue(instanceView) || result.GetValue(expand) is not null, cancellationToken));
                }

                Renderer.RunCommands(result.InvocationConfiguration.Output, all, Options.Format(result, output));
                return ExitCodes.Success;
            }

            if (Options.IfGiven(result, location) is { } where && machine.IsAbsent(result))
            {
                return await CommandDocumentCommands.ListAsync(result, result.GetValue(subscription), where, Options.Format(result, output), cancellationToken);
            }

            RequireAll(result, "list", [group, .. machine.All]);
            using var session = Session.Open();
            var vm = machine.Vm(result, await session.SubscriptionAsync(result.GetValue(subscription), cancellationToken), result.GetValue(group)!);
            var items = await session.Client.ListAsync(vm, result.GetValue(instanceView) || result.GetValue(expand) is not null, cancellationToken);
            Renderer.RunCommands(result.InvocationConfiguration.Output, items, Options.Format(result, output));
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>The options a run command's own form needs, when the document form was not chosen.</summary>
    private static void RequireAll(ParseResult result, string verb, params Option<string>[] options)
    {
        var missing = options.Where(o => string.IsNullOrEmpty(result.GetValue(o))).Select(o => o.Name).ToList();
        if (missing.Count > 0)
        {
            var document = verb == "list" ? "--location (command documents)" : "--command-id (a command document)";
            throw CliException.Usage($"give {string.Join(", ", missing)} (a VM's run command{(verb == "list" ? "s" : "")}), or {document}");
        }
    }

    /// <summary>az's <c>--expand</c>: instanceView, in any case (ARM's <c>$expand</c> is case-insensitive).</summary>
    private static Option<string> Expand()
    {
        var option = new Option<string>("--expand")
        {
            Description = "Expand the response: instanceView.",
            HelpName = "instanceView",
            CustomParser = result => result.Tokens.Count == 0 ? null
                : string.Equals(result.Tokens[^1].Value, "instanceView", StringComparison.OrdinalIgnoreCase) ? "instanceView" : result.Tokens[^1].Value,
        };
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<string>() is { } value && value != "instanceView")
            {
                result.AddError($"argument --expand: invalid choice: '{value}' (choose from 'instanceView')");
            }
        });
        return option;
    }

    private static Command Delete(bool scaleSet)
    {
        var (name, machine, group, subscription, noWait) = (Options.RunCommandName(required: false), MachineOptions.For(scaleSet, required: false), Options.ResourceGroup(required: false), Options.Subscription(), Options.NoWait());
        var ids = ResourceIds.Option("run commands");
        var yes = new Option<bool>("--yes", "-y") { Description = "Do not prompt for confirmation (asked only when stdin is a terminal)." };
        var output = Options.OutputOfNoResult(rawText: false);
        var command = new Command("delete", "Delete a run command (-g, --vm-name, -n, or --ids); a running script is stopped. Asks for confirmation on a terminal unless --yes.")
        {
            name, machine, group, ids, yes, noWait, subscription, output,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            Options.RefuseQuery(result, CommandName(scaleSet, "delete"));
            var givenIds = ResourceIds.Given(result, ids, [name, group, .. machine.All]);
            if (givenIds is null)
            {
                RequireNames(result, name, group, machine);
            }

            if (!result.GetValue(yes) && !Confirm(result.InvocationConfiguration.Error))
            {
                throw new CliException("Operation cancelled.", ExitCodes.Failure);
            }

            using var session = Session.Open();
            if (givenIds is not null)
            {
                var exitCode = ExitCodes.Success;
                foreach (var id in givenIds)
                {
                    exitCode = Math.Max(exitCode, await DeleteAsync(ResourceIds.RunCommand(id)));
                }

                return exitCode;
            }

            return await DeleteAsync(machine.Command(result, await session.SubscriptionAsync(result.GetValue(subscription), cancellationToken), result.GetValue(group)!, result.GetValue(name)!));

            async Task<int> DeleteAsync(RunCommandRef target)
            {
                var operationUrl = await session.Client.DeleteAsync(target, cancellationToken);
                if (operationUrl is null || result.GetValue(noWait))
                {
                    return ExitCodes.Success;
                }

                var operation = await session.Client.WaitForOperationAsync(operationUrl, cancellationToken);
                if (operation.Status != OperationStatus.Succeeded)
                {
                    var why = operation.Error is { } error ? ArmRequestException.Describe(error) : $"the delete ended {operation.Status}";
                    result.InvocationConfiguration.Error.WriteLine($"ERROR: {why}");
                    return ExitCodes.Failure;
                }

                return ExitCodes.Success;
            }
        });
        return command;
    }

    /// <summary>"vm run-command delete", or the vmss one, as a message names the verb.</summary>
    private static string CommandName(bool scaleSet, string verb) => $"{(scaleSet ? "vmss" : "vm")} run-command {verb}";

    /// <summary>az's confirmation: asked only when stdin is a terminal (a script without --yes is not stopped by it).</summary>
    private static bool Confirm(TextWriter prompt)
    {
        if (Console.IsInputRedirected)
        {
            return true;
        }

        prompt.Write("Are you sure you want to perform this operation? (y/n): ");
        prompt.Flush();
        return Console.ReadLine()?.Trim().ToLowerInvariant() is "y" or "yes";
    }

    /// <summary>Without --ids, the resource's names are all needed.</summary>
    private static void RequireNames(ParseResult result, Option<string> name, Option<string> group, MachineOptions machine)
    {
        var missing = new[] { group }.Concat(machine.All).Append(name).Where(o => string.IsNullOrEmpty(result.GetValue(o))).Select(o => o.Name).ToList();
        if (missing.Count > 0)
        {
            throw CliException.Usage($"give {string.Join(", ", missing)}, or --ids");
        }
    }

    private static Command Wait(bool scaleSet)
    {
        var (name, machine, group, subscription) = (Options.RunCommandName(), MachineOptions.For(scaleSet), Options.ResourceGroup(), Options.Subscription());
        var created = new Option<bool>("--created") { Description = "Wait until created with provisioningState Succeeded." };
        var updated = new Option<bool>("--updated") { Description = "Wait until updated with provisioningState Succeeded." };
        var deleted = new Option<bool>("--deleted") { Description = "Wait until deleted." };
        var exists = new Option<bool>("--exists") { Description = "Wait until the run command exists." };
        var interval = new Option<int>("--interval") { Description = "Polling interval in seconds.", DefaultValueFactory = _ => 1 };
        var timeout = new Option<int>("--timeout") { Description = "Maximum wait in seconds.", DefaultValueFactory = _ => 3600 };
        var output = Options.OutputOfNoResult(rawText: false);
        var command = new Command("wait", "Place the CLI in a waiting state until a condition of the run command is met.")
        {
            name, machine, group, created, updated, deleted, exists, interval, timeout, subscription, output,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            Options.RefuseQuery(result, CommandName(scaleSet, "wait"));
            var conditions = new[] { created, updated, deleted, exists }.Where(o => result.GetValue(o)).ToArray();
            if (conditions.Length != 1)
            {
                throw CliException.Usage("give exactly one of --created, --updated, --deleted and --exists");
            }

            if (result.GetValue(interval) < 1 || result.GetValue(timeout) < 0)
            {
                throw CliException.Usage("--interval must be at least 1 and --timeout at least 0");
            }

            using var session = Session.Open();
            var target = machine.Command(result, await session.SubscriptionAsync(result.GetValue(subscription), cancellationToken), result.GetValue(group)!, result.GetValue(name)!);
            var condition = conditions[0];
            var deadline = DateTimeOffset.UtcNow.AddSeconds(result.GetValue(timeout));
            while (true)
            {
                if (await IsMetAsync(session.Client, target, condition == deleted, condition == exists, cancellationToken))
                {
                    return ExitCodes.Success;
                }

                if (DateTimeOffset.UtcNow >= deadline)
                {
                    throw new CliException($"timed out after {result.GetValue(timeout)} seconds waiting for {condition.Name}", ExitCodes.Failure);
                }

                await Task.Delay(TimeSpan.FromSeconds(result.GetValue(interval)), cancellationToken);
            }
        });
        return command;
    }

    private static async Task<bool> IsMetAsync(RunCommandClient client, RunCommandRef target, bool deleted, bool exists, CancellationToken cancellationToken)
    {
        RunCommandResource resource;
        try
        {
            resource = await client.GetAsync(target, cancellationToken: cancellationToken);
        }
        catch (ArmRequestException e) when (e.StatusCode == HttpStatusCode.NotFound)
        {
            return deleted;
        }

        if (deleted)
        {
            return false;
        }

        if (exists)
        {
            return true;
        }

        return resource.Properties?.ProvisioningState switch
        {
            "Succeeded" => true,
            "Failed" or "Canceled" => throw new CliException(
                $"the run command's provisioningState is {resource.Properties.ProvisioningState}", ExitCodes.Failure),
            _ => false,
        };
    }

    private static Command Logs(bool scaleSet)
    {
        var (name, machine, group, subscription) = (Options.RunCommandName(), MachineOptions.For(scaleSet), Options.ResourceGroup(), Options.Subscription());
        var follow = new Option<bool>("--follow", "-f")
        {
            Description = "Keep printing output as it arrives until the script ends; the exit code is then the script's.",
        };
        var output = Options.OutputOfNoResult(rawText: true);
        var command = new Command("logs", "Print the full stdout (and stderr, to stderr) of the latest execution of a run command.")
        {
            name, machine, group, follow, subscription, output,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            Options.RefuseQuery(result, CommandName(scaleSet, "logs"));
            using var session = Session.Open();
            var target = machine.Command(result, await session.SubscriptionAsync(result.GetValue(subscription), cancellationToken), result.GetValue(group)!, result.GetValue(name)!);
            // -o none: the script's stdout is read (the exit code of --follow is still the script's) but not printed.
            using var stdout = Options.IsNone(result, output) ? Stream.Null : Console.OpenStandardOutput();
            using var stderr = Console.OpenStandardError();
            return await LogFollower.RunAsync(session.Client, target, result.GetValue(follow), stdout, stderr, cancellationToken);
        });
        return command;
    }
}
