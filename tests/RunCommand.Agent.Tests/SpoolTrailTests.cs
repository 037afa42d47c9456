using RunCommand.Agent.Execution;
using RunCommand.Contracts;
using RunCommand.Testing;

namespace RunCommand.Agent.Tests;

/// <summary>
/// The page cache behind a spool file's slowest reader is let go (<see cref="SpoolTrail"/>, <see cref="PageCacheTrail"/>),
/// and never ahead of it. The files are flushed to disk first, so that every page the trail drops is clean (a page still
/// being written back would stay until a later call, which these tests do not wait for).
/// </summary>
public sealed class SpoolTrailTests : IDisposable
{
    private const long MiB = 1024 * 1024;
    private readonly string _dir = Directory.CreateTempSubdirectory("spooltrail-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private ExecutionPaths NewSpool(long stdoutBytes, long stderrBytes)
    {
        var paths = new ExecutionPaths(_dir);
        Write(paths.Stdout, stdoutBytes);
        Write(paths.Stderr, stderrBytes);
        return paths;
    }

    private static void Write(string path, long bytes)
    {
        using var file = File.OpenHandle(path, FileMode.Create, FileAccess.Write);
        var block = new byte[MiB];
        Array.Fill(block, (byte)'x');
        for (var at = 0L; at < bytes; at += block.Length)
        {
            RandomAccess.Write(file, block.AsSpan(0, (int)Math.Min(block.Length, bytes - at)), at);
        }

        RandomAccess.FlushToDisk(file);
    }

    [Fact]
    public void Acknowledged_ByTheServerPastTheKeptTail_LeavesOnlyTheTailCached()
    {
        var paths = NewSpool(48 * MiB, 1 * MiB);
        var trail = new SpoolTrail(paths, stdoutMirrored: false, stderrMirrored: false);

        for (var acked = 8 * MiB; acked <= 48 * MiB; acked += 8 * MiB)
        {
            trail.Acknowledged(paths.Stdout, SpoolReader.Server, acked);
        }

        Assert.Equal(PageCacheTrail.KeptBytes, PageCache.CachedBytes(paths.Stdout));
        Assert.Equal(48 * MiB, new FileInfo(paths.Stdout).Length);
    }

    [Fact]
    public void Acknowledged_SmallOutput_StaysCached()
    {
        var paths = NewSpool(PageCacheTrail.KeptBytes, 1 * MiB);
        var trail = new SpoolTrail(paths, stdoutMirrored: false, stderrMirrored: false);

        trail.Acknowledged(paths.Stdout, SpoolReader.Server, PageCacheTrail.KeptBytes);
        trail.Acknowledged(paths.Stderr, SpoolReader.Server, 1 * MiB);

        Assert.Equal(PageCacheTrail.KeptBytes, PageCache.CachedBytes(paths.Stdout));
        Assert.Equal(1 * MiB, PageCache.CachedBytes(paths.Stderr));
    }

    [Fact]
    public void Acknowledged_MirroredToABlob_DropsOnlyBehindTheSlowerReader()
    {
        var paths = NewSpool(64 * MiB, 40 * MiB);
        var trail = new SpoolTrail(paths, stdoutMirrored: true, stderrMirrored: false);

        // The server has all of stdout, the blob nothing yet: the blob must still read it from memory.
        trail.Acknowledged(paths.Stdout, SpoolReader.Server, 64 * MiB);
        Assert.Equal(64 * MiB, PageCache.CachedBytes(paths.Stdout));

        // The blob at 40 MiB: only what both have, less the kept tail, goes.
        trail.Acknowledged(paths.Stdout, SpoolReader.Blob, 40 * MiB);
        Assert.Equal(40 * MiB, PageCache.CachedBytes(paths.Stdout));

        // stderr has no blob: the server alone decides (a blob's word about it is ignored).
        trail.Acknowledged(paths.Stderr, SpoolReader.Blob, 0);
        trail.Acknowledged(paths.Stderr, SpoolReader.Server, 40 * MiB);
        Assert.Equal(PageCacheTrail.KeptBytes, PageCache.CachedBytes(paths.Stderr));
    }

    [Fact]
    public void Acknowledged_FileGone_IsNoError()
    {
        var paths = NewSpool(32 * MiB, 0);
        var trail = new SpoolTrail(paths, stdoutMirrored: false, stderrMirrored: false);
        File.Delete(paths.Stdout);

        trail.Acknowledged(paths.Stdout, SpoolReader.Server, 32 * MiB);
    }
}
