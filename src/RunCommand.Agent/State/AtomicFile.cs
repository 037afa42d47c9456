using System.Runtime.InteropServices;
using RunCommand.Agent.Execution;

namespace RunCommand.Agent.State;

/// <summary>Crash-safe file replacement: write a temp file, fsync it, rename it over the target, fsync the directory.</summary>
internal static class AtomicFile
{
    public static void Write(string path, ReadOnlySpan<byte> content, UnixFileMode mode)
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
            // fsync: the bytes are on disk before the rename makes them visible under the real name.
            stream.Flush(flushToDisk: true);
        }

        File.Move(temp, path, overwrite: true);
        // fsync the directory: the rename itself survives a power cut. If we die before this line, the
        // old or the new file is visible, never a torn one.
        SyncDirectory(directory);
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
