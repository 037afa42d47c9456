using System.Security.Cryptography;
using System.Text;
using RunCommand.Contracts;
using RunCommand.Storage.Relational;

namespace RunCommand.Storage.Sqlite;

/// <summary>
/// The embedded backend's output bytes: one file a stream in a directory beside the database (docs/storage.md, "Output
/// files"). In the database a GiB of output was written twice (its WAL, then the checkpoint into the file, 4 KiB page
/// by page, with the overflow chains between): about 10 s of CPU a GiB on this machine, against about 1.5 s to write
/// the same bytes to a file (docs/performance.md item 42). The database keeps each stream's length, which bounds every
/// read, and the drops (<c>output_dropped</c>), which <see cref="SqliteBackend"/> finishes by deleting the files.
/// </summary>
internal sealed class OutputFileDirectory(string directory, bool fullSync) : IOutputFiles
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode OwnerOnlyDirectory = OwnerOnly | UnixFileMode.UserExecute;

    // errno values an IOException carries as its HResult on Linux: the disk or the user's quota is full.
    private const int NoSpace = 28;
    private const int QuotaExceeded = 122;

    /// <summary>The directory of the database at <paramref name="databasePath"/>.</summary>
    public static string DirectoryOf(string databasePath) => databasePath + "-output";

    public string Directory => directory;

    /// <summary>True when <paramref name="exception"/> says the disk (or the quota) is full.</summary>
    public static bool IsFull(Exception exception) => exception is IOException { HResult: NoSpace or QuotaExceeded };

    /// <summary>
    /// Creates the directory (0700: output may hold anything a script printed) or tightens one made looser by hand.
    /// </summary>
    public void Prepare()
    {
        var info = System.IO.Directory.CreateDirectory(directory, OwnerOnlyDirectory);
        if ((info.UnixFileMode & ~OwnerOnlyDirectory) != 0)
        {
            File.SetUnixFileMode(directory, OwnerOnlyDirectory);
        }
    }

    public void Write(string executionId, OutputStream stream, long start, ReadOnlySpan<byte> data)
    {
        using var file = new FileStream(PathOf(executionId, stream), new FileStreamOptions
        {
            Mode = FileMode.OpenOrCreate,
            Access = FileAccess.Write,
            Share = FileShare.ReadWrite | FileShare.Delete,
            UnixCreateMode = OwnerOnly,
            BufferSize = 0,
        });
        RandomAccess.Write(file.SafeFileHandle, data, start);
        if (fullSync)
        {
            // As the commit that records the new length will be (synchronous=FULL): the bytes first.
            RandomAccess.FlushToDisk(file.SafeFileHandle);
        }

        // A stream is written once, front to back, and read back mostly at its tail.
        PageCacheTrail.Passed(file.SafeFileHandle, start, start + data.Length);
    }

    public byte[] Read(string executionId, OutputStream stream, long from, long to)
    {
        if (to <= from)
        {
            return [];
        }

        var wanted = checked((int)(to - from));
        try
        {
            using var file = File.OpenHandle(PathOf(executionId, stream), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            var buffer = GC.AllocateUninitializedArray<byte>(wanted);
            var read = 0;
            while (read < wanted)
            {
                var n = RandomAccess.Read(file, buffer.AsSpan(read), from + read);
                if (n == 0)
                {
                    // Shorter than the length: only after a power cut took bytes the database had (synchronous=NORMAL).
                    break;
                }

                read += n;
            }

            return read == wanted ? buffer : buffer[..read];
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            // Dropped after the caller read the length.
            return [];
        }
    }

    /// <summary>Writes what the kernel holds of the stream's file to disk (before the only other copy of its bytes goes).</summary>
    public void FlushToDisk(string executionId, OutputStream stream)
    {
        using var file = File.OpenHandle(PathOf(executionId, stream), FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
        RandomAccess.FlushToDisk(file);
    }

    /// <summary>Deletes both streams' files of the execution; none there is no error.</summary>
    public void Delete(string executionId)
    {
        foreach (var stream in Enum.GetValues<OutputStream>())
        {
            File.Delete(PathOf(executionId, stream));
        }
    }

    /// <summary>
    /// The file of a stream. Execution ids come from callers of the store, so the name is a hash of the id, never the id
    /// itself (no path of another file can be made of one).
    /// </summary>
    public string PathOf(string executionId, OutputStream stream)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(executionId));
        return Path.Combine(directory, Convert.ToHexStringLower(hash, 0, 16) + (stream == OutputStream.Stdout ? ".stdout" : ".stderr"));
    }
}
