using RunCommand.Contracts.Arm;

namespace RunCommand.Server.Arm.Documents;

/// <summary>The Linux command documents every server ships (CONTRACT.md section 4); read-only.</summary>
public static class BuiltInDocuments
{
    public const string SchemaUrl = "http://schema.management.azure.com/schemas/2016-11-17/runcommands.json";

    public const string RunShellScriptId = "RunShellScript";

    /// <summary>
    /// Runs the script lines given with it. Its document has no script and declares no parameters, yet it passes any
    /// parameters through unchecked (named ones as environment variables, nameless ones as positional arguments),
    /// as the generic runner of the action API must. Only the action API can use it: the managed API has no field
    /// for its lines (see <see cref="CommandDocuments"/>).
    /// </summary>
    public static RunCommandDocument RunShellScript { get; } = new()
    {
        Schema = SchemaUrl,
        Id = RunShellScriptId,
        Label = "Run Linux Shell script",
        Description = "Runs the multiline Linux shell script given in the script property of an action-style run (POST .../runCommand). Parameters are passed through: named ones as environment variables, nameless ones as positional arguments.",
        Script = [],
        Parameters = [],
        BuiltIn = true,
    };

    /// <summary>
    /// Shows the network configuration. <c>arguments</c> is split into words (globbing off), never evaluated by a
    /// shell: <c>$(...)</c> in it stays text. Falls back to <c>ip address</c> where net-tools is not installed.
    /// </summary>
    public static RunCommandDocument Ifconfig { get; } = new()
    {
        Schema = SchemaUrl,
        Id = "ifconfig",
        Label = "List network configuration",
        Description = "Get the configuration of all network interfaces (ifconfig, or 'ip address' when ifconfig is not installed). Optional parameter 'arguments': extra ifconfig arguments, split on whitespace.",
        Script =
        [
            "set -f",
            "if command -v ifconfig >/dev/null 2>&1; then exec ifconfig ${arguments-}; fi",
            "echo \"ifconfig is not installed (package net-tools); showing 'ip address' instead.\" >&2",
            "exec ip address",
        ],
        Parameters = [new RunCommandParameterDefinition { Name = "arguments", Type = ParameterTypes.String, Required = false }],
        BuiltIn = true,
    };

    public static IReadOnlyList<RunCommandDocument> All { get; } = [RunShellScript, Ifconfig];

    public static RunCommandDocument? Find(string commandId) =>
        All.FirstOrDefault(d => string.Equals(d.Id, commandId, StringComparison.OrdinalIgnoreCase));

    public static bool IsRunShellScript(RunCommandDocument document) => ReferenceEquals(document, RunShellScript);
}

/// <summary>The parameter types a command document may declare.</summary>
public static class ParameterTypes
{
    public const string String = "string";
    public const string Int = "int";
    public const string Bool = "bool";

    public static bool IsKnown(string type) => type is String or Int or Bool;
}
