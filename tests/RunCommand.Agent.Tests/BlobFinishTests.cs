using System.Diagnostics;
using System.Globalization;
using System.Text;
using RunCommand.Agent.Execution;
using RunCommand.Agent.State;
using RunCommand.Testing;

namespace RunCommand.Agent.Tests;

/// <summary>How an execution with an output blob ends, against a real Azurite: the blob's last bytes and the server's copy.</summary>
public sealed class BlobFinishTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>, IDisposable
{
    private readonly AgentFixture _fixture = new();

    public void Dispose() => _fixture.Dispose();

    [Fact]
    public async Task Finish_BlobsLastAppendWaitsForTheServer_ServerGetsTheOutputBacklogMeanwhile()
    {
        var blob = (await azurite.Azurite.CreateContainerAsync()).GetBlobClient("out.log");
        var expected = string.Concat(Enumerable.Range(1, 3_000_000).Select(i => $"{i}\n"));
        long total = Encoding.ASCII.GetByteCount(expected);
        var assignment = AgentFixture.Assignment("seq 1 3000000") with
        {
            OutputBlobUri = AzuriteProcess.SasUri(blob, AzuriteProcess.AppendBlobPermissions).ToString(),
        };
        // A server slower than the script (each upload of at most 8 MiB answered after 150 ms): output waits for it
        // when the script ends. The blob's last append is held until the server holds all but the final report's chunk.
        var server = new RawUploadServer(_fixture.Server) { UploadDelay = TimeSpan.FromMilliseconds(150) };
        var backlogShipped = () =>
        {
            var execution = _fixture.Server[assignment.ExecutionId];
            lock (execution)
            {
                return execution.Stdout.Length >= total - AgentFixture.FastSettings.MaxChunkBytes;
            }
        };
        using var hold = new HoldLastAppend(total, backlogShipped, TimeSpan.FromSeconds(10));
        using var http = new HttpClient(hold);
        var (manager, _) = _fixture.NewManager(server, AgentFixture.FastSettings with { BlobHttpClient = http });

        manager.Reconcile(AgentFixture.Goal(assignment));
        var final = await _fixture.Server[assignment.ExecutionId].WaitForTerminalAsync();

        Assert.Equal(LocalState.Succeeded, final.State);
        Assert.Null(final.Message);
        Assert.True(hold.Held, "no append reached the end of the output");
        Assert.False(hold.TimedOut, "the blob's last append waited out its limit: the server got no output while the blob was flushed");
        Assert.Equal(expected, _fixture.Server[assignment.ExecutionId].StdoutText);
        Assert.Equal(expected, (await blob.DownloadContentAsync()).Value.Content.ToString());
    }

    /// <summary>Holds the Append Block that ends at <paramref name="total"/> bytes until <paramref name="release"/> is true, or the limit passed.</summary>
    private sealed class HoldLastAppend(long total, Func<bool> release, TimeSpan limit) : DelegatingHandler(new SocketsHttpHandler())
    {
        public bool Held { get; private set; }

        public bool TimedOut { get; private set; }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (request.RequestUri!.Query.Contains("comp=appendblock", StringComparison.Ordinal)
                && request.Headers.TryGetValues("x-ms-blob-condition-appendpos", out var positions)
                && long.Parse(positions.Single(), CultureInfo.InvariantCulture) + request.Content!.Headers.ContentLength == total)
            {
                Held = true;
                var waited = Stopwatch.StartNew();
                while (!release())
                {
                    if (waited.Elapsed > limit)
                    {
                        TimedOut = true;
                        break;
                    }

                    await Task.Delay(10, cancellationToken);
                }
            }

            return await base.SendAsync(request, cancellationToken);
        }
    }
}
