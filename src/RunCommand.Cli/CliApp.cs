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
        HelpExamples.Enable(root);
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
    private static string CommandPath(ParseResult parseResult) => CommandPath(parseResult.CommandResult);

    private static string CommandPath(CommandResult command)
    {
        var names = new List<string>();
        for (var result = command; result.Command is not RootCommand; result = (CommandResult)result.Parent!)
        {
            names.Insert(0, result.Command.Name);
        }

        return string.Concat(names.Select(name => name + " "));
    }

    /// <summary>
    /// A command group given no verb, or a verb it does not have: "unknown command" with the nearest verb (edit
    /// distance), for the help that follows. Null for any other parse error.
    /// </summary>
    private static (string Message, string Path)? UnknownCommand(ParseResult parseResult)
    {
        var result = parseResult.CommandResult;
        var typed = parseResult.UnmatchedTokens.FirstOrDefault(t => !t.StartsWith('-'));
        var tokens = parseResult.Tokens.Select(t => t.Value).ToList();
        if (result.Command.Action is not null && typed is not null && result.Parent is CommandResult parent
            && tokens.IndexOf(typed) >= 0 && tokens.IndexOf(typed) < tokens.IndexOf(result.Command.Name))
        {
            // "vm run-comand list": the misspelled group came before a verb the parser matched one level up.
            result = parent;
        }

        var group = result.Command;
        if (group.Subcommands.Count == 0 || (group.Action is not null && result == parseResult.CommandResult))
        {
            return null;
        }

        var path = ("runcmd " + CommandPath(result)).TrimEnd();
        if (typed is null)
        {
            return ($"ERROR: unknown command: '{path}' needs a command, one of: {string.Join(", ", group.Subcommands.Select(c => c.Name))}", path);
        }

        var nearest = group.Subcommands.SelectMany(c => c.Aliases.Prepend(c.Name))
            .Select(name => (Name: name, Distance: EditDistance(typed, name)))
            .OrderBy(c => c.Distance).First();
        return (nearest.Distance <= Math.Max(2, typed.Length / 2)
            ? $"ERROR: unknown command '{typed}' in '{path}'. Did you mean '{path} {nearest.Name}'?"
            : $"ERROR: unknown command '{typed}' in '{path}'.", path);
    }

    private static int EditDistance(string a, string b)
    {
        var previous = Enumerable.Range(0, b.Length + 1).ToArray();
        for (var i = 1; i <= a.Length; i++)
        {
            var current = new int[b.Length + 1];
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var substitution = previous[j - 1] + (char.ToLowerInvariant(a[i - 1]) == char.ToLowerInvariant(b[j - 1]) ? 0 : 1);
                current[j] = Math.Min(substitution, Math.Min(previous[j], current[j - 1]) + 1);
            }

            previous = current;
        }

        return previous[b.Length];
    }

    /// <summary>The parser's words for a value of the wrong type, without .NET type names.</summary>
    private static string Plain(string message) => message
        .Replace("as expected type 'System.Int32'", "as a whole number", StringComparison.Ordinal)
        .Replace("as expected type 'System.Int64'", "as a whole number", StringComparison.Ordinal)
        .Replace("as expected type 'System.Boolean'", "as true or false", StringComparison.Ordinal)
        .Replace("as expected type 'System.Double'", "as a number", StringComparison.Ordinal);

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
                if (UnknownCommand(parseResult) is { } unknown)
                {
                    await error.WriteLineAsync(unknown.Message);
                    await error.WriteLineAsync();
                    await CreateRoot().Parse([.. unknown.Path.Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1), "--help"])
                        .InvokeAsync(new InvocationConfiguration { Output = error, Error = error }, cancellationToken);
                    return ExitCodes.Usage;
                }

                await error.WriteLineAsync($"ERROR: {Plain(OneLine(parseResult.Errors[0].Message))} (see ./runcmd {CommandPath(parseResult)}--help)");
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
