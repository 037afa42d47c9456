namespace RunCommand.Cli.Output;

/// <summary>Values of <c>--output/-o</c>.</summary>
internal enum OutputFormat
{
    Json,
    Table,
    Tsv,
    None,
}
