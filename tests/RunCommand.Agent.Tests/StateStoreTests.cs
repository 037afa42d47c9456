using RunCommand.Agent.Execution;
using RunCommand.Agent.State;

namespace RunCommand.Agent.Tests;

public sealed class StateStoreTests : IDisposable
{
    private readonly AgentFixture _fixture = new();

    public void Dispose() => _fixture.Dispose();

    public static TheoryData<string> Stores => ["file", "memory"];

    private IExecutionStateStore Create(string kind) =>
        kind == "file" ? new FileExecutionStateStore(_fixture.ExecutionsRoot) : new InMemoryExecutionStateStore();

    private static LocalExecutionRecord Record(string id) =>
        new() { ExecutionId = id, RunCommandName = "n", State = LocalState.Accepted, AcceptedAt = DateTimeOffset.UnixEpoch };

    [Theory]
    [MemberData(nameof(Stores))]
    public void TryAccept_SameIdTwice_SecondIsRefused(string kind)
    {
        var store = Create(kind);

        Assert.True(store.TryAccept(Record("e1")));
        Assert.False(store.TryAccept(Record("e1") with { RunCommandName = "other" }));
        Assert.Equal("n", store.Get("e1")!.RunCommandName);
        Assert.Equal(["e1"], store.ListIds());
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public void Save_ThenGet_RoundTrips(string kind)
    {
        var store = Create(kind);
        store.TryAccept(Record("e1"));
        var running = Record("e1") with { State = LocalState.Running, Pid = 42, ProcessStartTicks = 12345, Deadline = DateTimeOffset.UnixEpoch.AddHours(1), StopIntent = LocalState.TimedOut };

        store.Save(running);

        Assert.Equal(running, store.Get("e1"));
        Assert.Null(store.Get("unknown"));
    }

    [Fact]
    public void TryAccept_FileStore_CreatesPrivateDirectoryAndFile()
    {
        var store = new FileExecutionStateStore(_fixture.ExecutionsRoot);

        store.TryAccept(Record("e1"));

        var dir = Path.Combine(_fixture.ExecutionsRoot, "e1");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(dir));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(dir, "state.json")));
        Assert.Equal(["state.json"], Directory.GetFiles(dir).Select(Path.GetFileName));
    }

    [Theory]
    [InlineData("../escape")]
    [InlineData("a/b")]
    [InlineData("")]
    [InlineData(".hidden")]
    public void TryAccept_UnsafeId_Throws(string id)
    {
        var store = new FileExecutionStateStore(_fixture.ExecutionsRoot);

        Assert.Throws<ArgumentException>(() => store.TryAccept(Record(id)));
    }

    [Fact]
    public void Parse_CommandWithSpacesAndParentheses_ReadsFieldsAfterLastParen()
    {
        var line = "123 (a) b (c) S 1 777 777 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 98765 1000 100 18446744073709551615";

        var stat = ProcStat.Parse(line);

        Assert.Equal(new ProcStat('S', 777, 98765UL), stat);
    }

    [Fact]
    public void TryRead_CurrentProcess_MatchesItself()
    {
        var pid = Environment.ProcessId;

        var stat = ProcStat.TryRead(pid);

        Assert.NotNull(stat);
        Assert.True(ProcStat.IsSameLiveProcess(pid, stat.Value.StartTicks));
        Assert.False(ProcStat.IsSameLiveProcess(pid, stat.Value.StartTicks + 1));
    }
}
