using RunCommand.Agent.Execution;
using RunCommand.Contracts.Agents;

namespace RunCommand.Agent.Tests;

/// <summary>
/// A <see cref="FakeServer"/> that also takes raw output uploads, with the server's rules: bytes already held are
/// skipped, an upload starting past the end is refused (a gap: answered with the lengths held, nothing kept). With
/// <see cref="ForgetOnce"/> it drops the stdout it holds when the second upload arrives, as a server restored from an
/// older copy would, so that upload (from the offset the first one acknowledged) is a gap.
/// </summary>
internal sealed class RawUploadServer(FakeServer inner) : IExecutionReporter, IOutputUploader
{
    private int _uploads;
    private int _gaps;

    public bool ForgetOnce { get; init; }

    public int Uploads => Volatile.Read(ref _uploads);

    public int Gaps => Volatile.Read(ref _gaps);

    public async Task<ReportAck> ReportAsync(string executionId, ExecutionReport report, CancellationToken cancellationToken) =>
        (await inner.ReportAsync(executionId, report, cancellationToken)) with { RawOutput = true };

    /// <summary>How long each upload takes before it is answered (a server slower than the script's output).</summary>
    public TimeSpan UploadDelay { get; init; }

    public async Task<ReportAck> UploadOutputAsync(string executionId, string stream, string path, long offset, long length, CancellationToken cancellationToken)
    {
        await Task.Delay(UploadDelay, cancellationToken);
        var data = new byte[length];
        await using (var file = File.OpenRead(path))
        {
            file.Position = offset;
            await file.ReadExactlyAsync(data, cancellationToken);
        }

        var execution = inner[executionId];
        lock (execution)
        {
            if (Interlocked.Increment(ref _uploads) == 2 && ForgetOnce)
            {
                execution.Stdout.SetLength(0);
            }

            var held = stream == "stdout" ? execution.Stdout : execution.Stderr;
            if (offset > held.Length)
            {
                _gaps++;
            }
            else if (offset + length > held.Length)
            {
                var skip = (int)(held.Length - offset);
                held.Position = held.Length;
                held.Write(data, skip, data.Length - skip);
            }

            return new ReportAck
            {
                StdoutLength = execution.Stdout.Length,
                StderrLength = execution.Stderr.Length,
                Cancel = execution.Cancel,
                RawOutput = true,
            };
        }
    }
}
