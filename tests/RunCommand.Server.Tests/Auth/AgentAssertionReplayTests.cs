using Microsoft.Extensions.Logging.Abstractions;
using RunCommand.Server.Auth;

namespace RunCommand.Server.Tests.Auth;

/// <summary>
/// The batched replay record (docs/agent-protocol.md, "Replay"): ids share commits, and an assertion is still accepted
/// once across nodes. Real SQLite file shared by two nodes (two <see cref="AgentAssertionReplay"/>s).
/// </summary>
public sealed class AgentAssertionReplayTests() : SqliteStoreTests("rc-replay-")
{
    private readonly DateTimeOffset _issued = DateTimeOffset.UtcNow;

    private AgentAssertionReplay Node() => new(Storage.Machines, TimeProvider.System, NullLogger<AgentAssertionReplay>.Instance);

    private static byte[] Payload(int i) => System.Text.Encoding.UTF8.GetBytes($"/subscriptions/s/vm{i}|1700000000|nonce{i}");

    [Fact]
    public async Task TryUseAsync_ManyPollsAtOnce_ShareCommitsAndAreEachAcceptedOnce()
    {
        var node = Node();

        var uses = await Task.WhenAll(Enumerable.Range(0, 200).Select(i => node.TryUseAsync(Payload(i), _issued, deferred: true, CancellationToken.None)));

        Assert.All(uses, Assert.True);
        // 200 ids queued within microseconds of each other: a handful of transactions, not 200.
        Assert.InRange(node.Commits, 1, 20);
        Assert.False(await node.TryUseAsync(Payload(7), _issued, deferred: true, CancellationToken.None));
    }

    [Fact]
    public async Task TryUseAsync_UsedOnOneNode_IsRefusedOnTheOther()
    {
        var nodeA = Node();
        var nodeB = Node();

        Assert.True(await nodeA.TryUseAsync(Payload(1), _issued, deferred: false, CancellationToken.None));
        Assert.False(await nodeB.TryUseAsync(Payload(1), _issued, deferred: false, CancellationToken.None));
        Assert.False(await nodeB.TryUseAsync(Payload(1), _issued, deferred: true, CancellationToken.None));
    }

    [Fact]
    public async Task TryUseAsync_SameAssertionOnTwoNodesWhileBothBatch_IsAcceptedExactlyOnce()
    {
        var nodeA = Node();
        var nodeB = Node();

        // Both ids wait in their node's batch at the same time: the store decides, and only one node accepts.
        for (var i = 0; i < 20; i++)
        {
            var onA = nodeA.TryUseAsync(Payload(100 + i), _issued, deferred: true, CancellationToken.None);
            var onB = nodeB.TryUseAsync(Payload(100 + i), _issued, deferred: i % 2 == 0, CancellationToken.None);
            var accepted = (await onA ? 1 : 0) + (await onB ? 1 : 0);
            Assert.Equal(1, accepted);
        }
    }
}
