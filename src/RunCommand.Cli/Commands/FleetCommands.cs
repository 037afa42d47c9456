using System.CommandLine;
using System.Globalization;
using System.Text;
using RunCommand.Cli.Input;
using RunCommand.Cli.Output;
using RunCommand.Client;
using RunCommand.Contracts.Arm;

namespace RunCommand.Cli.Commands;

/// <summary>
/// <c>runcmd fleet run-command create|show|list|cancel</c>: one script on many machines (RunCommand.Fleet/runs).
/// While a run goes on, one progress line (counts) is rewritten on a terminal or appended when it changes otherwise,
/// on stderr; at the end, stdout gets each machine's output as one block (never interleaved) and a summary.
/// </summary>
internal static class FleetCommands
{
    public static Command Create()
    {
        var fleet = new Command("fleet", "Run commands across many machines at once (beyond Azure), with rate control.");
        var group = new Command("run-command", "Fleet runs: one script on machines chosen by tags, resource group, scale set or list.");
        group.Subcommands.Add(CreateRun());
        group.Subcommands.Add(Show());
        group.Subcommands.Add(List());
        group.Subcommands.Add(Cancel());
        fleet.Subcommands.Add(group);
        return fleet;
    }

    private static Option<string> RunName(bool required) => new("--name", "-n")
    {
        Description = required ? "Name of the fleet run." : "Name of the fleet run (default: fleet-YYYYMMDD-HHMMSS).",
        Required = required,
    };

    /// <summary>Like the shared --output, plus "text" (the default here): each machine's output as a block, then a summary.</summary>
    private static Option<string> Output() => Options.Choice(new Option<string>("--output", "-o")
    {
        Description = "Output format: text (each machine's output grouped, then a summary), or one of az's: json, jsonc, yaml, yamlc, table, tsv, none.",
        DefaultValueFactory = _ => "text",
        HelpName = "text|json|jsonc|yaml|yamlc|table|tsv|none",
    }, ["text", .. Options.Formats]);

    /// <summary>
    /// The format chosen, or null for text (each machine's output, then a summary). A <c>--query</c> needs a result to
    /// apply to: given without <c>-o</c>, it means <c>-o json</c>; with an explicit <c>-o text</c> it is refused.
    /// </summary>
    private static OutputSettings? Format(ParseResult result, Option<string> output)
    {
        if (result.GetValue(output) != "text")
        {
            return Options.Format(result, output);
        }

        if (result.GetValue<string>("--query") is null)
        {
            return null;
        }

        return Options.IfGiven(result, output) is null
            ? Options.Format(result, output) with { Format = OutputFormat.Json }
            : throw CliException.Usage("--query needs a JSON result, and -o text prints each machine's output: give -o json (or another format) with --query");
    }

    private static Command CreateRun()
    {
        var (group, subscription, output, noWait) = (Options.ResourceGroup(), Options.Subscription(), Output(), Options.NoWait());
        var name = RunName(required: false);
        var targetTags = new Option<string[]>("--target-tags")
        {
            Description = "Machines having all these tags, space-separated key=value.",
            AllowMultipleArgumentsPerToken = true,
            HelpName = "key=value",
        };
        var targetGroup = new Option<string>("--target-resource-group") { Description = "Machines of this resource group (VMs and scale-set instances)." };
        var targetVmss = new Option<string>("--target-vmss") { Description = "Instances of this scale set (of -g)." };
        var targetVms = new Option<string[]>("--target-vms")
        {
            Description = "These machines: VM names of -g, or resource ids (VMs or scale-set instances), space-separated.",
            AllowMultipleArgumentsPerToken = true,
            HelpName = "name|id",
        };
        var script = new Option<string>("--script") { Description = "Inline script ('@FILE' reads it from FILE).", Required = true };
        var parameters = new Option<string[]>("--parameters")
        {
            Description = "Script parameters: name=value (environment variable) or value (positional); '@FILE' reads one item from FILE.",
            AllowMultipleArgumentsPerToken = true,
            HelpName = "name=value|value|@FILE",
        };
        var protectedParameters = new Option<string[]>("--protected-parameters")
        {
            Description = "Secret script parameters (name=value or value), stored encrypted and never shown. Given here, a value is "
                + "in runcmd's own process list while it runs: '@FILE' reads one item from FILE instead.",
            AllowMultipleArgumentsPerToken = true,
            HelpName = "name=value|value|@FILE",
        };
        var timeout = new Option<int>("--timeout-in-seconds") { Description = "Stop each target's script after this many seconds (0: no limit)." };
        var maxConcurrency = new Option<string>("--max-concurrency") { Description = "At most this many targets at once: a count (10) or a percentage (10%). Default: all.", HelpName = "N|N%" };
        var maxErrors = new Option<string>("--max-errors") { Description = "Start no new target once more than this many failed: a count or a percentage. Default: no limit.", HelpName = "N|N%" };
        var command = new Command("create",
            "Create a fleet run and follow it: live progress on stderr, then each machine's output grouped and a summary. Exit code 1 unless every target succeeded.")
        {
            name, group, targetTags, targetGroup, targetVmss, targetVms, script, parameters, protectedParameters, timeout, maxConcurrency, maxErrors, noWait, subscription, output,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            var format = Format(result, output);
            var tags = Options.IfGiven(result, targetTags);
            var vms = Options.IfGiven(result, targetVms);
            if (tags is null && vms is null && Options.IfGiven(result, targetGroup) is null && Options.IfGiven(result, targetVmss) is null)
            {
                throw CliException.Usage("choose the machines: --target-tags, --target-resource-group, --target-vmss and/or --target-vms");
            }

            using var session = Session.Open();
            var subscriptionId = await session.SubscriptionAsync(result.GetValue(subscription), cancellationToken);
            var resourceGroup = result.GetValue(group)!;
            var run = new FleetRunRef(subscriptionId, resourceGroup,
                Options.IfGiven(result, name) ?? "fleet-" + DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
            var resource = new FleetRunResource
            {
                Location = session.Config.DefaultLocation ?? (await session.Client.GetDefaultSubscriptionAsync(cancellationToken)).Location ?? "local",
                Properties = new FleetRunProperties
                {
                    Targets = new FleetTargets
                    {
                        Tags = tags is null ? null : ParameterParser.ParseTags(tags),
                        ResourceGroup = Options.IfGiven(result, targetGroup),
                        VirtualMachineScaleSet = Options.IfGiven(result, targetVmss),
                        VirtualMachines = vms?.Select(vm => vm.StartsWith('/')
                            ? vm
                            : $"/subscriptions/{subscriptionId}/resourceGroups/{resourceGroup}/providers/Microsoft.Compute/virtualMachines/{vm}").ToList(),
                    },
                    Source = new RunCommandSource { Script = ReadScript(result.GetValue(script)!) },
                    Parameters = Options.IfGiven(result, parameters) is { } given ? ParameterParser.ParseArguments("--parameters", given, secret: false) : null,
                    ProtectedParameters = Options.IfGiven(result, protectedParameters) is { } secret
                        ? ParameterParser.ParseArguments("--protected-parameters", secret, secret: true)
                        : null,
                    TimeoutInSeconds = Options.IfGiven(result, timeout),
                    MaxConcurrency = Options.IfGiven(result, maxConcurrency),
                    MaxErrors = Options.IfGiven(result, maxErrors),
                },
            };
            var created = await session.Client.CreateFleetRunAsync(run, resource, cancellationToken);
            if (result.GetValue(noWait))
            {
                Renderer.FleetRun(result.InvocationConfiguration.Output, created, format ?? Options.Format(result, output) with { Format = OutputFormat.Table });
                return ExitCodes.Success;
            }

            var final = await FollowAsync(session.Client, run, result.InvocationConfiguration.Error, cancellationToken);
            return await ReportAsync(session.Client, result, final, format, cancellationToken);
        });
        return command;
    }

    private static Command Show()
    {
        var (group, subscription, output) = (Options.ResourceGroup(), Options.Subscription(), Output());
        var name = RunName(required: true);
        var follow = new Option<bool>("--follow", "-f") { Description = "Follow the run until it ends (progress, then output and summary)." };
        var command = new Command("show", "Show a fleet run: counts, each target's state, exit code and output.") { name, group, follow, subscription, output };
        command.SetAction(async (result, cancellationToken) =>
        {
            var format = Format(result, output);
            using var session = Session.Open();
            var run = new FleetRunRef(await session.SubscriptionAsync(result.GetValue(subscription), cancellationToken), result.GetValue(group)!, result.GetValue(name)!);
            var view = result.GetValue(follow)
                ? await FollowAsync(session.Client, run, result.InvocationConfiguration.Error, cancellationToken)
                : await session.Client.GetFleetRunAsync(run, cancellationToken: cancellationToken);
            return await ReportAsync(session.Client, result, view, format, cancellationToken);
        });
        return command;
    }

    private static Command List()
    {
        var (group, subscription, output) = (Options.ResourceGroup(), Options.Subscription(), Options.Output());
        var command = new Command("list", "List the fleet runs of a resource group.") { group, subscription, output };
        command.SetAction(async (result, cancellationToken) =>
        {
            using var session = Session.Open();
            var runs = await session.Client.ListFleetRunsAsync(await session.SubscriptionAsync(result.GetValue(subscription), cancellationToken), result.GetValue(group)!, cancellationToken);
            Renderer.FleetRuns(result.InvocationConfiguration.Output, runs, Options.Format(result, output));
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Cancel()
    {
        var (group, subscription) = (Options.ResourceGroup(), Options.Subscription());
        var name = RunName(required: true);
        var command = new Command("cancel", "Cancel a fleet run: running targets are stopped, no new target starts.") { name, group, subscription };
        command.SetAction(async (result, cancellationToken) =>
        {
            using var session = Session.Open();
            var run = new FleetRunRef(await session.SubscriptionAsync(result.GetValue(subscription), cancellationToken), result.GetValue(group)!, result.GetValue(name)!);
            await session.Client.CancelFleetRunAsync(run, cancellationToken);
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>Long-polls the run until it ends, keeping one progress line up to date on <paramref name="progress"/>.</summary>
    private static async Task<FleetRunResource> FollowAsync(RunCommandClient client, FleetRunRef run, TextWriter progress, CancellationToken cancellationToken)
    {
        var terminal = !Console.IsErrorRedirected;
        string? last = null;
        while (true)
        {
            var view = await client.GetFleetRunAsync(run, waitSeconds: 10, cancellationToken);
            var state = view.Properties?.ProvisioningState ?? "";
            var line = $"{run.Name}: {state} - {Counts(view)}";
            if (line != last)
            {
                // On a terminal the line is rewritten in place; in a log each change is a new line.
                progress.Write(terminal ? "\r\u001b[K" + line : line + "\n");
                last = line;
            }

            if (FleetRunStates.IsTerminal(state))
            {
                if (terminal)
                {
                    progress.WriteLine();
                }

                return view;
            }
        }
    }

    /// <summary>
    /// True when <paramref name="target"/> has ended and its <c>output</c> and <c>error</c> are every byte the server
    /// holds (a short output, the usual case): printing a fleet's report then costs no request per machine. A tail that
    /// was cut (or decoded with replacements), a target still running, or a server that sends no lengths: false.
    /// </summary>
    internal static bool HoldsWholeOutput(FleetTargetStatus target) =>
        ExecutionStates.IsTerminal(target.State)
        && target.OutputLength is { } stdout && Encoding.UTF8.GetByteCount(target.Output ?? "") == stdout
        && target.ErrorLength is { } stderr && Encoding.UTF8.GetByteCount(target.Error ?? "") == stderr;

    private static string Counts(FleetRunResource view)
    {
        var counts = view.Properties?.InstanceView?.Counts ?? new Dictionary<string, int>();
        var total = view.Properties?.InstanceView?.Targets.Count ?? 0;
        var parts = FleetTargetStates.All.Where(s => counts.TryGetValue(s, out var n) && n > 0).Select(s => $"{counts[s]} {s}");
        return $"{total} targets: {string.Join(", ", parts)}";
    }

    /// <summary>
    /// Prints the outcome (<paramref name="format"/> null: each machine's output as a block plus a summary) and turns it
    /// into the exit code.
    /// </summary>
    private static async Task<int> ReportAsync(RunCommandClient client, ParseResult result, FleetRunResource view, OutputSettings? format, CancellationToken cancellationToken)
    {
        var writer = result.InvocationConfiguration.Output;
        if (format is { } chosen)
        {
            Renderer.FleetRun(writer, view, chosen);
        }
        else
        {
            var targets = view.Properties?.InstanceView?.Targets ?? [];
            // Every machine's output is fetched at once (a few requests in flight), then printed in order: one
            // request after another made a fleet's report cost a round trip per machine.
            using var lanes = new SemaphoreSlim(OutputFetchConcurrency);
            var outputs = targets.Select(async target =>
            {
                await lanes.WaitAsync(cancellationToken);
                try
                {
                    return await FullOutputAsync(client, target, view.Properties!.RunCommandName!, cancellationToken);
                }
                finally
                {
                    lanes.Release();
                }
            }).ToList();
            foreach (var (target, output) in targets.Zip(outputs))
            {
                var exit = target.ExitCode is { } code ? $", exit code {code}" : "";
                writer.WriteLine($"=== {MachineName(target.ResourceId)} ({target.State}{exit}) ===");
                var (stdout, stderr) = await output;
                WriteBlock(writer, stdout);
                if (stderr.Length > 0)
                {
                    writer.WriteLine("--- stderr ---");
                    WriteBlock(writer, stderr);
                }

                if (target.State == FleetTargetStates.NotStarted && target.Message is { } why)
                {
                    writer.WriteLine(why);
                }
            }

            writer.WriteLine($"Summary: {view.Name} {view.Properties?.ProvisioningState}; {Counts(view)}");
        }

        var state = view.Properties?.ProvisioningState;
        if (state is FleetRunStates.Running)
        {
            return ExitCodes.Success;
        }

        return state == FleetRunStates.Succeeded ? ExitCodes.Success : ExitCodes.Failure;
    }

    /// <summary>Requests for machines' output in flight at once while a fleet run's report is printed.</summary>
    private const int OutputFetchConcurrency = 8;

    /// <summary>
    /// The whole output of a target: the run's view when its tails are the whole of it, else read from the target's
    /// run command; the 4 KiB tails when that cannot be read (e.g. deleted since).
    /// </summary>
    private static async Task<(string Stdout, string Stderr)> FullOutputAsync(RunCommandClient client, FleetTargetStatus target, string runCommandName, CancellationToken cancellationToken)
    {
        if (target.StartTime is null || HoldsWholeOutput(target) || ParseTarget(target.ResourceId, runCommandName) is not { } command)
        {
            return (target.Output ?? "", target.Error ?? "");
        }

        try
        {
            using var stdout = new MemoryStream();
            using var stderr = new MemoryStream();
            long outOffset = 0, errOffset = 0;
            while (true)
            {
                var logs = await client.GetLogsAsync(command, outOffset, errOffset, 0, cancellationToken);
                stdout.Write(logs.Stdout.Data);
                stderr.Write(logs.Stderr.Data);
                (outOffset, errOffset) = (logs.Stdout.NextOffset, logs.Stderr.NextOffset);
                // Finished: the server holds all of the output and this answer reached its end; no need to ask again.
                if (logs.Finished || (logs.Stdout.Data.Length == 0 && logs.Stderr.Data.Length == 0))
                {
                    return (Encoding.UTF8.GetString(stdout.ToArray()), Encoding.UTF8.GetString(stderr.ToArray()));
                }
            }
        }
        catch (ArmRequestException)
        {
            return (target.Output ?? "", target.Error ?? "");
        }
    }

    private static RunCommandRef? ParseTarget(string resourceId, string runCommandName)
    {
        var parts = resourceId.Split('/');
        return parts.Length switch
        {
            9 => new RunCommandRef(parts[2], parts[4], parts[8], runCommandName),
            11 => new RunCommandRef(parts[2], parts[4], parts[10], runCommandName, parts[8]),
            _ => null,
        };
    }

    /// <summary>"vm1", or "web-ss/3" for a scale-set instance.</summary>
    private static string MachineName(string resourceId)
    {
        var parts = resourceId.Split('/');
        return parts.Length == 11 ? $"{parts[8]}/{parts[10]}" : parts[^1];
    }

    private static void WriteBlock(TextWriter writer, string text)
    {
        writer.Write(text);
        if (text.Length > 0 && !text.EndsWith('\n'))
        {
            writer.WriteLine();
        }
    }

    private static string ReadScript(string script)
    {
        if (!script.StartsWith('@') || script.Length == 1)
        {
            return script;
        }

        var path = script[1..];
        return File.Exists(path) ? File.ReadAllText(path) : throw CliException.Usage($"--script: the file {path} does not exist");
    }
}
