namespace RunCommand.Cli;

/// <summary>A failure the CLI reports as one <c>ERROR:</c> line and an exit code, never a stack trace.</summary>
internal sealed class CliException(string message, int exitCode) : Exception(message)
{
    public int ExitCode { get; } = exitCode;

    /// <summary>Bad input on the command line (exit code 2).</summary>
    public static CliException Usage(string message) => new(message, ExitCodes.Usage);
}

/// <summary>The process exit codes, az-compatible where az has one.</summary>
internal static class ExitCodes
{
    public const int Success = 0;

    /// <summary>The request or the script failed.</summary>
    public const int Failure = 1;

    /// <summary>The command line was wrong.</summary>
    public const int Usage = 2;

    /// <summary>The resource does not exist (az uses 3 for this too).</summary>
    public const int NotFound = 3;

    /// <summary>Interrupted by Ctrl-C.</summary>
    public const int Interrupted = 130;
}
