using System.Runtime.InteropServices;
using RunCommand.Agent.Execution;

namespace RunCommand.Agent.State;

/// <summary>
/// Crash-safe file replacement: write a temp file, rename it over the target. A reader (or the next agent after a
/// kill -9) sees the old or the new content, never a torn file. With <paramref name="durable"/> the file and the
/// directory are also fsynced, so the rename survives a power cut; that costs two disk flushes (~6 ms each on many
/// virtual disks), so execution records, which sit on the latency path of every script, do not use it: the
/// server's own record of a started execution covers a power cut instead (see <c>ExecutionAssignment.Started</c>).
/// </summary>
internal static class AtomicFile
{
    public static void Write(string path, ReadOnlySpan<byte> content, UnixFileMode mode, bool durable = false)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var temp = Path.Combine(directory, "." + Path.GetFileName(path) + ".tmp");
        using (var stream = new FileStream(temp, new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            Share = FileShare.None,
            UnixCreateMode = mode,
        }))
        {
            File.SetUnixFileMode(stream.SafeFileHandle, mode);
            stream.Write(content);
            // With durable: the bytes are on disk before the rename makes them visible under the real name.
            stream.Flush(flushToDisk: durable);
        }

        File.Move(temp, path, overwrite: true);
        if (durable)
        {
            // The rename itself survives a power cut. If we die before this line, the old or the new file is
            // visible, never a torn one.
            SyncDirectory(directory);
        }
    }

    public static void SyncDirectory(string directory)
    {
        var fd = Posix.Open(directory, Posix.ORdOnly | Posix.ODirectory);
        if (fd < 0)
        {
            throw new IOException($"Cannot open directory {directory} to sync it (errno {Marshal.GetLastPInvokeError()}).");
        }

        try
        {
            _ = Posix.FSync(fd);
        }
        finally
        {
            _ = Posix.Close(fd);
        }
    }
}
