using System.CommandLine;
using System.Net;
using System.Text.Json;
using RunCommand.Cli.Input;
using RunCommand.Cli.Output;
using RunCommand.Client;
using RunCommand.Contracts;
using RunCommand.Contracts.Arm;

namespace RunCommand.Cli.Commands;

/// <summary>
/// <c>runcmd vm run-command invoke</c> (the action-style run) and the command documents: <c>list|show --location</c> as
/// in az, plus <c>document create|update|delete|list|show</c> for custom documents (a RunCommand extension).
/// </summary>
internal static class CommandDocumentCommands
{
    public static Option<string> Location() => new("--location", "-l")
    {
        Description = "Location of the command documents. Default: the saved default location, else the subscription's, else 'local'.",
    };

    public static Option<string> CommandId(bool required) => new("--command-id")
    {
        Description = "Id of the command document, e.g. RunShellScript or ifconfig.",
        Required = required,
    };

    public static Command Invoke(bool scaleSet = false)
    {
        var (group, subscription, output) = (Options.ResourceGroup(), Options.Subscription(), Options.Output());
        var machine = MachineOptions.For(scaleSet, vmName: new Option<string>("--name", "-n", "--vm-name") { Description = "Name of the virtual machine.", Required = true });
        var commandId = CommandId(required: true);
        var scripts = new Option<string[]>("--scripts")
        {
            Description = "Script lines for RunShellScript, space-separated ('@FILE' reads one from FILE).",
            AllowMultipleArgumentsPerToken = true,
            HelpName = "line",
        };
        var parameters = new Option<string[]>("--parameters")
        {
            Description = "Parameters, space-separated: name=value becomes an environment variable, a bare value a positional argument ($1, $2...); "
                + "'@FILE' reads one item from FILE.",
            AllowMultipleArgumentsPerToken = true,
            HelpName = "name=value|value|@FILE",
        };
        var command = new Command("invoke",
            "Run a command document on a VM and wait for it (the action-style run of az vm run-command invoke). Prints {\"value\":[...]} with "
            + "the last 4 KiB of stdout and stderr, as Azure does; the full output is kept on the server. Exit code 1 when the script did not succeed.")
        {
            group, machine, commandId, scripts, parameters, subscription, output,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            using var session = Session.Open();
            var vm = machine.Vm(result, await session.SubscriptionAsync(result.GetValue(subscription), cancellationToken), result.GetValue(group)!);
            var lines = Options.IfGiven(result, scripts)?.Select(ReadLine).ToList();
            var input = new RunCommandInput
            {
                CommandId = result.GetValue(commandId),
                Script = lines,
                Parameters = Options.IfGiven(result, parameters) is { } given ? ParameterParser.ParseArguments("--parameters", given, secret: false) : null,
            };
            var operationUrl = await session.Client.InvokeAsync(vm, input, cancellationToken);
            var operation = await session.Client.WaitForOperationAsync(operationUrl, cancellationToken);
            if (operation.Properties?.Output is { } runResult)
            {
                Renderer.ActionResult(result.InvocationConfiguration.Output, runResult, Options.Format(result, output));
            }

            if (operation.Status != OperationStatus.Succeeded)
            {
                var why = operation.Error is { } error ? ArmRequestException.Describe(error) : $"the run ended {operation.Status}";
                result.InvocationConfiguration.Error.WriteLine($"ERROR: {why}");
                return ExitCodes.Failure;
            }

            // RunCommand reports the execution's state and exit code beside Azure's result; a server without them is trusted.
            if (operation.Properties?.ExecutionState is { } state && state != ExecutionStates.Succeeded)
            {
                result.InvocationConfiguration.Error.WriteLine(
                    $"ERROR: the script ended {state}" + (operation.Properties.ExitCode is { } code ? $" with exit code {code}" : ""));
                return ExitCodes.Failure;
            }

            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary><c>run-command list --location L</c>: the documents of a location.</summary>
    public static async Task<int> ListAsync(ParseResult result, string? subscription, string? location, OutputSettings format, CancellationToken cancellationToken)
    {
        using var session = Session.Open();
        var sub = await session.SubscriptionAsync(subscription, cancellationToken);
        var documents = await session.Client.ListDocumentsAsync(sub, await LocationAsync(session, sub, location, cancellationToken), cancellationToken);
        Renderer.Documents(result.InvocationConfiguration.Output, documents, format);
        return ExitCodes.Success;
    }

    /// <summary><c>run-command show --command-id ID --location L</c>: one full document.</summary>
    public static async Task<int> ShowAsync(ParseResult result, string? subscription, string? location, string commandId, OutputSettings format, CancellationToken cancellationToken)
    {
        using var session = Session.Open();
        var sub = await session.SubscriptionAsync(subscription, cancellationToken);
        var document = await session.Client.GetDocumentAsync(sub, await LocationAsync(session, sub, location, cancellationToken), commandId, cancellationToken);
        Renderer.Document(result.InvocationConfiguration.Output, document, format);
        return ExitCodes.Success;
    }

    public static Command Document()
    {
        var group = new Command("document",
            "Manage custom command documents (a RunCommand extension): scripts with typed parameters that run commands and "
            + "`invoke` refer to by --command-id. Built-in documents (RunShellScript, ifconfig) are read-only.");
        group.Subcommands.Add(Write(isUpdate: false));
        group.Subcommands.Add(Write(isUpdate: true));
        group.Subcommands.Add(DeleteDocument());
        group.Subcommands.Add(ListDocuments());
        group.Subcommands.Add(ShowDocument());
        return group;
    }

    private static Command Write(bool isUpdate)
    {
        var (location, commandId, subscription, output) = (Location(), CommandId(required: true), Options.Subscription(), Options.Output());
        var script = new Option<string>("--script")
        {
            Description = "The script, split into lines at newlines. '@FILE' reads it from FILE.",
        };
        var label = new Option<string>("--label") { Description = "Short title." };
        var description = new Option<string>("--description") { Description = "What the command does." };
        var definitions = new Option<string[]>("--parameter-definitions")
        {
            Description = $"Parameters the script takes, space-separated: {ParameterDefinitionParser.Syntax}. TYPE is string (default), int or bool; "
                + "each parameter reaches the script as an environment variable. Examples: who=world count:int:required "
                + "mode:string=fast:allowed=fast|slow. A default cannot contain ':' (use --document for that). "
                + (isUpdate ? "Replaces every definition." : ""),
            AllowMultipleArgumentsPerToken = true,
            HelpName = "definition",
        };
        var document = new Option<string>("--document")
        {
            Description = "The whole document as JSON ({\"label\",\"description\",\"script\":[...],\"parameters\":[{\"name\",\"type\",\"defaultValue\",\"required\",\"allowedValues\"}]}); '@FILE' reads it from FILE. Other options override its fields.",
        };
        var command = isUpdate
            ? new Command("update", "Change the given fields of a custom command document.")
            : new Command("create", "Register a custom command document; fails if the id exists (use update).");
        foreach (var option in new Option[] { commandId, location, script, label, description, definitions, document, subscription, output })
        {
            command.Options.Add(option);
        }

        command.SetAction(async (result, cancellationToken) =>
        {
            using var session = Session.Open();
            var sub = await session.SubscriptionAsync(result.GetValue(subscription), cancellationToken);
            var loc = await LocationAsync(session, sub, Options.IfGiven(result, location), cancellationToken);
            var id = result.GetValue(commandId)!;
            RunCommandDocument? existing;
            try
            {
                existing = await session.Client.GetDocumentAsync(sub, loc, id, cancellationToken);
            }
            catch (ArmRequestException e) when (e.StatusCode == HttpStatusCode.NotFound)
            {
                existing = null;
            }

            if (isUpdate && existing is null)
            {
                throw new CliException($"there is no command document '{id}' in location {loc}; create it first", ExitCodes.NotFound);
            }

            if (!isUpdate && existing is not null)
            {
                throw new CliException($"the command document '{id}' already exists in location {loc}; change it with `vm run-command document update`", ExitCodes.Failure);
            }

            var baseDocument = ReadDocument(Options.IfGiven(result, document)) ?? existing ?? new RunCommandDocument();
            var scriptText = ReadText(Options.IfGiven(result, script), "--script");
            var given = Options.IfGiven(result, definitions);
            var updated = baseDocument with
            {
                Id = id,
                BuiltIn = null,
                Label = Options.IfGiven(result, label) ?? baseDocument.Label,
                Description = Options.IfGiven(result, description) ?? baseDocument.Description,
                Script = scriptText is null ? baseDocument.Script ?? [] : scriptText.ReplaceLineEndings("\n").TrimEnd('\n').Split('\n'),
                Parameters = given is null ? baseDocument.Parameters ?? [] : ParameterDefinitionParser.Parse(given),
            };
            if (!isUpdate && updated.Script.Count == 0)
            {
                throw CliException.Usage("give the script with --script (or --document)");
            }

            var response = await session.Client.PutDocumentAsync(sub, loc, updated, cancellationToken);
            Renderer.Document(result.InvocationConfiguration.Output, response.Body!, Options.Format(result, output));
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command DeleteDocument()
    {
        var (location, commandId, subscription) = (Location(), CommandId(required: true), Options.Subscription());
        var yes = new Option<bool>("--yes", "-y") { Description = "Do not prompt for confirmation (runcmd never prompts)." };
        var command = new Command("delete", "Delete a custom command document. Run commands that used it keep the script they resolved.")
        {
            commandId, location, yes, subscription,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            using var session = Session.Open();
            var sub = await session.SubscriptionAsync(result.GetValue(subscription), cancellationToken);
            await session.Client.DeleteDocumentAsync(sub, await LocationAsync(session, sub, Options.IfGiven(result, location), cancellationToken), result.GetValue(commandId)!, cancellationToken);
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command ListDocuments()
    {
        var (location, subscription, output) = (Location(), Options.Subscription(), Options.Output());
        var command = new Command("list", "List the command documents of a location, built-in and custom.") { location, subscription, output };
        command.SetAction((result, cancellationToken) =>
            ListAsync(result, result.GetValue(subscription), Options.IfGiven(result, location), Options.Format(result, output), cancellationToken));
        return command;
    }

    private static Command ShowDocument()
    {
        var (location, commandId, subscription, output) = (Location(), CommandId(required: true), Options.Subscription(), Options.Output());
        var command = new Command("show", "Show a command document with its script and parameters.") { commandId, location, subscription, output };
        command.SetAction((result, cancellationToken) =>
            ShowAsync(result, result.GetValue(subscription), Options.IfGiven(result, location), result.GetValue(commandId)!, Options.Format(result, output), cancellationToken));
        return command;
    }

    /// <summary>--location as given, else the saved default, else the subscription's, else "local".</summary>
    private static async Task<string> LocationAsync(Session session, string subscription, string? given, CancellationToken cancellationToken)
    {
        if (!string.IsNullOrEmpty(given))
        {
            return given;
        }

        if (!string.IsNullOrEmpty(session.Config.DefaultLocation))
        {
            return session.Config.DefaultLocation;
        }

        var subscriptions = await session.Client.ListSubscriptionsAsync(cancellationToken);
        return subscriptions.FirstOrDefault(s => string.Equals(s.SubscriptionId, subscription, StringComparison.OrdinalIgnoreCase))?.Location ?? "local";
    }

    private static string ReadLine(string line) => ReadText(line, "--scripts")!;

    private static string? ReadText(string? value, string option)
    {
        if (value is null || !value.StartsWith('@') || value.Length == 1)
        {
            return value;
        }

        var path = value[1..];
        return File.Exists(path)
            ? File.ReadAllText(path)
            : throw CliException.Usage($"{option}: the file {path} does not exist (to pass text starting with '@', put a space before it)");
    }

    private static RunCommandDocument? ReadDocument(string? value)
    {
        var text = ReadText(value, "--document");
        if (text is null)
        {
            return null;
        }

        try
        {
            return JsonSerializer.Deserialize(text, ContractsJsonContext.Default.RunCommandDocument)
                ?? throw CliException.Usage("--document: the JSON is null; give a command document object");
        }
        catch (JsonException e)
        {
            throw CliException.Usage($"--document: not a command document: {e.Message}");
        }
    }
}
