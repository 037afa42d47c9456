using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace RunCommand.Contracts;

/// <summary>
/// For a file streamed front to back once (a run's output: the agent's spool file as it uploads it, the server's output
/// file as it stores it): the bytes a stream has passed are handed to the disk at once and then let go from the page
/// cache, all but the last <see cref="KeptBytes"/>, which readers following the stream's tail read from memory.
/// <para>
/// Without it a GiB of output is a GiB of fresh page cache, and a fresh page costs a fault on the host on a virtual
/// machine that hands freed memory back to it (a balloon with free page reporting, as cloud VMs have): writing 1 GiB
/// in 4 MiB writes took 2.1 s of CPU that way against 0.3 s with the pages passed and dropped, which the next writes
/// then reuse (docs/performance.md item 52). It also keeps a big output from filling the machine's memory with dirty
/// pages. Small outputs (at most <see cref="KeptBytes"/>) are left alone.
/// </para>
/// <para>
/// Advice only: it never waits for the disk (pages still being written stay cached, and a later call drops them), it
/// changes no byte of the file and what is durable when, and it ignores failures (a file system without the calls).
/// </para>
/// </summary>
public static partial class PageCacheTrail
{
    /// <summary>Bytes behind the stream's position left in the cache.</summary>
    public const long KeptBytes = 16L * 1024 * 1024;

    /// <summary>At most one writeback and one drop per this many bytes passed, however small the steps.</summary>
    public const long StepBytes = 1024 * 1024;

    private const uint SyncFileRangeWrite = 2;
    private const int FadviseDontNeed = 4; // Linux on x86-64 and arm64, the targets the agent and server ship for.
    private const long PageMask = ~4095L;

    /// <summary>
    /// Says the stream has passed <c>[<paramref name="start"/>, <paramref name="end"/>)</c> of <paramref name="file"/>
    /// (written or read it, and will not read it again soon).
    /// </summary>
    public static void Passed(SafeFileHandle file, long start, long end)
    {
        if (Acts(start, end))
        {
            Advise(file, start, end);
        }
    }

    /// <summary>As <see cref="Passed(SafeFileHandle, long, long)"/>, for a file the caller does not hold open (opened only when there is advice to give).</summary>
    public static void Passed(string path, long start, long end)
    {
        if (!Acts(start, end))
        {
            return;
        }

        try
        {
            using var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            Advise(file, start, end);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Gone (the execution removed) or not ours to open: there is nothing to advise.
        }
    }

    private static bool Acts(long start, long end) =>
        OperatingSystem.IsLinux() && end > KeptBytes && start / StepBytes != end / StepBytes;

    private static void Advise(SafeFileHandle file, long start, long end)
    {
        // Writeback of everything since the last step, started now and not waited for.
        var from = start / StepBytes * StepBytes;
        _ = SyncFileRange(file, from, end - from, SyncFileRangeWrite);

        // Everything further back than the kept tail: clean pages go; pages still being written stay until a later call.
        _ = PosixFadvise(file, 0, (end - KeptBytes) & PageMask, FadviseDontNeed);
    }

    [LibraryImport("libc", EntryPoint = "sync_file_range")]
    private static partial int SyncFileRange(SafeFileHandle file, long offset, long length, uint flags);

    [LibraryImport("libc", EntryPoint = "posix_fadvise")]
    private static partial int PosixFadvise(SafeFileHandle file, long offset, long length, int advice);
}
