using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;
using RunCommand.Server.Hosting;

namespace RunCommand.Server.Tests.Hosting;

/// <summary>
/// The admission of new connections (docs/performance.md, item 10) over real pipes: beyond its slots a connection waits,
/// in arrival order, until one in front of it sends its first request, closes, or holds its slot too long.
/// </summary>
public sealed class ConnectionAdmissionTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }

    private static DefaultConnectionContext NewConnection(string id)
    {
        var input = new Pipe();
        var output = new Pipe();
        return new DefaultConnectionContext(id, new DuplexPipe(input.Reader, output.Writer), new DuplexPipe(output.Reader, input.Writer));
    }

    /// <summary>Runs the connection through the gate; "Kestrel" (the next delegate) records its arrival and holds it until released.</summary>
    private sealed class Handshakes
    {
        private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public List<string> Entered { get; } = [];

        public Dictionary<string, IDictionary<object, object?>> Items { get; } = [];

        public ConnectionDelegate Next => async connection =>
        {
            lock (Entered)
            {
                Entered.Add(connection.ConnectionId);
                Items[connection.ConnectionId] = connection.Items;
            }

            await _done.Task;
        };

        public int Count
        {
            get
            {
                lock (Entered)
                {
                    return Entered.Count;
                }
            }
        }

        public void EndAll() => _done.TrySetResult();
    }

    /// <summary>An admission of <paramref name="slots"/> in front of a recording "Kestrel", and the gate that joins them.</summary>
    private static (ConnectionAdmission Admission, Handshakes Kestrel, ConnectionDelegate Gate) Gate(int slots, TimeSpan longestHold, TimeSpan? longestWait = null)
    {
        var admission = new ConnectionAdmission(slots, longestHold, longestWait ?? TimeSpan.FromHours(1), TimeProvider.System);
        var kestrel = new Handshakes();
        return (admission, kestrel, admission.Wrap(kestrel.Next));
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}");
            await Task.Delay(10);
        }
    }

    [Fact]
    public async Task Wrap_MoreConnectionsThanSlots_TheRestWaitAndEnterInArrivalOrderAsFirstRequestsFreeSlots()
    {
        var (admission, kestrel, gate) = Gate(2, TimeSpan.FromHours(1));
        var connections = Enumerable.Range(0, 5).Select(i => NewConnection($"c{i}")).ToList();
        var running = new List<Task>();
        foreach (var connection in connections)
        {
            running.Add(gate(connection));
            // Arrival order is the order the gate is entered.
            await WaitUntilAsync(() => admission.Free == 0 || kestrel.Count == running.Count, "the connection to reach the gate");
        }

        await WaitUntilAsync(() => kestrel.Count == 2, "two connections admitted");
        await Task.Delay(200);
        Assert.Equal(["c0", "c1"], kestrel.Entered);

        // c1's first request arrives: its slot goes to the first waiting connection, c2; then c0's to c3.
        ConnectionAdmission.SetupDone(kestrel.Items["c1"]);
        await WaitUntilAsync(() => kestrel.Count == 3, "a third connection admitted");
        ConnectionAdmission.SetupDone(kestrel.Items["c0"]);
        await WaitUntilAsync(() => kestrel.Count == 4, "a fourth connection admitted");
        // A second request on the same connection frees nothing more.
        ConnectionAdmission.SetupDone(kestrel.Items["c1"]);
        await Task.Delay(200);
        Assert.Equal(["c0", "c1", "c2", "c3"], kestrel.Entered);

        kestrel.EndAll();
        await Task.WhenAll(running).WaitAsync(Deadline);
        Assert.Equal(["c0", "c1", "c2", "c3", "c4"], kestrel.Entered);
        Assert.Equal(2, admission.Free);
    }

    [Fact]
    public async Task Wrap_ConnectionSendsNothing_ItsSlotIsFreedAfterTheLongestHold()
    {
        var (admission, kestrel, gate) = Gate(1, TimeSpan.FromMilliseconds(100));

        var silent = gate(NewConnection("silent"));
        var next = gate(NewConnection("next"));

        // No first request ever comes on "silent"; "next" still gets in.
        await WaitUntilAsync(() => kestrel.Count == 2, "the waiting connection admitted after the hold");
        Assert.Equal(["silent", "next"], kestrel.Entered);
        kestrel.EndAll();
        await Task.WhenAll(silent, next).WaitAsync(Deadline);
        Assert.Equal(1, admission.Free);
    }

    [Fact]
    public async Task Wrap_ClientLeavesWhileWaiting_IsNeverHandedOnAndTakesNoSlot()
    {
        var (admission, kestrel, gate) = Gate(1, TimeSpan.FromHours(1));
        var first = gate(NewConnection("first"));
        using var closed = new CancellationTokenSource();
        var leaving = NewConnection("leaving");
        leaving.ConnectionClosed = closed.Token;
        var waiting = gate(leaving);

        await closed.CancelAsync();
        await waiting.WaitAsync(Deadline);
        var after = gate(NewConnection("after"));
        ConnectionAdmission.SetupDone(kestrel.Items["first"]);
        await WaitUntilAsync(() => kestrel.Count == 2, "the next connection admitted");

        Assert.Equal(["first", "after"], kestrel.Entered);
        kestrel.EndAll();
        await Task.WhenAll(first, after).WaitAsync(Deadline);
    }

    [Fact]
    public async Task Wrap_ConnectionWaitedLongerThanTheLongestWait_IsClosedUnhandledAndItsSlotGoesOn()
    {
        var (admission, kestrel, gate) = Gate(1, TimeSpan.FromHours(1), longestWait: TimeSpan.FromMilliseconds(200));
        var first = gate(NewConnection("first"));
        await WaitUntilAsync(() => kestrel.Count == 1, "the first connection admitted");
        var stale = gate(NewConnection("stale"));
        await Task.Delay(400);

        // "stale" gets the slot only after its client would have given up: it ends without a handshake.
        ConnectionAdmission.SetupDone(kestrel.Items["first"]);
        await stale.WaitAsync(Deadline);
        Assert.Equal(1, admission.Shed);
        Assert.Equal(1, admission.Free);
        var fresh = gate(NewConnection("fresh"));
        await WaitUntilAsync(() => kestrel.Count == 2, "a fresh connection admitted");

        Assert.Equal(["first", "fresh"], kestrel.Entered);
        kestrel.EndAll();
        await Task.WhenAll(first, fresh).WaitAsync(Deadline);
        Assert.Equal(1, admission.Shed);
    }
}
