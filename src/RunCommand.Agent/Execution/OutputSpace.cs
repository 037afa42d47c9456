namespace RunCommand.Agent.Execution;

/// <summary>
/// Whether the file system holding an execution's output has run out of space. A script writes its output files
/// itself (the agent only reads them), so a write refused with ENOSPC is seen by the script alone, which may well
/// exit 0 anyway; the agent cannot count lost bytes, but it can see that the disk was full while the script ran,
/// and then it does not report the script's own success (docs/faults.md).
/// </summary>
public static class OutputSpace
{
    /// <summary>
    /// Below this many free bytes the disk counts as full: a write of a page or more fails. The space free to
    /// unprivileged users is what counts (ext4 keeps a reserve for root; a script run as another user cannot use it).
    /// </summary>
    public const long FullBelowBytes = 16 * 1024;

    /// <summary>True when the file system of <paramref name="directory"/> has less than <see cref="FullBelowBytes"/> free; false when unknown.</summary>
    public static bool IsFull(string directory)
    {
        try
        {
            return new DriveInfo(directory).AvailableFreeSpace < FullBelowBytes;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return false;
        }
    }

    /// <summary>The message of an execution whose output may have been cut by a full disk; its exit code is kept beside it.</summary>
    public static string LostOutputMessage(int? exitCode) =>
        "The agent's state directory ran out of space (No space left on device) while the script ran, so its output could not be kept"
        + (exitCode is { } code ? $"; the script itself exited with code {code}" : " and its exit code was not recorded");
}
