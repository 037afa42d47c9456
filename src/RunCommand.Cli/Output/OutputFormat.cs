namespace RunCommand.Cli.Output;

/// <summary>Values of <c>--output/-o</c>, az's seven formats.</summary>
internal enum OutputFormat
{
    Json,

    /// <summary>JSON coloured for a terminal; plain JSON when stdout is not one (as az).</summary>
    Jsonc,
    Yaml,

    /// <summary>YAML coloured for a terminal; plain YAML when stdout is not one (as az).</summary>
    Yamlc,
    Table,
    Tsv,
    None,
}

/// <summary>How a verb prints its result: the format, az's <c>--query</c> (JMESPath, null when not given) and colour.</summary>
internal sealed record OutputSettings(OutputFormat Format, string? Query = null, bool Color = false)
{
    public static OutputSettings Of(OutputFormat format) => new(format);
}
