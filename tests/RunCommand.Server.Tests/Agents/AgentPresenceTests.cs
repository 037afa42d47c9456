using System.Reflection;
using Microsoft.Extensions.Options;
using RunCommand.Server.Agents;
using RunCommand.Server.Hosting;
using RunCommand.Storage;

namespace RunCommand.Server.Tests.Agents;

/// <summary>
/// Presence across nodes (issue 8 item 3): a VM whose agent polls node A shows Connected on node B, from the contact
/// stored in the shared database, also while one poll is held longer than the window, through node A's claim of the poll
/// and its lease (the batched writes of AgentPresence.WriteContactsAsync, which AgentPresenceWriter runs every few
/// seconds, are called here as time moves). Real SQLite file; each node is its own AgentPresence with its own node id;
/// time is moved, not waited.
/// </summary>
public sealed class AgentPresenceTests() : SqliteStoreTests("rc-presence-")
{
    private readonly ManualTime _time = new(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
    private readonly VmKey _vm = new("00000000-0000-0000-0000-0000000000aa", "rg", "vm1");

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        await Storage.Machines.EnrollAgentAsync(_vm, "local", AgentCredential.None, "host", "1.0", null, _time.GetUtcNow(), CancellationToken.None);
    }

    private AgentPresence Node(IMachineStore? machines = null) =>
        new(machines ?? Storage.Machines, Storage.Leases, new WorkLeases(Storage.Leases, _time), _time, Options.Create(new ServerOptions { AgentPresenceWindow = TimeSpan.FromSeconds(75) }));

    private async Task<VmRecord> StoredAsync(VmKey vm) => (await Storage.Machines.GetVmAsync(vm, CancellationToken.None))!;

    /// <summary>
    /// Moves time on by <paramref name="seconds"/>, 10 s at a time; at each step every node in <paramref name="nodes"/>
    /// writes its batch (as its AgentPresenceWriter does), then <paramref name="check"/> runs.
    /// </summary>
    private async Task RunForAsync(int seconds, AgentPresence[] nodes, Func<Task>? check = null)
    {
        for (var elapsed = 0; elapsed < seconds; elapsed += 10)
        {
            _time.Now += TimeSpan.FromSeconds(10);
            foreach (var node in nodes)
            {
                await node.WriteContactsAsync(CancellationToken.None);
            }

            if (check is not null)
            {
                await check();
            }
        }
    }

    [Fact]
    public async Task StatusOf_AgentPollsOtherNodeWithoutPause_IsConnectedLongAfterItsFirstPoll()
    {
        var nodeA = Node();
        var nodeB = Node();

        // Five minutes of back-to-back 30 s polls on node A: each ends as the next begins; node A's writer runs every 10 s.
        for (var i = 0; i < 10; i++)
        {
            using (await nodeA.BeginPollAsync(_vm, CancellationToken.None))
            {
                await RunForAsync(30, [nodeA]);
            }
        }

        using var stillPolling = await nodeA.BeginPollAsync(_vm, CancellationToken.None);
        var record = await StoredAsync(_vm);
        Assert.Equal("Connected", nodeB.StatusOf(record));
        Assert.True(_time.Now - record.LastContact!.Value <= TimeSpan.FromSeconds(30), $"stored contact {record.LastContact} at {_time.Now}");
    }

    [Fact]
    public async Task StatusOf_PollHeldLongerThanTheWindowOnOtherNode_IsConnectedUntilItEndsThenDisconnectedAfterTheWindow()
    {
        var nodeA = Node();
        var nodeB = Node();

        // One 5-minute poll held on node A (the server's default long poll), four times the 75 s window.
        var poll = await nodeA.BeginPollAsync(_vm, CancellationToken.None);
        await RunForAsync(300, [nodeA], async () => Assert.Equal("Connected", nodeB.StatusOf(await StoredAsync(_vm))));

        // The connection drops: no poll is held any more, so nothing refreshes the stored contact.
        poll.Dispose();
        await RunForAsync(80, [nodeA]);

        var record = await StoredAsync(_vm);
        Assert.Equal("Disconnected", nodeB.StatusOf(record));
        Assert.Equal("Disconnected", nodeA.StatusOf(record));
    }

    [Fact]
    public async Task WriteContactsAsync_PollsHeldForFiveMinutes_WritesNoContactWhileHeldAndEachEndWhenItEnds()
    {
        var nodeA = Node();
        var nodeB = Node();
        var vms = new List<VmKey>();
        for (var i = 0; i < 30; i++)
        {
            var vm = new VmKey(_vm.SubscriptionId, "rg", $"many{i}");
            await Storage.Machines.EnrollAgentAsync(vm, "local", AgentCredential.None, "host", "1.0", null, _time.GetUtcNow(), CancellationToken.None);
            vms.Add(vm);
        }

        var started = _time.GetUtcNow();
        var polls = new List<IDisposable>();
        foreach (var vm in vms)
        {
            polls.Add(await nodeA.BeginPollAsync(vm, CancellationToken.None));
        }

        // Five minutes, four windows: node A renews its own lease and writes no machine's contact, yet node B shows
        // every machine Connected all along.
        await RunForAsync(300, [nodeA], async () =>
        {
            foreach (var vm in vms)
            {
                var stored = await StoredAsync(vm);
                Assert.Equal(started, stored.LastContact);
                Assert.True(stored.HeldUntil > _time.GetUtcNow(), $"{vm.VmName} held until {stored.HeldUntil} at {_time.GetUtcNow()}");
                Assert.Equal("Connected", nodeB.StatusOf(stored));
            }
        });

        // The polls end: the next batch writes each end, and the hold ends with it.
        polls.ForEach(p => p.Dispose());
        var ended = _time.GetUtcNow();
        _time.Now += TimeSpan.FromSeconds(10);
        await nodeA.WriteContactsAsync(CancellationToken.None);
        foreach (var vm in vms)
        {
            var stored = await StoredAsync(vm);
            Assert.Equal(ended, stored.LastContact);
            Assert.Null(stored.HeldUntil);
        }
    }

    [Fact]
    public async Task StatusOf_NodeHoldingThePollDies_IsConnectedUntilItsLeaseRunsOutThenDisconnected()
    {
        var nodeA = Node();
        var nodeB = Node();

        var poll = await nodeA.BeginPollAsync(_vm, CancellationToken.None);
        await RunForAsync(120, [nodeA]);

        // Node A dies with the poll held: it writes nothing more, not even the poll's end.
        var died = _time.GetUtcNow();
        _time.Now = died + TimeSpan.FromSeconds(70);
        Assert.Equal("Connected", nodeB.StatusOf(await StoredAsync(_vm)));
        _time.Now = died + TimeSpan.FromSeconds(76);
        Assert.Equal("Disconnected", nodeB.StatusOf(await StoredAsync(_vm)));
        GC.KeepAlive(poll);
    }

    [Fact]
    public async Task StatusOf_AgentBackOnANodeAfterAnotherHeldItsPollBriefly_StaysConnectedOnEveryNode()
    {
        var nodeA = Node();
        var nodeB = Node();
        var nodeC = Node();

        // Held on node A, then for a second on node B (which claims it at once), then on node A again before either
        // node's next batch. Node B's batch ends its own claim; node A must claim the poll again.
        var first = await nodeA.BeginPollAsync(_vm, CancellationToken.None);
        _time.Now += TimeSpan.FromSeconds(10);
        await nodeA.WriteContactsAsync(CancellationToken.None);
        first.Dispose();
        var onB = await nodeB.BeginPollAsync(_vm, CancellationToken.None);
        _time.Now += TimeSpan.FromSeconds(1);
        onB.Dispose();
        using var back = await nodeA.BeginPollAsync(_vm, CancellationToken.None);

        // Five minutes of node A's poll, both nodes writing their batches.
        await RunForAsync(300, [nodeB, nodeA], async () => Assert.Equal("Connected", nodeC.StatusOf(await StoredAsync(_vm))));
    }

    [Fact]
    public async Task ReleaseAsync_ServerStops_OtherNodesCountItsPollsByTheirLastContact()
    {
        var nodeA = Node();
        var nodeB = Node();
        var poll = await nodeA.BeginPollAsync(_vm, CancellationToken.None);
        await RunForAsync(120, [nodeA]);

        Assert.Equal("Connected", nodeB.StatusOf(await StoredAsync(_vm)));
        await nodeA.ReleaseAsync(CancellationToken.None);

        // Its poll began two minutes ago, longer than the window: no node vouches for it now.
        Assert.Null((await StoredAsync(_vm)).HeldUntil);
        Assert.Equal("Disconnected", nodeB.StatusOf(await StoredAsync(_vm)));
        poll.Dispose();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task WriteContactsAsync_PollEndsWhileTheDatabaseIsBusyOrUnreachable_WritesTheEndWithALaterBatch(bool busyNotUnreachable)
    {
        var busy = BusyContactWrites.Over(Storage.Machines, busyNotUnreachable
            ? new StorageBusyException(new TimeoutException("busy, as the test asks"))
            : new TimeoutException("unreachable, as the test asks"));
        var nodeA = Node((IMachineStore)busy);
        var nodeB = Node();
        var other = new VmKey(_vm.SubscriptionId, "rg", "other");
        await Storage.Machines.EnrollAgentAsync(other, "local", AgentCredential.None, "host", "1.0", null, _time.GetUtcNow(), CancellationToken.None);

        // Node A holds both machines' polls, and goes on holding the other one's (so its lease stays renewed).
        using var otherPoll = await nodeA.BeginPollAsync(other, CancellationToken.None);
        var poll = await nodeA.BeginPollAsync(_vm, CancellationToken.None);
        await RunForAsync(20, [nodeA]);

        // The poll ends while the database refuses node A's batch, or cannot be reached: the end is not lost, a later
        // batch writes it.
        poll.Dispose();
        busy.Busy = true;
        if (busyNotUnreachable)
        {
            await RunForAsync(10, [nodeA]);
        }
        else
        {
            // Thrown on to AgentPresenceWriter, which logs it and writes again at its next tick.
            await Assert.ThrowsAsync<TimeoutException>(() => RunForAsync(10, [nodeA]));
        }

        busy.Busy = false;
        await RunForAsync(90, [nodeA]);

        Assert.Null((await StoredAsync(_vm)).HeldUntil);
        Assert.Equal("Disconnected", nodeB.StatusOf(await StoredAsync(_vm)));
        Assert.Equal("Connected", nodeB.StatusOf(await StoredAsync(other)));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task BeginPollAsync_FirstContactWriteFails_ThePollItBeganDoesNotStayHeld(bool canceledNotUnreachable)
    {
        // The agent's first poll on this node writes its contact at once; the agent is killed during that write (its
        // request aborted), or the database fails it. No handle reaches the poll's endpoint, so nothing else ends it.
        var failing = BusyContactWrites.Over(Storage.Machines, canceledNotUnreachable
            ? new OperationCanceledException("the agent's connection closed, as the test asks")
            : new TimeoutException("unreachable, as the test asks"));
        failing.Busy = true;
        var node = Node((IMachineStore)failing);

        await Assert.ThrowsAnyAsync<Exception>(() => node.BeginPollAsync(_vm, CancellationToken.None));
        failing.Busy = false;
        await RunForAsync(90, [node]);

        Assert.Equal(0, node.OpenPolls);
        Assert.Null((await StoredAsync(_vm)).HeldUntil);
        Assert.Equal("Disconnected", node.StatusOf(await StoredAsync(_vm)));
    }

    [Fact]
    public async Task StatusOf_AgentGoneFromOtherNode_IsDisconnectedAfterTheWindow()
    {
        var nodeA = Node();
        var nodeB = Node();
        using (await nodeA.BeginPollAsync(_vm, CancellationToken.None))
        {
            _time.Now += TimeSpan.FromSeconds(5);
        }

        _time.Now += TimeSpan.FromSeconds(76);

        Assert.Equal("Disconnected", nodeB.StatusOf(await StoredAsync(_vm)));
    }

    [Fact]
    public async Task StatusOf_AgentSignedOffOnOtherNode_IsDisconnectedAtOnceAndConnectedWhenItReturns()
    {
        var nodeA = Node();
        var nodeB = Node();
        using (await nodeA.BeginPollAsync(_vm, CancellationToken.None))
        {
            _time.Now += TimeSpan.FromSeconds(5);
        }

        Assert.Equal("Connected", nodeB.StatusOf(await StoredAsync(_vm)));
        await nodeA.SignOffAsync(_vm, CancellationToken.None);

        // Well inside the 75 s window: only the sign-off can make it Disconnected, on both nodes.
        var record = await StoredAsync(_vm);
        Assert.Equal("Disconnected", nodeA.StatusOf(record));
        Assert.Equal("Disconnected", nodeB.StatusOf(record));

        // Back a second later, polling node A again: its contact is stored at once (not held back by the 10 s throttle).
        _time.Now += TimeSpan.FromSeconds(1);
        using var back = await nodeA.BeginPollAsync(_vm, CancellationToken.None);
        Assert.Equal("Connected", nodeB.StatusOf(await StoredAsync(_vm)));
    }
}

/// <summary>The real machine store, whose contact writes fail with <see cref="Failure"/> while <see cref="Busy"/> is set.</summary>
public class BusyContactWrites : DispatchProxy
{
    public IMachineStore Inner { get; set; } = null!;

    public Exception Failure { get; set; } = null!;

    public bool Busy { get; set; }

    /// <summary><paramref name="inner"/> behind the proxy (cast it to <see cref="IMachineStore"/>), failing with <paramref name="failure"/>.</summary>
    public static BusyContactWrites Over(IMachineStore inner, Exception failure)
    {
        var proxy = (BusyContactWrites)(object)Create<IMachineStore, BusyContactWrites>();
        proxy.Inner = inner;
        proxy.Failure = failure;
        return proxy;
    }

    protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
    {
        if (Busy && targetMethod!.Name == nameof(IMachineStore.TouchAgentsAsync))
        {
            return Task.FromException(Failure);
        }

        try
        {
            return targetMethod!.Invoke(Inner, args);
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            throw e.InnerException;
        }
    }
}
