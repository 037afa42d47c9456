using System.Diagnostics;
using System.Net.Sockets;
using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>
/// A server meeting its whole fleet at once (after a restart) lets new connections into their TLS handshakes a few at a
/// time, in arrival order (the server's connection admission); the rest wait, accepted. An agent whose connection waits
/// there longer than Kestrel's 10 s handshake limit keeps its place and gets through at its first try, instead of
/// giving up (or being shed) and starting again at the back of the queue (docs/performance.md, item 36).
/// </summary>
public sealed class AdmissionQueueTests
{
    /// <summary>The server's handshake slots (<c>ConnectionAdmission.DefaultSlots</c>): 16 a core, at least 16.</summary>
    private static int Slots => Math.Max(16, Environment.ProcessorCount * 16);

    [Fact]
    public async Task Agent_QueuedBehindAHerdForMoreThanTenSeconds_EnrollsAtItsFirstTry()
    {
        await using var scope = new TestScope("rc-admission-");
        var server = scope.Track(await ServerProcess.StartAsync(Path.Combine(scope.Dir, "server"), https: true));
        var endpoint = new Uri(server.Url);

        // The herd: connections that never send a byte, each keeping its slot for the longest hold (2 s). Six rounds of
        // every slot ahead of the agent put it about 12 s back in the queue.
        var herd = new List<Socket>();
        try
        {
            for (var i = 0; i < Slots * 6; i++)
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
                herd.Add(socket);
                await socket.ConnectAsync(endpoint.Host, endpoint.Port);
            }

            var started = Stopwatch.GetTimestamp();
            var agent = scope.Track(await AgentProcess.StartAsync(server, "queued", "rg", Path.Combine(scope.Dir, "agent")));
            var waited = Stopwatch.GetElapsedTime(started);

            Assert.EndsWith("/virtualMachines/queued", agent.ResourceId, StringComparison.Ordinal);
            Assert.DoesNotContain("Cannot reach the server", agent.Process.Output, StringComparison.Ordinal);
            // Longer than the 10 s an agent gave a connection before, and the 7 s the server let one wait before it shed
            // it (the herd's sockets too): this run tested the wait it is about.
            Assert.True(waited > TimeSpan.FromSeconds(10), $"the agent enrolled after only {waited.TotalSeconds:F1} s: it did not wait behind the herd");
        }
        finally
        {
            foreach (var socket in herd)
            {
                socket.Dispose();
            }
        }
    }
}
