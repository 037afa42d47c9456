using RunCommand.Contracts;

namespace RunCommand.Agent.Execution;

/// <summary>Who sends an execution's spool files somewhere: the server, and an append blob where the run command has one.</summary>
internal enum SpoolReader
{
    Server,
    Blob,
}

/// <summary>
/// How far each reader of an execution's spool files has had its bytes acknowledged, so that the page cache behind the
/// slowest is let go (<see cref="PageCacheTrail"/>): a script writing a GiB then reuses the same memory instead of a GiB
/// of fresh pages, and no reader ever reads back from the disk what another has not sent yet. Positions only grow; a
/// reader that stops (a blob given up) holds the trail where it stopped, which leaves the cache as it was.
/// Thread-safe: the server's uploads and the blob mirror acknowledge from their own flows.
/// </summary>
internal sealed class SpoolTrail
{
    private readonly Spool[] _files;

    /// <param name="paths">The execution's files.</param>
    /// <param name="stdoutMirrored">Whether stdout also goes to an append blob (outputBlobUri).</param>
    /// <param name="stderrMirrored">Whether stderr also goes to an append blob (errorBlobUri).</param>
    public SpoolTrail(ExecutionPaths paths, bool stdoutMirrored, bool stderrMirrored)
    {
        _files = [new Spool(paths.Stdout, stdoutMirrored), new Spool(paths.Stderr, stderrMirrored)];
    }

    /// <summary>Says <paramref name="reader"/> has <paramref name="acknowledged"/> bytes of the file at <paramref name="path"/> where they go.</summary>
    public void Acknowledged(string path, SpoolReader reader, long acknowledged)
    {
        var file = Array.Find(_files, f => f.Path == path);
        if (file is null)
        {
            return;
        }

        long from, to;
        lock (file)
        {
            var index = (int)reader;
            if (index >= file.Positions.Length || acknowledged <= file.Positions[index])
            {
                return;
            }

            file.Positions[index] = acknowledged;
            to = file.Positions.Min();
            if (to <= file.Passed)
            {
                return;
            }

            from = file.Passed;
            file.Passed = to;
        }

        PageCacheTrail.Passed(path, from, to);
    }

    private sealed class Spool(string path, bool mirrored)
    {
        public string Path { get; } = path;

        /// <summary>Acknowledged bytes by <see cref="SpoolReader"/>: the server's, then the blob's where mirrored.</summary>
        public long[] Positions { get; } = new long[mirrored ? 2 : 1];

        /// <summary>The slowest reader's position when the trail was last told.</summary>
        public long Passed { get; set; }
    }
}
