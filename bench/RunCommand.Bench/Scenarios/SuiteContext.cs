using RunCommand.Testing;

namespace RunCommand.Bench.Scenarios;

/// <summary>What every scenario of one suite run shares: the scale, the agent build, a scratch dir, and the table being filled.</summary>
public sealed class SuiteContext(bool quick, string scratch, AgentBuild agent = AgentBuild.Jit, int swarmAgents = TenThousandAgentsScenario.DefaultAgents, int? agentLongPollSeconds = null)
{
    /// <summary>Where packaging/build.sh puts the NativeAOT agent that users install.</summary>
    public static string NativeAgentPath => Path.Combine(Repo.Root, "dist", "linux-x64", "runcmd-agent");

    /// <summary>Where packaging/build.sh puts the NativeAOT <c>runcmd</c> CLI that operators install.</summary>
    public static string NativeCliPath => Path.Combine(Repo.Root, "dist", "server", "runcmd");

    /// <summary>Where packaging/build.sh puts the server that operators install (self-contained, ReadyToRun).</summary>
    public static string ShippedServerPath => Path.Combine(Repo.Root, "dist", "server", "RunCommand.Server");

    /// <summary>True when every scenario starts the shipped server from dist/ (not the development dll, not one set from outside).</summary>
    public static bool ServerIsShipped => Environment.GetEnvironmentVariable("RUNCMD_TEST_SERVER") == ShippedServerPath;

    /// <summary>How the suite names the server build every scenario starts: the shipped one from dist/, or the development dll.</summary>
    public static string ServerLabel => string.IsNullOrEmpty(Environment.GetEnvironmentVariable("RUNCMD_TEST_SERVER"))
        ? "the development server dll under dotnet (JIT)"
        : ServerIsShipped
            ? $"the shipped server ({ShippedServerPath}, ReadyToRun)"
            : $"the server at {Environment.GetEnvironmentVariable("RUNCMD_TEST_SERVER")}";

    /// <summary>
    /// Limits set for every benchmark server (docs/performance.md, "Limits"): the per-principal rate limit and the
    /// agents' rate limit lifted so they are never what is measured; the per-VM limit kept at Azure's 25.
    /// </summary>
    public static readonly IReadOnlyList<string> ServerLimits =
    [
        "--requests-per-second", "100000", "--request-burst", "1000000",
        "--RunCommand:AgentRequestsPerSecond", "10000",
        "--max-run-commands-per-vm", "25",
    ];

    private readonly List<Figure> _figures = [];

    private int _dirs;

    /// <summary>True for the short CI version: smaller counts and sizes, noted in each figure's name.</summary>
    public bool Quick { get; } = quick;

    public IReadOnlyList<Figure> Figures => _figures;

    /// <summary>
    /// The agents' poll length every server of the suite announces (<c>--agent-long-poll</c>, seconds); null: the
    /// server's default. With 30 (the length before the server chose it) an idle figure measures the cost per poll.
    /// </summary>
    public int? AgentLongPollSeconds { get; } = agentLongPollSeconds;

    /// <summary>How many simulated agents <c>swarm-10k</c> starts (<c>--swarm-agents</c>; 10,000 unless told, fewer for iterating).</summary>
    public int SwarmAgents { get; } = swarmAgents;

    /// <summary>Bytes of stdout the output scenarios write, and how their figures name it: 1 GiB, 64 MiB in the quick suite.</summary>
    public (long Bytes, string Label) OutputSize => Quick ? (64L << 20, "64 MiB") : (1L << 30, "1 GiB");

    /// <summary>
    /// Output of the output scenarios' warm-up run, and how their figures name it: 1 GiB, 128 uploads of 8 MiB, so that
    /// every per-upload method of the server (routing, authentication, the store's write, the answer) goes through both
    /// of tiered compilation's counts (30 calls at tier 0, then 30 instrumented) and is compiled optimized before the
    /// measured run. The quick suite warms with 512 MiB: 64 uploads, both counts with little to spare.
    /// </summary>
    public (long Bytes, string Label) WarmUpSize => Quick ? (512L << 20, "512 MiB") : (1L << 30, "GiB");

    /// <summary>The agent and CLI build every real-agent and CLI scenario starts (<c>--agent</c>).</summary>
    public AgentBuild Agent { get; } = agent;

    /// <summary>How figures name the agent build: "NativeAOT agent" or "JIT agent".</summary>
    public string AgentLabel => Agent == AgentBuild.Native ? "NativeAOT agent" : "JIT agent";

    /// <summary>How figures name the CLI build: the NativeAOT <c>runcmd</c> from dist/ when it is built, else the JIT dll.</summary>
    public string CliLabel => CliRunner.Command[0] == "dotnet" ? "JIT CLI" : "NativeAOT CLI";

    /// <summary>A real agent of the suite's build (<see cref="Agent"/>) for <paramref name="vmName"/>; returns once it has enrolled.</summary>
    public Task<AgentProcess> StartAgentAsync(ServerProcess server, string vmName, string resourceGroup, string stateDir, IReadOnlyDictionary<string, string>? tags = null) =>
        Agent == AgentBuild.Native
            ? AgentProcess.StartBinaryAsync(server, NativeAgentPath, vmName, resourceGroup, stateDir, new Dictionary<string, string>(), tags)
            : AgentProcess.StartAsync(server, vmName, resourceGroup, stateDir, tags);

    public void Add(Figure figure)
    {
        lock (_figures)
        {
            _figures.Add(figure);
        }

        Console.WriteLine($"  {figure.Name}: {figure.Measured} (baseline {figure.Baseline}; target {figure.Target}){(figure.Met is { } met ? met ? " met" : " NOT met" : "")}");
    }

    /// <summary>A fresh directory under the suite's scratch dir.</summary>
    public string NewDir(string name)
    {
        var dir = Path.Combine(scratch, $"{Interlocked.Increment(ref _dirs):00}-{name}");
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>A server with the benchmark's limits (https unless told), in its own data dir.</summary>
    public Task<ServerProcess> StartServerAsync(string name, bool https = true, IEnumerable<string>? extraArgs = null, int? port = null, string? dataDir = null,
        Action<ChildProcess>? spawned = null) =>
        ServerProcess.StartAsync(dataDir ?? Path.Combine(NewDir(name), "server"), https,
            [.. ServerLimits, .. AgentLongPollSeconds is { } poll ? ["--RunCommand:AgentLongPoll", TimeSpan.FromSeconds(poll).ToString()] : (string[])[], .. extraArgs ?? []], port,
            spawned: spawned);
}

/// <summary>Which build of the agent a scenario runs: the NativeAOT binary users install, or the dll under <c>dotnet</c>.</summary>
public enum AgentBuild
{
    Jit,
    Native,
}
