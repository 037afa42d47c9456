using Microsoft.Extensions.Logging;
using RunCommand.Agent.State;
using RunCommand.Contracts.Agents;

namespace RunCommand.Agent.Execution;

/// <summary>
/// Uploads one execution's stdout/stderr files from the offsets the server acknowledged. Not thread-safe:
/// the runner uses it from one flow at a time (progress loop, then the backlog, then the final report).
/// </summary>
internal sealed class OutputShipper(
    string executionId,
    ExecutionPaths paths,
    IExecutionReporter reporter,
    ExecutionSettings settings,
    ILogger logger,
    long stdoutAcked,
    long stderrAcked,
    Action onCancelRequested,
    SpoolTrail? trail = null)
{
    private readonly FailureKindFilter _failures = new();
    private long _stdoutAcked = stdoutAcked;
    private long _stderrAcked = stderrAcked;

    /// <summary>The uploader to send output with once the server said it takes raw uploads; null: inside reports.</summary>
    private IOutputUploader? _uploader;

    private readonly TaskCompletionSource _firstReport = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes once this execution's first report has its answer (or failed): the agent's connection is free again.</summary>
    public Task FirstReport => _firstReport.Task;

    /// <summary>The server answered 404: stop reporting this execution.</summary>
    public bool UnknownToServer { get; private set; }

    public bool HasNewOutput => Length(paths.Stdout) > _stdoutAcked || Length(paths.Stderr) > _stderrAcked;

    /// <summary>True when at least one whole chunk of a stream waits to be sent (the script writes faster than a chunk a tick).</summary>
    public bool HasFullChunkPending =>
        Length(paths.Stdout) - _stdoutAcked >= settings.MaxChunkBytes || Length(paths.Stderr) - _stderrAcked >= settings.MaxChunkBytes;

    /// <summary>
    /// Sends a Running report with the next output chunks. Returns false when it failed (the next tick
    /// tries again); never throws except on cancellation.
    /// </summary>
    public async Task<bool> SendProgressAsync(DateTimeOffset? startTime, CancellationToken cancellationToken)
    {
        if (UnknownToServer)
        {
            return false;
        }

        try
        {
            if (_uploader is not null && HasNewOutput)
            {
                // The Running state went with an earlier report; the uploads' answers carry the cancel flag.
                await UploadOnceAsync(_uploader, cancellationToken);
                return true;
            }

            var (stdout, stderr) = ReadChunks();
            await SendAsync(new ExecutionReport { State = LocalState.Running, StartTime = startTime, Stdout = stdout, Stderr = stderr }, cancellationToken);
            return true;
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            NoteFailure(e);
            return false;
        }
    }

    /// <summary>
    /// Sends the output waiting in whole chunks, back to back, in Running reports (or uploads): a script writing more
    /// than a chunk a tick is shipped as fast as the server takes it, and after the script ended the final report has at
    /// most a chunk a stream left to send. Stops once less than a chunk waits, when <paramref name="stop"/> fires (a
    /// report in flight completes: only <paramref name="cancellationToken"/> aborts it), or at the first report that
    /// fails or does not move the server forward (the next tick, or the final report, tries again).
    /// </summary>
    public async Task SendBacklogAsync(DateTimeOffset? startTime, CancellationToken stop, CancellationToken cancellationToken)
    {
        while (HasFullChunkPending && !stop.IsCancellationRequested)
        {
            var before = (_stdoutAcked, _stderrAcked);
            if (!await SendProgressAsync(startTime, cancellationToken) || (_stdoutAcked, _stderrAcked) == before)
            {
                return;
            }
        }
    }

    /// <summary>
    /// Tells the server how a not yet started execution is getting on (a Pending report whose message is the note, e.g.
    /// a failed download attempt). Best effort: a note that does not go through is only logged, never retried.
    /// </summary>
    public async Task SendNoteAsync(string note, CancellationToken cancellationToken)
    {
        if (UnknownToServer)
        {
            return;
        }

        try
        {
            await SendAsync(new ExecutionReport { State = LocalState.Pending, Message = note }, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            NoteFailure(e);
        }
    }

    /// <summary>
    /// Sends all remaining output and then the terminal state (the last chunk carries it, so a client that
    /// sees a terminal state sees all output). Retries with backoff until it succeeds or
    /// <paramref name="cancellationToken"/> fires. Returns true once the server holds everything.
    /// </summary>
    public async Task<bool> SendFinalAsync(ExecutionReport terminal, CancellationToken cancellationToken)
    {
        var backoff = new Backoff(settings.RetryInitialDelay, settings.RetryMaxDelay);
        var stalled = 0;
        while (!UnknownToServer)
        {
            try
            {
                var before = (_stdoutAcked, _stderrAcked);
                if (_uploader is not null)
                {
                    // Raw: all output first, then the terminal state in a report without output.
                    while (HasNewOutput && await UploadOnceAsync(_uploader, cancellationToken))
                    {
                    }
                }

                var (stdout, stderr) = _uploader is null ? ReadChunks() : (null, null);
                var complete = (_stdoutAcked + (stdout?.Data.Length ?? 0)) >= Length(paths.Stdout)
                    && (_stderrAcked + (stderr?.Data.Length ?? 0)) >= Length(paths.Stderr);
                var report = complete
                    ? terminal with { Stdout = stdout, Stderr = stderr }
                    : new ExecutionReport { State = LocalState.Running, StartTime = terminal.StartTime, Stdout = stdout, Stderr = stderr };
                await SendAsync(report, cancellationToken);
                backoff.Reset();
                if (complete && _stdoutAcked >= Length(paths.Stdout) && _stderrAcked >= Length(paths.Stderr))
                {
                    return true;
                }

                // The server took less than we sent and did not move on: do not spin forever.
                stalled = (_stdoutAcked, _stderrAcked) == before ? stalled + 1 : 0;
                if (stalled >= 3)
                {
                    Log.OutputStalled(logger, executionId, _stdoutAcked, _stderrAcked);
                    return complete;
                }
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                NoteFailure(e);
                if (UnknownToServer)
                {
                    break;
                }

                await Task.Delay(backoff.Next(), cancellationToken);
            }
        }

        // Not ours (404): nothing more will ever be accepted; count it as done so it is not resent forever.
        return true;
    }

    private async Task SendAsync(ExecutionReport report, CancellationToken cancellationToken)
    {
        try
        {
            Acknowledged(await reporter.ReportAsync(executionId, report, cancellationToken));
        }
        finally
        {
            _firstReport.TrySetResult();
        }
    }

    /// <summary>
    /// Uploads the next run (at most <see cref="OutputUpload.MaxBytes"/>) of each stream with output past its ack.
    /// Returns false when an answer did not move a stream forward (a gap the server refused, or it holds less than it
    /// took): the caller stops instead of spinning.
    /// </summary>
    private async Task<bool> UploadOnceAsync(IOutputUploader uploader, CancellationToken cancellationToken)
    {
        var moved = true;
        foreach (var (name, path, isStdout) in new[] { ("stdout", paths.Stdout, true), ("stderr", paths.Stderr, false) })
        {
            var acked = isStdout ? _stdoutAcked : _stderrAcked;
            var length = Math.Min(Length(path) - acked, OutputUpload.MaxBytes);
            if (length <= 0)
            {
                continue;
            }

            Acknowledged(await uploader.UploadOutputAsync(executionId, name, path, acked, length, cancellationToken));
            moved &= (isStdout ? _stdoutAcked : _stderrAcked) > acked;
        }

        return moved;
    }

    private void Acknowledged(ReportAck ack)
    {
        _failures.Reset();
        if (ack.RawOutput && reporter is IOutputUploader uploader)
        {
            _uploader = uploader;
        }

        // The ack is the truth: resume where the server is, even if it is behind what we sent.
        _stdoutAcked = ack.StdoutLength;
        _stderrAcked = ack.StderrLength;
        trail?.Acknowledged(paths.Stdout, SpoolReader.Server, _stdoutAcked);
        trail?.Acknowledged(paths.Stderr, SpoolReader.Server, _stderrAcked);
        if (ack.Cancel)
        {
            onCancelRequested();
        }
    }

    private (OutputChunk? Stdout, OutputChunk? Stderr) ReadChunks() =>
        (ReadChunk(paths.Stdout, _stdoutAcked), ReadChunk(paths.Stderr, _stderrAcked));

    private OutputChunk? ReadChunk(string path, long offset)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            var available = stream.Length - offset;
            if (available <= 0)
            {
                return null;
            }

            var buffer = new byte[Math.Min(available, settings.MaxChunkBytes)];
            stream.Position = offset;
            var read = stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false);
            return read == 0 ? null : new OutputChunk { Offset = offset, Data = read == buffer.Length ? buffer : buffer[..read] };
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            // No output file (yet), or no execution directory at all (one the state dir refused): nothing to send.
            return null;
        }
    }

    private void NoteFailure(Exception e)
    {
        if (e is ExecutionNotFoundException)
        {
            UnknownToServer = true;
            Log.ExecutionUnknownToServer(logger, executionId);
            return;
        }

        var kind = FailureKindFilter.KindOf(e);
        if (_failures.ShouldLog(kind))
        {
            Log.ReportFailed(logger, executionId, kind, e.Message);
        }
    }

    private static long Length(string path)
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
}
