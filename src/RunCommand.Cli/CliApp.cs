using System.CommandLine;
using System.CommandLine.Parsing;
using RunCommand.Cli.Commands;

namespace RunCommand.Cli;

/// <summary>The verb tree and the one place where failures become an <c>ERROR:</c> line and an exit code.</summary>
internal static class CliApp
{
    public static RootCommand CreateRoot()
    {
        var root = new RootCommand(
            "runcmd: run scripts on your Linux machines the way `az vm run-command` does on Azure VMs.\n"
            + "Start everything locally with `./runcmd up`, or point at a server with `./runcmd login`.\n"
            + "`./runcmd server ...` and `./runcmd agent ...` run the server and the agent programs.");
        root.Options.Add(Options.Query());
        root.Subcommands.Add(LoginCommand.Create());
        root.Subcommands.Add(VmCommands.Create());
        root.Subcommands.Add(DeploymentCommands.Create());
        root.Subcommands.Add(VmssCommands.Create());
        root.Subcommands.Add(FleetCommands.Create());
        root.Subcommands.Add(UpCommand.Create());
        foreach (var command in AuthCommands.Create())
        {
            root.Subcommands.Add(command);
        }

        return root;
    }

    /// <summary>"vm run-command create " for the verb the user typed, "" for the root.</summary>
    private static string CommandPath(ParseResult parseResult)
    {
        var names = new List<string>();
        for (var result = parseResult.CommandResult; result.Command is not RootCommand; result = (CommandResult)result.Parent!)
        {
            names.Insert(0, result.Command.Name);
        }

        return string.Concat(names.Select(name => name + " "));
    }

    private static string OneLine(string message) =>
        string.Join(' ', message.Split(['\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        try
        {
            // No response files: '@FILE' values (--script, --run-as-password, --document) are read by the verbs
            // themselves, whole; System.CommandLine would split the file into tokens instead.
            var parseResult = CreateRoot().Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
            if (parseResult.Errors.Count > 0 && parseResult.Action is not { ClearsParseErrors: true })
            {
                await error.WriteLineAsync($"ERROR: {OneLine(parseResult.Errors[0].Message)} (see ./runcmd {CommandPath(parseResult)}--help)");
                return ExitCodes.Usage;
            }

            // A bad --query is a usage error before anything is sent (az checks it at parse time too).
            if (parseResult.GetValue<string>("--query") is { } query)
            {
                Output.JmesQuery.Validate(query);
            }

            return await parseResult.InvokeAsync(
                new InvocationConfiguration
                {
                    EnableDefaultExceptionHandler = false,
                    ProcessTerminationTimeout = null,
                    Output = output,
                    Error = error,
                },
                cancellationToken);
        }
        catch (Exception e)
        {
            var (line, exitCode) = ErrorReport.Describe(e);
            await error.WriteLineAsync(line);
            if (Environment.GetEnvironmentVariable("RUNCMD_DEBUG") == "1")
            {
                await error.WriteLineAsync(e.ToString());
            }

            return exitCode;
        }
    }
}
