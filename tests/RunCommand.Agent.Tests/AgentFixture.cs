using Microsoft.Extensions.Logging;
using RunCommand.Agent.Execution;
using RunCommand.Agent.State;
using RunCommand.Contracts.Agents;

namespace RunCommand.Agent.Tests;

/// <summary>A private state dir, a fake server and helpers; each test gets its own.</summary>
internal sealed class AgentFixture : IDisposable
{
    private readonly List<CancellationTokenSource> _shutdowns = [];
    private readonly List<ExecutionManager> _managers = [];

    public AgentFixture()
    {
        Root = Path.Combine(Path.GetTempPath(), "runcmd-agent-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Root);
    }

    public string Root { get; }

    public string ExecutionsRoot => Path.Combine(Root, "executions");

    public FakeServer Server { get; } = new();

    public static ExecutionSettings FastSettings { get; } = new()
    {
        TerminationGracePeriod = TimeSpan.FromSeconds(2),
        ProgressInterval = TimeSpan.FromMilliseconds(50),
        ReattachPollInterval = TimeSpan.FromMilliseconds(50),
        RetryInitialDelay = TimeSpan.FromMilliseconds(10),
    };

    /// <summary>A manager over this fixture's state dir; cancel the returned source to simulate the agent dying.</summary>
    public (ExecutionManager Manager, CancellationTokenSource Shutdown) NewManager(
        IExecutionReporter? reporter = null, ExecutionSettings? settings = null, IExecutionStateStore? store = null)
    {
        var shutdown = new CancellationTokenSource();
        _shutdowns.Add(shutdown);
        var manager = new ExecutionManager(
            ExecutionsRoot,
            store ?? new FileExecutionStateStore(ExecutionsRoot),
            reporter ?? Server,
            settings ?? FastSettings,
            TimeProvider.System,
            new ConsoleLogger(TimeProvider.System, LogLevel.Debug, TextWriter.Null),
            shutdown.Token);
        _managers.Add(manager);
        return (manager, shutdown);
    }

    public static GoalState Goal(params ExecutionAssignment[] assignments) => new() { Version = 1, Executions = assignments };

    public static ExecutionAssignment Assignment(string script, string? id = null) => new()
    {
        ExecutionId = id ?? Guid.NewGuid().ToString("N"),
        RunCommandName = "test",
        Script = script,
    };

    public string ExecutionDir(string executionId) => Path.Combine(ExecutionsRoot, executionId);

    /// <summary>Waits for a condition with a deadline (checking often); fails the test on timeout.</summary>
    public static async Task WaitUntilAsync(Func<bool> condition, string what, double seconds = 20)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Timed out waiting until {what}");
            await Task.Delay(20);
        }
    }

    public void Dispose()
    {
        // Leave no script behind: kill every group this fixture started.
        if (Directory.Exists(ExecutionsRoot))
        {
            foreach (var id in new FileExecutionStateStore(ExecutionsRoot).ListIds())
            {
                if (new FileExecutionStateStore(ExecutionsRoot).Get(id) is { IsTerminal: false, Pid: { } pid })
                {
                    _ = Posix.Kill(-pid, Posix.SigKill);
                }
            }
        }

        foreach (var shutdown in _shutdowns)
        {
            shutdown.Cancel();
        }

        // Runners may still be saving state (e.g. Reported); let them stop before the directory goes.
        _ = Task.WhenAll(_managers.Select(m => m.WhenAllAsync())).Wait(TimeSpan.FromSeconds(10));
        foreach (var shutdown in _shutdowns)
        {
            shutdown.Dispose();
        }

        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // A killed script may still be closing its files; the temp dir is disposable.
        }
    }
}
