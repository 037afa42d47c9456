using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.CommandLine.Parsing;

namespace RunCommand.Cli.Commands;

/// <summary>
/// az's "Examples" section at the end of a verb's <c>--help</c>. System.CommandLine's own help prints the rest; its
/// help option's action is wrapped (the library's way to add to help, as its HelpBuilder layout is not public), so
/// usage, options and examples come from one <c>--help</c>. The examples use the names <c>runcmd up</c> gives (group
/// <c>default</c>, a VM named after the host), so each runs as written right after it.
/// </summary>
internal static class HelpExamples
{
    /// <summary>One example: what it does (az's "summary"), then the command line.</summary>
    internal sealed record Example(string Summary, string CommandLine);

    /// <summary>The examples of each verb, by its path under <c>runcmd</c>.</summary>
    internal static readonly IReadOnlyDictionary<string, Example[]> ByCommand = new Dictionary<string, Example[]>(StringComparer.Ordinal)
    {
        ["vm list"] =
        [
            new("List the machines and their agents' status as a table.", "runcmd vm list -o table"),
            new("List the names of the machines of one resource group.", "runcmd vm list -g default --query \"[].name\" -o tsv"),
        ],
        ["vm run-command create"] =
        [
            new("Run a script and wait for it; the output is in instanceView.output.",
                "runcmd vm run-command create -g default --vm-name $(hostname) -n hello --script 'echo Hello World!'"),
            new("Run a script from a file with a parameter (an environment variable) and a secret read from a file.",
                "runcmd vm run-command create -g default --vm-name $(hostname) -n deploy --script @deploy.sh --parameters env=prod --protected-parameters @token.txt"),
            new("Start a script without waiting for it, then follow its output.",
                "runcmd vm run-command create -g default --vm-name $(hostname) -n count --no-wait --script 'for i in 1 2 3; do echo $i; sleep 1; done'"),
            new("Run a command document (see vm run-command list --location local).",
                "runcmd vm run-command create -g default --vm-name $(hostname) -n net --command-id ifconfig"),
        ],
        ["vm run-command update"] =
        [
            new("Change a run command's script; it runs again.",
                "runcmd vm run-command update -g default --vm-name $(hostname) -n hello --script 'echo Hello again'"),
            new("Change the parameters of a run command given by its id.",
                "runcmd vm run-command update --ids $(runcmd vm run-command show -g default --vm-name $(hostname) -n hello --query id -o tsv) --parameters who=you"),
        ],
        ["vm run-command show"] =
        [
            new("Print the output of a run command's latest execution.",
                "runcmd vm run-command show -g default --vm-name $(hostname) -n hello --instance-view --query instanceView.output -o tsv"),
            new("Show the state and exit code of a run command.",
                "runcmd vm run-command show -g default --vm-name $(hostname) -n hello --instance-view --query \"instanceView.{state:executionState, exitCode:exitCode}\""),
            new("Show a command document with its script and parameters.", "runcmd vm run-command show --command-id ifconfig --location local"),
        ],
        ["vm run-command list"] =
        [
            new("List the run commands of a VM as a table.", "runcmd vm run-command list -g default --vm-name $(hostname) -o table"),
            new("List the run commands whose script failed.",
                "runcmd vm run-command list -g default --vm-name $(hostname) --instance-view --query \"[?instanceView.executionState=='Failed'].name\" -o tsv"),
            new("List the command documents of a location (their ids go to --command-id).", "runcmd vm run-command list --location local -o table"),
        ],
        ["vm run-command delete"] =
        [
            new("Delete a run command without being asked, printing nothing.",
                "runcmd vm run-command delete -g default --vm-name $(hostname) -n hello --yes -o none"),
            new("Delete the run commands whose script failed.",
                "runcmd vm run-command delete --yes --ids $(runcmd vm run-command list -g default --vm-name $(hostname) --instance-view --query \"[?instanceView.executionState=='Failed'].id\" -o tsv)"),
        ],
        ["vm run-command wait"] =
        [
            new("Wait until a run command started with --no-wait has succeeded.",
                "runcmd vm run-command wait -g default --vm-name $(hostname) -n count --created"),
            new("Wait until a run command is deleted, for at most a minute.",
                "runcmd vm run-command wait -g default --vm-name $(hostname) -n count --deleted --timeout 60"),
        ],
        ["vm run-command logs"] =
        [
            new("Print everything a run command's script wrote so far.", "runcmd vm run-command logs -g default --vm-name $(hostname) -n count"),
            new("Follow the output until the script ends; the exit code is the script's.",
                "runcmd vm run-command logs -g default --vm-name $(hostname) -n count --follow"),
        ],
        ["vm run-command invoke"] =
        [
            new("Run shell lines and print az's {\"value\":[...]} result.",
                "runcmd vm run-command invoke -g default -n $(hostname) --command-id RunShellScript --scripts 'uname -a'"),
            new("Run lines with a positional parameter and print only the message.",
                "runcmd vm run-command invoke -g default -n $(hostname) --command-id RunShellScript --scripts 'echo \"$1\"' --parameters hello --query \"value[0].message\" -o tsv"),
        ],
        ["fleet run-command create"] =
        [
            new("Run a script on every machine of a resource group, two at a time; prints each machine's output, then a summary.",
                "runcmd fleet run-command create -g default -n uptime --target-resource-group default --script 'uptime' --max-concurrency 2"),
            new("Run a script on one machine and print only the run's final state (a query prints the result, not the outputs).",
                "runcmd fleet run-command create -g default --target-vms $(hostname) --script 'uptime' --query provisioningState -o tsv"),
        ],
        ["fleet run-command show"] =
        [
            new("Print each machine's output and a summary of a fleet run.", "runcmd fleet run-command show -g default -n uptime"),
            new("Show the state of each target of a fleet run as a table.",
                "runcmd fleet run-command show -g default -n uptime --query \"instanceView.targets[].{machine:resourceId, state:state, exitCode:exitCode}\" -o table"),
        ],
    };

    /// <summary>Makes every <c>--help</c> under <paramref name="root"/> end with the verb's examples.</summary>
    public static void Enable(RootCommand root)
    {
        var help = root.Options.OfType<HelpOption>().Single();
        if (help.Action is HelpAction action)
        {
            help.Action = new WithExamples(action);
        }
    }

    /// <summary>The path under runcmd of the verb whose help was asked for ("vm run-command create"), "" for the root.</summary>
    private static string PathOf(ParseResult parseResult)
    {
        var names = new List<string>();
        for (var result = parseResult.CommandResult; result.Command is not RootCommand; result = (CommandResult)result.Parent!)
        {
            names.Insert(0, result.Command.Name);
        }

        return string.Join(' ', names);
    }

    /// <summary>az's layout: a heading, each summary indented 4, its command line 8.</summary>
    internal static void Write(TextWriter output, IReadOnlyList<Example> examples)
    {
        output.WriteLine("Examples:");
        foreach (var example in examples)
        {
            output.WriteLine($"    {example.Summary}");
            output.WriteLine($"        {example.CommandLine}");
            output.WriteLine();
        }
    }

    private sealed class WithExamples(HelpAction help) : SynchronousCommandLineAction
    {
        public override bool ClearsParseErrors => true;

        public override int Invoke(ParseResult parseResult)
        {
            var exitCode = help.Invoke(parseResult);
            if (ByCommand.TryGetValue(PathOf(parseResult), out var examples))
            {
                Write(parseResult.InvocationConfiguration.Output, examples);
            }

            return exitCode;
        }
    }
}
