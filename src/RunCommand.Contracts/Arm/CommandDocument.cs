using System.Text.Json.Serialization;

namespace RunCommand.Contracts.Arm;

/// <summary>
/// A command document as listed by <c>GET .../locations/{loc}/runCommands</c>: what a <c>commandId</c> names.
/// </summary>
public sealed record RunCommandDocumentBase
{
    /// <summary>JSON schema URL of the document format (informational).</summary>
    [JsonPropertyName("$schema")]
    public string? Schema { get; init; }

    /// <summary>The command id a run command's <c>source.commandId</c> (or an action run's <c>commandId</c>) refers to.</summary>
    public required string Id { get; init; }

    /// <summary>Always <c>Linux</c> here.</summary>
    public string OsType { get; init; } = "Linux";

    /// <summary>Short human title.</summary>
    public string? Label { get; init; }

    public string? Description { get; init; }
}

/// <summary>
/// A full command document (<c>GET .../locations/{loc}/runCommands/{commandId}</c>, and the body of the RunCommand
/// extension <c>PUT</c> that registers a custom one).
/// </summary>
public sealed record RunCommandDocument
{
    [JsonPropertyName("$schema")]
    public string? Schema { get; init; }

    /// <summary>The command id; always set in responses. In a PUT body it may be left out (the URL names it).</summary>
    public string Id { get; init; } = "";

    public string OsType { get; init; } = "Linux";

    public string? Label { get; init; }

    public string? Description { get; init; }

    /// <summary>Script lines, joined with "\n" to make the script the agent runs.</summary>
    public IReadOnlyList<string> Script { get; init; } = [];

    /// <summary>Parameters the script takes; each reaches it as an environment variable of the same name.</summary>
    public IReadOnlyList<RunCommandParameterDefinition> Parameters { get; init; } = [];

    /// <summary>RunCommand extension: true for the documents that ship with the server (read-only).</summary>
    public bool? BuiltIn { get; init; }
}

/// <summary>One parameter a command document declares.</summary>
public sealed record RunCommandParameterDefinition
{
    /// <summary>Environment variable name (letters, digits, '_', not starting with a digit).</summary>
    public required string Name { get; init; }

    /// <summary><c>string</c>, <c>int</c> or <c>bool</c> (values are checked against it; they still travel as strings).</summary>
    public string Type { get; init; } = "string";

    /// <summary>Value used when the caller gives none; null means no default (the variable is then unset).</summary>
    public string? DefaultValue { get; init; }

    /// <summary>When true a run command using the document must give a value.</summary>
    public bool Required { get; init; }

    /// <summary>RunCommand extension: when set, the only values accepted.</summary>
    public IReadOnlyList<string>? AllowedValues { get; init; }
}

/// <summary>Body of the action-style <c>POST .../virtualMachines/{vm}/runCommand</c>.</summary>
public sealed record RunCommandInput
{
    /// <summary>Required: the command document to run, e.g. <c>RunShellScript</c>.</summary>
    public string? CommandId { get; init; }

    /// <summary>Script lines; only for <c>RunShellScript</c>.</summary>
    public IReadOnlyList<string>? Script { get; init; }

    /// <summary>Named parameters become environment variables; nameless ones positional arguments.</summary>
    public IReadOnlyList<RunCommandParameter>? Parameters { get; init; }
}
