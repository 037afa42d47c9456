using System.CommandLine;
using RunCommand.Cli.Output;

namespace RunCommand.Cli.Commands;

/// <summary>Factories for the options several verbs share, spelled as az spells them (a fresh instance per verb).</summary>
internal static class Options
{
    public static Option<string> ResourceGroup(bool required = true) => NameOption(new("--resource-group", "-g")
    {
        Description = "Name of the resource group.",
        Required = required,
    });

    public static Option<string> VmName(bool required = true) => NameOption(new("--vm-name")
    {
        Description = "Name of the virtual machine.",
        Required = required,
    });

    public static Option<string> RunCommandName(bool required = true) => NameOption(new("--name", "-n", "--run-command-name")
    {
        Description = "Name of the run command.",
        Required = required,
    });

    /// <summary>A resource name is one segment of an id: '/' (and an empty name) is refused here, in plain words.</summary>
    public static Option<string> NameOption(Option<string> option)
    {
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<string>() is { } value && (value.Length == 0 || value.Contains('/') || value.Contains('\\')))
            {
                result.AddError($"{option.Name} '{value}' is not a valid name: a name cannot be empty or contain '/' or '\\'");
            }
        });
        return option;
    }

    public static Option<string> Subscription() => new("--subscription")
    {
        Description = "Subscription id or name. Default: the one saved by `runcmd login`.",
    };

    public static Option<string> Output() => Choice(new Option<string>("--output", "-o")
    {
        Description = "Output format (as az's: jsonc and yamlc are coloured on a terminal).",
        DefaultValueFactory = _ => "json",
        HelpName = "json|jsonc|yaml|yamlc|table|tsv|none",
    }, Formats);

    /// <summary>
    /// az's global <c>-o</c> on a verb that prints no JSON result (nothing, or raw text): accepted so that az's idioms
    /// (<c>delete --yes -o none</c>) work; <c>none</c> silences stdout, any other format leaves the output as it is.
    /// </summary>
    public static Option<string> OutputOfNoResult(bool rawText) => Choice(new Option<string>("--output", "-o")
    {
        Description = rawText
            ? "Accepted as in az: the output is the script's own text whatever the format; 'none' prints nothing on stdout."
            : "Accepted as in az: this verb prints nothing on stdout whatever the format.",
        DefaultValueFactory = _ => "json",
        HelpName = "json|jsonc|yaml|yamlc|table|tsv|none",
    }, Formats);

    /// <summary>The formats of az's <c>-o</c>.</summary>
    public static readonly string[] Formats = ["json", "jsonc", "yaml", "yamlc", "table", "tsv", "none"];

    /// <summary>
    /// Accepts one of <paramref name="choices"/> in any case and gives it lowercased, as az does (knack's
    /// <c>type=str.lower</c>): <c>-o JSON</c> is <c>-o json</c>.
    /// </summary>
    public static Option<string> Choice(Option<string> option, params string[] choices)
    {
        option.CustomParser = result => result.Tokens.Count == 0 ? null : result.Tokens[^1].Value.ToLowerInvariant();
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<string>() is { } value && !choices.Contains(value, StringComparer.Ordinal))
            {
                result.AddError($"argument {option.Name}/{option.Aliases.FirstOrDefault()}: invalid choice: "
                    + $"'{result.Tokens[^1].Value}' (choose from {string.Join(", ", choices.Select(c => $"'{c}'"))})");
            }
        });
        option.CompletionSources.Add(choices);
        return option;
    }

    /// <summary>
    /// Refuses the global <c>--query</c> on a verb that has no JSON result to apply it to (az would print nothing).
    /// </summary>
    public static void RefuseQuery(ParseResult result, string verb)
    {
        if (result.GetValue<string>("--query") is not null)
        {
            throw CliException.Usage($"--query does not apply to '{verb}': it prints no JSON result to query");
        }
    }

    /// <summary>True when <c>-o none</c> was given: the verb prints nothing on stdout.</summary>
    public static bool IsNone(ParseResult result, Option<string> output) => result.GetValue(output) == "none";

    /// <summary>az's global <c>--query</c>: a JMESPath expression applied to the result (on every verb, set on the root).</summary>
    public static Option<string> Query() => new("--query")
    {
        Description = "JMESPath query string, applied to the result before it is printed (see http://jmespath.org).",
        Recursive = true,
        HelpName = "JMESPATH",
    };

    public static Option<bool> NoWait() => new("--no-wait")
    {
        Description = "Do not wait for the long-running operation to finish.",
    };

    /// <summary>The format given with <paramref name="option"/>, the global --query (checked by CliApp) and whether to colour.</summary>
    public static OutputSettings Format(ParseResult result, Option<string> option)
    {
        var format = result.GetValue(option)?.ToLowerInvariant() switch
        {
            "jsonc" => OutputFormat.Jsonc,
            "yaml" => OutputFormat.Yaml,
            "yamlc" => OutputFormat.Yamlc,
            "table" => OutputFormat.Table,
            "tsv" => OutputFormat.Tsv,
            "none" => OutputFormat.None,
            _ => OutputFormat.Json,
        };
        return new OutputSettings(format, result.GetValue<string>("--query"), Color: !Console.IsOutputRedirected);
    }

    /// <summary>The option's value when it was given on the command line, null when it was not.</summary>
    public static T? IfGiven<T>(ParseResult result, Option<T> option)
        where T : struct =>
        result.GetResult(option) is { Implicit: false } ? result.GetValue(option) : null;

    public static string? IfGiven(ParseResult result, Option<string> option) =>
        result.GetResult(option) is { Implicit: false } ? result.GetValue(option) : null;

    public static string[]? IfGiven(ParseResult result, Option<string[]> option) =>
        result.GetResult(option) is { Implicit: false } ? result.GetValue(option) ?? [] : null;
}
