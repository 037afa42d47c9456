using Microsoft.Extensions.Logging.Abstractions;
using RunCommand.Server.Auth;
using RunCommand.Storage;

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

    private static readonly VmKey Vm = new("00000000-0000-0000-0000-000000000001", "group", "vm");

    private static readonly byte[] PublicKey = [1, 2, 3];

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        await Storage.Machines.EnrollAgentAsync(Vm, "local", new AgentCredential(null, PublicKey), null, null, null, _issued, CancellationToken.None);
    }

    private static Task<AgentAssertionOutcome> UseAsync(AgentAssertionReplay node, int i, bool deferred) =>
        node.TryUseAsync(Payload(i), DateTimeOffset.UtcNow, Vm, PublicKey, deferred, CancellationToken.None);

    [Fact]
    public async Task TryUseAsync_ManyPollsAtOnce_ShareCommitsAndAreEachAcceptedOnce()
    {
        var node = Node();

        var uses = await Task.WhenAll(Enumerable.Range(0, 200).Select(i => UseAsync(node, i, deferred: true)));

        Assert.All(uses, use => Assert.Equal(AgentAssertionOutcome.FirstUse, use));
        // 200 ids queued within microseconds of each other: a handful of transactions, not 200.
        Assert.InRange(node.Commits, 1, 20);
        Assert.Equal(AgentAssertionOutcome.Replayed, await UseAsync(node, 7, deferred: true));
    }

    [Fact]
    public async Task TryUseAsync_UsedOnOneNode_IsRefusedOnTheOther()
    {
        var nodeA = Node();
        var nodeB = Node();

        Assert.Equal(AgentAssertionOutcome.FirstUse, await UseAsync(nodeA, 1, deferred: false));
        Assert.Equal(AgentAssertionOutcome.Replayed, await UseAsync(nodeB, 1, deferred: false));
        Assert.Equal(AgentAssertionOutcome.Replayed, await UseAsync(nodeB, 1, deferred: true));
    }

    [Fact]
    public async Task TryUseAsync_SameAssertionOnTwoNodesWhileBothBatch_IsAcceptedExactlyOnce()
    {
        var nodeA = Node();
        var nodeB = Node();

        // Both ids wait in their node's batch at the same time: the store decides, and only one node accepts.
        for (var i = 0; i < 20; i++)
        {
            var onA = UseAsync(nodeA, 100 + i, deferred: true);
            var onB = UseAsync(nodeB, 100 + i, deferred: i % 2 == 0);
            var accepted = (await onA == AgentAssertionOutcome.FirstUse ? 1 : 0) + (await onB == AgentAssertionOutcome.FirstUse ? 1 : 0);
            Assert.Equal(1, accepted);
        }
    }

    [Fact]
    public async Task TryUseAsync_MachineRevokedOrReKeyedThroughAnotherNode_IsCredentialGoneAndNotRecorded()
    {
        var node = Node();
        Assert.Equal(AgentAssertionOutcome.FirstUse, await UseAsync(node, 1, deferred: false));

        // Re-keyed (enrolled again with another key): a use that verified with the old key is refused, in the same commit.
        await Storage.Machines.EnrollAgentAsync(Vm, "local", new AgentCredential(null, [4, 5, 6]), null, null, null, _issued, CancellationToken.None);
        Assert.Equal(AgentAssertionOutcome.CredentialGone, await UseAsync(node, 2, deferred: false));
        Assert.Equal(AgentAssertionOutcome.FirstUse, await node.TryUseAsync(Payload(3), DateTimeOffset.UtcNow, Vm, [4, 5, 6], deferred: true, CancellationToken.None));

        // Revoked: refused with any key; the refused use was not recorded, so the store would still take it.
        await Storage.Machines.RevokeAgentAsync(Vm, CancellationToken.None);
        Assert.Equal(AgentAssertionOutcome.CredentialGone, await node.TryUseAsync(Payload(4), DateTimeOffset.UtcNow, Vm, [4, 5, 6], deferred: true, CancellationToken.None));
        Assert.True(await Storage.Machines.TryUseAgentAssertionAsync(System.Security.Cryptography.SHA256.HashData(Payload(2)), DateTimeOffset.UtcNow.AddMinutes(6), CancellationToken.None));
    }

    [Fact]
    public async Task TryUseAsync_DiskFull_AcceptsWhileTheMachineHoldsTheKeyAndRefusesOnceRevoked()
    {
        // The store cannot record uses (its disk is full): the machine and its key are read instead.
        var node = new AgentAssertionReplay(FullDisk.Over(Storage.Machines), TimeProvider.System, NullLogger<AgentAssertionReplay>.Instance);

        Assert.Equal(AgentAssertionOutcome.FirstUse, await UseAsync(node, 1, deferred: false));
        Assert.Equal(AgentAssertionOutcome.Replayed, await UseAsync(node, 1, deferred: false));
        await Storage.Machines.RevokeAgentAsync(Vm, CancellationToken.None);
        Assert.Equal(AgentAssertionOutcome.CredentialGone, await UseAsync(node, 2, deferred: true));
    }

    /// <summary>The real machine store, except that recording assertions' uses fails as on a full disk.</summary>
    public class FullDisk : System.Reflection.DispatchProxy
    {
        private IMachineStore _store = null!;

        public static IMachineStore Over(IMachineStore store)
        {
            var proxy = Create<IMachineStore, FullDisk>();
            ((FullDisk)(object)proxy)._store = store;
            return proxy;
        }

        protected override object? Invoke(System.Reflection.MethodInfo? targetMethod, object?[]? args) =>
            targetMethod!.Name == nameof(IMachineStore.TryUseAgentAssertionsAsync)
                ? Task.FromException<IReadOnlyList<AgentAssertionOutcome>>(new StorageFullException(new IOException("No space left on device")))
                : targetMethod.Invoke(_store, args);
    }

    [Fact]
    public async Task Hurry_DeferredIdWaitingForCompany_IsCommittedAtOnce()
    {
        // A batch delay far longer than the test: only Hurry can end the wait.
        var node = new AgentAssertionReplay(Storage.Machines, TimeProvider.System, NullLogger<AgentAssertionReplay>.Instance,
            Microsoft.Extensions.Options.Options.Create(new RunCommand.Server.Hosting.ServerOptions { AgentAssertionBatchDelay = TimeSpan.FromMinutes(30) }));
        var use = UseAsync(node, 1, deferred: true);
        await Task.Delay(300);
        Assert.False(use.IsCompleted, "a deferred id was committed without company or a hurry");

        node.Hurry();

        Assert.Equal(AgentAssertionOutcome.FirstUse, await use.WaitAsync(TimeSpan.FromSeconds(30)));
    }
}
