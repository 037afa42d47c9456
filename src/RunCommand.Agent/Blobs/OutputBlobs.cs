using System.Net;
using Microsoft.Extensions.Logging;
using RunCommand.Agent.Execution;

namespace RunCommand.Agent.Blobs;

/// <summary>
/// Mirrors an execution's stdout/stderr files into the run command's outputBlobUri/errorBlobUri append blobs.
/// Each blob keeps its own offset: the number of bytes of its file already in the blob. The files are the truth
/// (the script's process group writes them directly), so after an agent restart the mirror continues from the
/// blob's current length instead of starting over. Not thread-safe: one flow at a time (the pump loop, then the
/// final flush).
/// </summary>
internal sealed class OutputBlobs
{
    private readonly List<Target> _targets;
    private readonly int _maxAttempts;
    private readonly ILogger _logger;
    private readonly string _executionId;
    private readonly SpoolTrail? _trail;

    private OutputBlobs(List<Target> targets, int maxAttempts, ILogger logger, string executionId, SpoolTrail? trail)
    {
        _trail = trail;
        _targets = targets;
        _maxAttempts = maxAttempts;
        _logger = logger;
        _executionId = executionId;
    }

    /// <summary>The mirror for the given blob URLs (either may be null), signed with a key where given; null when there is none.</summary>
    public static OutputBlobs? For(
        string executionId, string stdoutPath, string stderrPath, string? outputBlobUri, string? errorBlobUri,
        HttpClient http, int maxAttempts, ILogger logger, StorageKey? outputKey = null, StorageKey? errorKey = null, SpoolTrail? trail = null)
    {
        var targets = new List<Target>();
        if (outputBlobUri is not null)
        {
            targets.Add(new Target("output", stdoutPath, new AppendBlobClient(http, new Uri(outputBlobUri), outputKey)));
        }

        if (errorBlobUri is not null)
        {
            targets.Add(new Target("error", stderrPath, new AppendBlobClient(http, new Uri(errorBlobUri), errorKey)));
        }

        return targets.Count == 0 ? null : new OutputBlobs(targets, maxAttempts, logger, executionId, trail);
    }

    /// <summary>
    /// Creates (or replaces) every blob as an empty append blob, before the script starts. Returns null on success,
    /// else the reason naming the blob, e.g. "Could not create the output blob: HTTP 403 ... from host h".
    /// Transient failures are tried again a few times; a refusal (4xx) is final at once.
    /// </summary>
    public async Task<string?> CreateAsync(Backoff backoff, CancellationToken cancellationToken)
    {
        foreach (var target in _targets)
        {
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    await target.Client.CreateAsync(cancellationToken);
                    target.Offset = 0;
                    target.Ready = true;
                    break;
                }
                catch (BlobRequestException e) when (!e.IsPermanent && attempt < Math.Min(3, _maxAttempts))
                {
                    Log.BlobFailed(_logger, _executionId, target.Name, e.Message);
                    await Task.Delay(backoff.Next(), cancellationToken);
                }
                catch (BlobRequestException e)
                {
                    return $"Could not create the {target.Name} blob: {e.Message}";
                }
            }
        }

        return null;
    }

    /// <summary>True when some blob is behind its file and still writable.</summary>
    public bool HasPendingBytes => _targets.Any(t => t.Failure is null && (!t.Ready || t.Offset < FileLength(t.Path)));

    /// <summary>Why a blob stopped being written (one note per blob, joined), or null when none failed.</summary>
    public string? FailureNote
    {
        get
        {
            var notes = _targets.Where(t => t.Failure is not null).Select(t => $"{t.Name} blob append failed: {t.Failure}").ToList();
            return notes.Count == 0 ? null : string.Join("; ", notes);
        }
    }

    /// <summary>
    /// Appends whatever each file holds past its blob's offset, in blocks of at most 100 MiB (4 MiB where refused). Returns false when a call
    /// failed (wait before the next pass); a blob that failed <c>maxAttempts</c> passes in a row (3 for a refusal such
    /// as 403) is given up and named in <see cref="FailureNote"/>.
    /// </summary>
    public async Task<bool> PumpOnceAsync(CancellationToken cancellationToken)
    {
        var ok = true;
        foreach (var target in _targets.Where(t => t.Failure is null))
        {
            try
            {
                if (!target.Ready)
                {
                    // After a restart (or a failed pass): the blob's length says where to continue.
                    target.Offset = await target.Client.GetLengthAsync(cancellationToken);
                    target.Ready = true;
                }

                // Append blobs take no parallel writes: as few, as large blocks as the service takes, streamed from the file.
                while (FileLength(target.Path) - target.Offset is var available and > 0)
                {
                    try
                    {
                        target.Offset = await target.Client.AppendFileAsync(target.Offset, target.Path, Math.Min(available, target.BlockBytes), cancellationToken);
                        _trail?.Acknowledged(target.Path, SpoolReader.Blob, target.Offset);
                    }
                    catch (BlobRequestException e) when (e.Status == HttpStatusCode.RequestEntityTooLarge && target.BlockBytes > AppendBlobClient.LegacyMaxBlockBytes)
                    {
                        // A service older than 2022-11-02 (or one that caps blocks lower): its blocks are 4 MiB at most.
                        target.BlockBytes = AppendBlobClient.LegacyMaxBlockBytes;
                    }
                }

                target.Failures = 0;
            }
            catch (BlobRequestException e)
            {
                ok = false;
                target.Failures++;
                Log.BlobFailed(_logger, _executionId, target.Name, e.Message);
                if (target.Failures >= (e.IsPermanent ? Math.Min(3, _maxAttempts) : _maxAttempts))
                {
                    target.Failure = e.Message;
                    Log.BlobGivenUp(_logger, _executionId, target.Name, e.Message);
                }
            }
        }

        return ok;
    }

    /// <summary>
    /// Writes everything left, retrying with backoff, until each blob holds its whole file or is given up. Called
    /// after the script ended and before the terminal state is reported.
    /// </summary>
    public async Task FlushAsync(Backoff backoff, CancellationToken cancellationToken)
    {
        while (HasPendingBytes)
        {
            if (await PumpOnceAsync(cancellationToken))
            {
                backoff.Reset();
            }
            else if (HasPendingBytes)
            {
                await Task.Delay(backoff.Next(), cancellationToken);
            }
        }
    }

    /// <summary>Marks every blob to re-read its length before the next append (after a restart: the blob is not recreated).</summary>
    public void ResumeFromBlobLength()
    {
        foreach (var target in _targets)
        {
            target.Ready = false;
        }
    }

    private static long FileLength(string path)
    {
        try
        {
            return new FileInfo(path).Length;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    private sealed class Target(string name, string path, AppendBlobClient client)
    {
        public string Name { get; } = name;

        public string Path { get; } = path;

        public AppendBlobClient Client { get; } = client;

        /// <summary>Bytes of the file already in the blob (valid when <see cref="Ready"/>).</summary>
        public long Offset { get; set; }

        /// <summary>Largest block to send: <see cref="AppendBlobClient.MaxBlockBytes"/>, lowered once when the service refuses it.</summary>
        public int BlockBytes { get; set; } = AppendBlobClient.MaxBlockBytes;

        /// <summary>False until the blob was created, or its length read after a restart.</summary>
        public bool Ready { get; set; }

        public int Failures { get; set; }

        /// <summary>Set when the blob was given up: why.</summary>
        public string? Failure { get; set; }
    }
}

/// <summary>The agent's one HTTP client for blob storage (connections pooled across executions).</summary>
internal static class BlobHttp
{
    private static readonly Lazy<HttpClient> Client = new(() => new HttpClient(new SocketsHttpHandler
    {
        PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
        ConnectTimeout = TimeSpan.FromSeconds(15),
    })
    {
        Timeout = TimeSpan.FromSeconds(100),
    });

    public static HttpClient Shared => Client.Value;
}
