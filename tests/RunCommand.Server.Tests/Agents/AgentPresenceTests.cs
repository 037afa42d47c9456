using Microsoft.Extensions.Options;
using RunCommand.Server.Agents;
using RunCommand.Server.Hosting;
using RunCommand.Storage;
using RunCommand.Storage.Sqlite;

namespace RunCommand.Server.Tests.Agents;

/// <summary>
/// Presence across nodes (issue 8 item 3): a VM whose agent polls node A shows Connected on node B, from the contact
/// stored in the shared database. Real SQLite file; each node is its own AgentPresence; time is moved, not waited.
/// </summary>
public sealed class AgentPresenceTests : IAsyncLifetime
{
    private readonly string _root = Directory.CreateTempSubdirectory("rc-presence-").FullName;
    private readonly ManualTime _time = new(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
    private readonly VmKey _vm = new("00000000-0000-0000-0000-0000000000aa", "rg", "vm1");
    private SqliteRunCommandStore _store = null!;

    public async Task InitializeAsync()
    {
        _store = new SqliteRunCommandStore(Path.Combine(_root, "shared.db"), new InProcessChangeFeed(), false);
        await _store.InitializeAsync(CancellationToken.None);
        await _store.EnrollAgentAsync(_vm, "local", null, null, "host", "1.0", null, _time.GetUtcNow(), CancellationToken.None);
    }

    public Task DisposeAsync()
    {
        Directory.Delete(_root, recursive: true);
        return Task.CompletedTask;
    }

    private AgentPresence Node() => new(_store, _time, Options.Create(new ServerOptions { AgentPresenceWindow = TimeSpan.FromSeconds(75) }));

    [Fact]
    public async Task StatusOf_AgentPollsOtherNodeWithoutPause_IsConnectedLongAfterItsFirstPoll()
    {
        var nodeA = Node();
        var nodeB = Node();

        // Five minutes of back-to-back 30 s polls on node A: each ends as the next begins.
        for (var i = 0; i < 10; i++)
        {
            using (await nodeA.BeginPollAsync(_vm, CancellationToken.None))
            {
                _time.Now += TimeSpan.FromSeconds(30);
            }
        }

        using var stillPolling = await nodeA.BeginPollAsync(_vm, CancellationToken.None);
        var record = (await _store.GetVmAsync(_vm, CancellationToken.None))!;
        Assert.Equal("Connected", nodeB.StatusOf(record));
        Assert.True(_time.Now - record.LastContact!.Value <= TimeSpan.FromSeconds(30), $"stored contact {record.LastContact} at {_time.Now}");
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

        Assert.Equal("Disconnected", nodeB.StatusOf((await _store.GetVmAsync(_vm, CancellationToken.None))!));
    }

    private sealed class ManualTime(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;

        public override DateTimeOffset GetUtcNow() => Now;
    }
}
