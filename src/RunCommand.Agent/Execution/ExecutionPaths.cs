namespace RunCommand.Agent.Execution;

/// <summary>The files of one execution directory (see docs/agent-protocol.md, "What the agent keeps on disk").</summary>
public sealed record ExecutionPaths(string Directory)
{
    public string Script => Path.Combine(Directory, "script");

    public string Stdout => Path.Combine(Directory, "stdout");

    public string Stderr => Path.Combine(Directory, "stderr");

    /// <summary>Written (via a rename, so never half-written) by the wrapper shell when the script ends on its own.</summary>
    public string ExitCode => Path.Combine(Directory, "exitcode");

    /// <summary>The exit code written by the wrapper, or null when the script has not ended on its own.</summary>
    /// <summary>
    /// The exit code the wrapper wrote, or null while there is none. The wrapper writes "N\n" in one write(2);
    /// only a line ending in a newline is complete, so a file caught mid-write reads as "not yet".
    /// </summary>
    public int? TryReadExitCode()
    {
        try
        {
            var text = File.ReadAllText(ExitCode);
            return text.EndsWith('\n') && int.TryParse(text.AsSpan().Trim(), out var code) ? code : null;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }
}
