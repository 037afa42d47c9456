using Microsoft.Extensions.Options;
using RunCommand.Server.Agents;
using RunCommand.Server.Hosting;
using RunCommand.Storage;

namespace RunCommand.Server.Tests.Agents;

/// <summary>
/// Presence across nodes (issue 8 item 3): a VM whose agent polls node A shows Connected on node B, from the contact
/// stored in the shared database, also while one poll is held longer than the window (the batched writes of
/// AgentPresence.WriteContactsAsync, which AgentPresenceWriter runs every few seconds, are called here as time moves).
/// Real SQLite file; each node is its own AgentPresence; time is moved, not waited.
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

    private AgentPresence Node() => new(Storage.Machines, _time, Options.Create(new ServerOptions { AgentPresenceWindow = TimeSpan.FromSeconds(75) }));

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
                for (var tick = 0; tick < 3; tick++)
                {
                    _time.Now += TimeSpan.FromSeconds(10);
                    await nodeA.WriteContactsAsync(CancellationToken.None);
                }
            }
        }

        using var stillPolling = await nodeA.BeginPollAsync(_vm, CancellationToken.None);
        var record = (await Storage.Machines.GetVmAsync(_vm, CancellationToken.None))!;
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
        for (var elapsed = 0; elapsed < 300; elapsed += 10)
        {
            _time.Now += TimeSpan.FromSeconds(10);
            await nodeA.WriteContactsAsync(CancellationToken.None);
            Assert.Equal("Connected", nodeB.StatusOf((await Storage.Machines.GetVmAsync(_vm, CancellationToken.None))!));
        }

        // The connection drops: no poll is held any more, so nothing refreshes the stored contact.
        poll.Dispose();
        for (var elapsed = 0; elapsed < 80; elapsed += 10)
        {
            _time.Now += TimeSpan.FromSeconds(10);
            await nodeA.WriteContactsAsync(CancellationToken.None);
        }

        var record = (await Storage.Machines.GetVmAsync(_vm, CancellationToken.None))!;
        Assert.Equal("Disconnected", nodeB.StatusOf(record));
        Assert.Equal("Disconnected", nodeA.StatusOf(record));
    }

    [Fact]
    public async Task WriteContactsAsync_ManyPollsHeld_WritesTheirContactsAndNothingBeforeItIsDue()
    {
        var nodeA = Node();
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

        // Not yet due (a third of the window): the stored contact stays the poll's start.
        _time.Now += TimeSpan.FromSeconds(10);
        await nodeA.WriteContactsAsync(CancellationToken.None);
        Assert.Equal(started, (await Storage.Machines.GetVmAsync(vms[0], CancellationToken.None))!.LastContact);

        _time.Now += TimeSpan.FromSeconds(20);
        await nodeA.WriteContactsAsync(CancellationToken.None);
        foreach (var vm in vms)
        {
            Assert.Equal(_time.GetUtcNow(), (await Storage.Machines.GetVmAsync(vm, CancellationToken.None))!.LastContact);
        }

        polls.ForEach(p => p.Dispose());
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

        Assert.Equal("Disconnected", nodeB.StatusOf((await Storage.Machines.GetVmAsync(_vm, CancellationToken.None))!));
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

        Assert.Equal("Connected", nodeB.StatusOf((await Storage.Machines.GetVmAsync(_vm, CancellationToken.None))!));
        await nodeA.SignOffAsync(_vm, CancellationToken.None);

        // Well inside the 75 s window: only the sign-off can make it Disconnected, on both nodes.
        var record = (await Storage.Machines.GetVmAsync(_vm, CancellationToken.None))!;
        Assert.Equal("Disconnected", nodeA.StatusOf(record));
        Assert.Equal("Disconnected", nodeB.StatusOf(record));

        // Back a second later, polling node A again: its contact is stored at once (not held back by the 10 s throttle).
        _time.Now += TimeSpan.FromSeconds(1);
        using var back = await nodeA.BeginPollAsync(_vm, CancellationToken.None);
        Assert.Equal("Connected", nodeB.StatusOf((await Storage.Machines.GetVmAsync(_vm, CancellationToken.None))!));
    }
}
