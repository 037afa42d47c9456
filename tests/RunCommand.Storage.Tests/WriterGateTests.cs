using RunCommand.Storage.Relational;

namespace RunCommand.Storage.Tests;

/// <summary>A node's run-command lanes commit together, its shared writer alone, each in its turn: neither starves the other.</summary>
public sealed class WriterGateTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Lanes_CommitTogether()
    {
        var gate = new WriterGate();
        var first = new TaskCompletionSource();
        var second = new TaskCompletionSource();
        var release = new TaskCompletionSource();

        var a = gate.RunLaneAsync(async () => { first.SetResult(); await release.Task; });
        var b = gate.RunLaneAsync(async () => { second.SetResult(); await release.Task; });

        // Both are inside at once: neither waits for the other to finish.
        await Task.WhenAll(first.Task, second.Task).WaitAsync(Wait);
        release.SetResult();
        await Task.WhenAll(a, b).WaitAsync(Wait);
    }

    [Fact]
    public async Task Shared_WaitsForTheLanesInsideAndLanesAskingAfterItWaitForIt()
    {
        var gate = new WriterGate();
        var order = new List<string>();
        var laneInside = new TaskCompletionSource();
        var releaseLane = new TaskCompletionSource();
        var sharedInside = new TaskCompletionSource();
        var releaseShared = new TaskCompletionSource();

        var lane = gate.RunLaneAsync(async () => { Record(order, "lane in"); laneInside.SetResult(); await releaseLane.Task; Record(order, "lane out"); });
        await laneInside.Task.WaitAsync(Wait);
        var shared = gate.RunSharedAsync(async () => { Record(order, "shared in"); sharedInside.SetResult(); await releaseShared.Task; Record(order, "shared out"); });
        var lateLane = gate.RunLaneAsync(() => { Record(order, "late lane"); return Task.CompletedTask; });

        // The shared writer does not enter while a lane's batch commits, and the lane that asked after it waits.
        await Task.Delay(200);
        Assert.False(sharedInside.Task.IsCompleted);
        Assert.False(lateLane.IsCompleted);

        releaseLane.SetResult();
        await sharedInside.Task.WaitAsync(Wait);
        await Task.Delay(100);
        Assert.False(lateLane.IsCompleted);

        releaseShared.SetResult();
        await Task.WhenAll(lane, shared, lateLane).WaitAsync(Wait);
        Assert.Equal(["lane in", "lane out", "shared in", "shared out", "late lane"], order);
    }

    [Fact]
    public async Task LanesWaitingBehindTheShared_GoBeforeItsNextBatch()
    {
        // A busy shared writer (batch after batch) must not keep the lanes out: the lane that asked while its first batch
        // ran goes before its second.
        var gate = new WriterGate();
        var order = new List<string>();
        var sharedInside = new TaskCompletionSource();
        var releaseShared = new TaskCompletionSource();

        var first = gate.RunSharedAsync(async () => { Record(order, "shared 1"); sharedInside.SetResult(); await releaseShared.Task; });
        await sharedInside.Task.WaitAsync(Wait);
        var lane = gate.RunLaneAsync(() => { Record(order, "lane"); return Task.CompletedTask; });
        var second = gate.RunSharedAsync(() => { Record(order, "shared 2"); return Task.CompletedTask; });

        releaseShared.SetResult();
        await Task.WhenAll(first, lane, second).WaitAsync(Wait);
        Assert.Equal(["shared 1", "lane", "shared 2"], order);
    }

    [Fact]
    public async Task Commit_Throws_TheGateOpensForTheNext()
    {
        var gate = new WriterGate();

        await Assert.ThrowsAsync<InvalidOperationException>(() => gate.RunSharedAsync(() => throw new InvalidOperationException("refused")));
        await Assert.ThrowsAsync<InvalidOperationException>(() => gate.RunLaneAsync(() => throw new InvalidOperationException("refused")));

        await gate.RunSharedAsync(() => Task.CompletedTask).WaitAsync(Wait);
        await gate.RunLaneAsync(() => Task.CompletedTask).WaitAsync(Wait);
    }

    private static void Record(List<string> order, string step)
    {
        lock (order)
        {
            order.Add(step);
        }
    }
}
