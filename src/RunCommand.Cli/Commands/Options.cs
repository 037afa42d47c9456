using System.CommandLine;
using RunCommand.Cli.Output;

namespace RunCommand.Cli.Commands;

/// <summary>Factories for the options several verbs share, spelled as az spells them (a fresh instance per verb).</summary>
internal static class Options
{
    public static Option<string> ResourceGroup(bool required = true) => new("--resource-group", "-g")
    {
        Description = "Name of the resource group.",
        Required = required,
    };

    public static Option<string> VmName(bool required = true) => new("--vm-name")
    {
        Description = "Name of the virtual machine.",
        Required = required,
    };

    public static Option<string> RunCommandName(bool required = true) => new("--name", "-n", "--run-command-name")
    {
        Description = "Name of the run command.",
        Required = required,
    };

    public static Option<string> Subscription() => new("--subscription")
    {
        Description = "Subscription id or name. Default: the one saved by `runcmd login`.",
    };

    public static Option<string> Output() => new Option<string>("--output", "-o")
    {
        Description = "Output format.",
        DefaultValueFactory = _ => "json",
        HelpName = "json|table|tsv|none",
    }.AcceptOnlyFromAmong("json", "table", "tsv", "none");

    public static Option<bool> NoWait() => new("--no-wait")
    {
        Description = "Do not wait for the long-running operation to finish.",
    };

    public static OutputFormat Format(ParseResult result, Option<string> option) =>
        result.GetValue(option)?.ToLowerInvariant() switch
        {
            "table" => OutputFormat.Table,
            "tsv" => OutputFormat.Tsv,
            "none" => OutputFormat.None,
            _ => OutputFormat.Json,
        };

    /// <summary>The option's value when it was given on the command line, null when it was not.</summary>
    public static T? IfGiven<T>(ParseResult result, Option<T> option)
        where T : struct =>
        result.GetResult(option) is { Implicit: false } ? result.GetValue(option) : null;

    public static string? IfGiven(ParseResult result, Option<string> option) =>
        result.GetResult(option) is { Implicit: false } ? result.GetValue(option) : null;

    public static string[]? IfGiven(ParseResult result, Option<string[]> option) =>
        result.GetResult(option) is { Implicit: false } ? result.GetValue(option) ?? [] : null;
}
