using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using RunCommand.Cli.Output;
using RunCommand.Client;
using RunCommand.Contracts;
using RunCommand.Contracts.Arm;

namespace RunCommand.Cli.Commands;

/// <summary>
/// <c>runcmd deployment group create|show|list|delete</c> and <c>runcmd deployment operation group list</c>, as in
/// <c>az deployment group</c>: ARM templates whose resources are run commands, sequenced by <c>dependsOn</c>.
/// </summary>
internal static class DeploymentCommands
{
    public static Command Create()
    {
        var deployment = new Command("deployment", "Deploy ARM templates of run commands (like az deployment).");
        var group = new Command("group", "Deployments at resource-group scope.");
        group.Subcommands.Add(CreateDeployment());
        group.Subcommands.Add(Show());
        group.Subcommands.Add(List());
        group.Subcommands.Add(Delete());
        deployment.Subcommands.Add(group);

        var operation = new Command("operation", "The operations of a deployment, one per resource.");
        var operationGroup = new Command("group", "Operations of a resource-group deployment.");
        operationGroup.Subcommands.Add(ListOperations());
        operation.Subcommands.Add(operationGroup);
        deployment.Subcommands.Add(operation);
        return deployment;
    }

    private static Option<string> Name(bool required = true) => new("--name", "-n") { Description = "Name of the deployment.", Required = required };

    private static Command CreateDeployment()
    {
        var name = Name();
        var group = Options.ResourceGroup();
        var subscription = Options.Subscription();
        var output = Options.Output();
        var noWait = Options.NoWait();
        var templateFile = new Option<string>("--template-file", "-f") { Description = "Path to the template (JSON).", Required = true };
        var parameters = new Option<string[]>("--parameters", "-p")
        {
            Description = "Template parameters: name=value (typed by the template's declaration), or @FILE.json (a parameters file). Repeatable.",
            AllowMultipleArgumentsPerToken = true,
            HelpName = "name=value|@file.json",
        };
        var command = new Command("create", "Deploy a template; waits until it ends unless --no-wait. Exit code 1 when the deployment did not succeed.");
        foreach (var option in new Option[] { name, group, templateFile, parameters, noWait, subscription, output })
        {
            command.Options.Add(option);
        }

        command.SetAction(async (result, cancellationToken) =>
        {
            var template = ReadJsonFile(result.GetValue(templateFile)!, "--template-file");
            var values = BuildParameters(template, result.GetValue(parameters) ?? []);
            using var session = Session.Open();
            var sub = await session.SubscriptionAsync(result.GetValue(subscription), cancellationToken);
            var rg = result.GetValue(group)!;
            var deploymentName = result.GetValue(name) ?? Path.GetFileNameWithoutExtension(result.GetValue(templateFile)!);
            var response = await session.Client.CreateDeploymentAsync(sub, rg, deploymentName, template, values, cancellationToken);
            var format = Options.Format(result, output);
            var console = result.InvocationConfiguration;
            if (result.GetValue(noWait) || response.OperationUrl is null)
            {
                Renderer.Deployment(console.Output, response.Body!, format);
                return ExitCodes.Success;
            }

            await session.Client.WaitForDeploymentAsync(response.OperationUrl, cancellationToken);
            var done = await session.Client.GetDeploymentAsync(sub, rg, deploymentName, cancellationToken);
            Renderer.Deployment(console.Output, done, format);
            if (done.Properties?.ProvisioningState != "Succeeded")
            {
                var why = done.Properties?.Error is { } error ? ArmRequestException.Describe(error) : $"the deployment ended {done.Properties?.ProvisioningState}";
                console.Error.WriteLine($"ERROR: {why}");
                return ExitCodes.Failure;
            }

            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Show()
    {
        var (command, name, group, subscription, output) = Basic("show", "Show a deployment.");
        command.SetAction(async (result, cancellationToken) =>
        {
            using var session = Session.Open();
            var sub = await session.SubscriptionAsync(result.GetValue(subscription), cancellationToken);
            var deployment = await session.Client.GetDeploymentAsync(sub, result.GetValue(group)!, result.GetValue(name)!, cancellationToken);
            Renderer.Deployment(result.InvocationConfiguration.Output, deployment, Options.Format(result, output));
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Delete()
    {
        var (command, name, group, subscription, _) = Basic("delete", "Delete a deployment record (the run commands it created stay); a running deployment is canceled first.");
        command.SetAction(async (result, cancellationToken) =>
        {
            using var session = Session.Open();
            var sub = await session.SubscriptionAsync(result.GetValue(subscription), cancellationToken);
            await session.Client.DeleteDeploymentAsync(sub, result.GetValue(group)!, result.GetValue(name)!, cancellationToken);
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command List()
    {
        var group = Options.ResourceGroup();
        var subscription = Options.Subscription();
        var output = Options.Output();
        var command = new Command("list", "List the deployments of a resource group.");
        foreach (var option in new Option[] { group, subscription, output })
        {
            command.Options.Add(option);
        }

        command.SetAction(async (result, cancellationToken) =>
        {
            using var session = Session.Open();
            var sub = await session.SubscriptionAsync(result.GetValue(subscription), cancellationToken);
            var deployments = await session.Client.ListDeploymentsAsync(sub, result.GetValue(group)!, cancellationToken);
            Renderer.Deployments(result.InvocationConfiguration.Output, deployments, Options.Format(result, output));

            return ExitCodes.Success;
        });
        return command;
    }

    private static Command ListOperations()
    {
        var (command, name, group, subscription, output) = Basic("list", "List the operations of a deployment: one per run command it started.");
        command.SetAction(async (result, cancellationToken) =>
        {
            using var session = Session.Open();
            var sub = await session.SubscriptionAsync(result.GetValue(subscription), cancellationToken);
            var operations = await session.Client.ListDeploymentOperationsAsync(sub, result.GetValue(group)!, result.GetValue(name)!, cancellationToken);
            Renderer.DeploymentOperations(result.InvocationConfiguration.Output, operations, Options.Format(result, output));

            return ExitCodes.Success;
        });
        return command;
    }

    private static (Command Command, Option<string> Name, Option<string> Group, Option<string> Subscription, Option<string> Output) Basic(string verb, string description)
    {
        var name = Name();
        var group = Options.ResourceGroup();
        var subscription = Options.Subscription();
        var output = Options.Output();
        var command = new Command(verb, description);
        foreach (var option in new Option[] { name, group, subscription, output })
        {
            command.Options.Add(option);
        }

        return (command, name, group, subscription, output);
    }

    /// <summary>
    /// The deployment's parameters object from <c>--parameters</c>: an <c>@file</c> is a parameters file (with or
    /// without the <c>$schema</c>/<c>parameters</c> wrapper); <c>name=value</c> is typed by the template's declaration
    /// (int, bool, object and array values are parsed as JSON; strings are taken as they are). Later ones win.
    /// </summary>
    internal static JsonElement? BuildParameters(JsonElement template, IEnumerable<string> arguments)
    {
        var values = new JsonObject();
        var position = 0;
        foreach (var argument in arguments)
        {
            position++;
            if (argument.StartsWith('@'))
            {
                var file = ReadJsonFile(argument[1..], "--parameters");
                var body = file.TryGetProperty("parameters", out var wrapped) && file.TryGetProperty("$schema", out _) ? wrapped : file;
                if (body.ValueKind != JsonValueKind.Object)
                {
                    throw CliException.Usage($"--parameters: {argument[1..]} must hold a JSON object of {{\"name\":{{\"value\":...}}}}");
                }

                foreach (var property in body.EnumerateObject())
                {
                    values[property.Name] = JsonNode.Parse(property.Value.GetRawText());
                }

                continue;
            }

            var separator = argument.IndexOf('=', StringComparison.Ordinal);
            if (separator <= 0)
            {
                // Not echoed: a value given without its name may be a secret.
                throw CliException.Usage($"--parameters: value {position} is neither name=value nor @file.json");
            }

            var key = argument[..separator];
            var raw = argument[(separator + 1)..];
            values[key] = new JsonObject { ["value"] = TypedValue(template, key, raw) };
        }

        return values.Count == 0 ? null : JsonDocument.Parse(values.ToJsonString()).RootElement.Clone();
    }

    private static JsonNode? TypedValue(JsonElement template, string key, string raw)
    {
        string? type = null;
        if (template.TryGetProperty("parameters", out var declared) && declared.ValueKind == JsonValueKind.Object)
        {
            var match = declared.EnumerateObject().FirstOrDefault(p => string.Equals(p.Name, key, StringComparison.OrdinalIgnoreCase));
            if (match.Value.ValueKind == JsonValueKind.Object && match.Value.TryGetProperty("type", out var t))
            {
                type = t.GetString()?.ToLowerInvariant();
            }
        }

        try
        {
            return type switch
            {
                "int" => JsonValue.Create(long.Parse(raw, CultureInfo.InvariantCulture)),
                "bool" => JsonValue.Create(bool.Parse(raw)),
                "object" or "secureobject" or "array" => JsonNode.Parse(raw),
                _ => JsonValue.Create(raw),
            };
        }
        catch (Exception e) when (e is FormatException or OverflowException or JsonException)
        {
            // A secure value is never echoed; others are, as they help find the typo.
            throw CliException.Usage(type is "secureobject"
                ? $"--parameters: '{key}' is declared {type}; its value is not a JSON object or array"
                : $"--parameters: '{key}' is declared {type}; '{raw}' is not one");
        }
    }

    private static JsonElement ReadJsonFile(string path, string option)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw CliException.Usage($"{option}: cannot read {path}: {e.Message}");
        }

        try
        {
            using var document = JsonDocument.Parse(text, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            return document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw CliException.Usage($"{option}: {path} is not valid JSON: {e.Message}");
        }
    }
}
