namespace RunCommand.Testing;

/// <summary>A real agent process serving one VM (or one scale-set instance), with its own state dir.</summary>
public sealed class AgentProcess : IAsyncDisposable
{
    private AgentProcess(ChildProcess process, string vmName, string resourceGroup, string stateDir)
    {
        Process = process;
        VmName = vmName;
        ResourceGroup = resourceGroup;
        StateDir = stateDir;
    }

    public ChildProcess Process { get; }

    public string VmName { get; }

    public string ResourceGroup { get; }

    public string StateDir { get; }

    /// <summary>The resource id the server enrolled the agent as (for a scale-set instance, it ends with the instance id).</summary>
    public string ResourceId => File.ReadAllText(Path.Combine(StateDir, "agent.identity")).Trim();

    /// <summary>For a scale-set instance: the instance id the server assigned.</summary>
    public string InstanceId => ResourceId[(ResourceId.LastIndexOf('/') + 1)..];

    /// <summary>
    /// Starts the agent; returns once it has enrolled (its credential file exists). <paramref name="serverUrls"/>
    /// (default: the server's URL) is what <c>--server</c> gets, e.g. several nodes as <c>URL1,URL2</c>.
    /// </summary>
    public static Task<AgentProcess> StartAsync(ServerProcess server, string vmName, string resourceGroup, string stateDir, IReadOnlyDictionary<string, string>? tags = null, string? serverUrls = null, IEnumerable<string>? extraArgs = null) =>
        StartCoreAsync(server, "--vm-name", vmName, resourceGroup, stateDir, tags, serverUrls, extraArgs: extraArgs);

    /// <summary>Starts an agent that joins a scale set as a new instance; returns once it has enrolled.</summary>
    public static Task<AgentProcess> StartInScaleSetAsync(ServerProcess server, string scaleSetName, string resourceGroup, string stateDir) =>
        StartCoreAsync(server, "--vmss-name", scaleSetName, resourceGroup, stateDir, null, null);

    /// <summary>
    /// Starts a shipped agent binary (<paramref name="binary"/>, e.g. the NativeAOT build in dist/) instead of the
    /// agent dll under <c>dotnet</c>, with exactly <paramref name="environment"/> changed; returns once it has enrolled.
    /// </summary>
    public static Task<AgentProcess> StartBinaryAsync(ServerProcess server, string binary, string vmName, string resourceGroup, string stateDir, IDictionary<string, string> environment, IReadOnlyDictionary<string, string>? tags = null) =>
        StartCoreAsync(server, "--vm-name", vmName, resourceGroup, stateDir, tags, null, binary, environment);

    private static async Task<AgentProcess> StartCoreAsync(ServerProcess server, string nameOption, string name, string resourceGroup, string stateDir,
        IReadOnlyDictionary<string, string>? tags, string? serverUrls, string? binary = null, IDictionary<string, string>? environment = null, IEnumerable<string>? extraArgs = null)
    {
        var args = new List<string>
        {
            "--server", serverUrls ?? server.Url, nameOption, name, "--resource-group", resourceGroup,
            "--state-dir", stateDir, "--enroll-token-file", server.EnrollTokenFile,
        };
        if (server.IsHttps)
        {
            args.AddRange(["--ca-cert", server.CaCertFile]);
        }

        foreach (var (key, value) in tags ?? new Dictionary<string, string>())
        {
            args.AddRange(["--tags", $"{key}={value}"]);
        }

        args.AddRange(extraArgs ?? []);

        var process = binary is null
            ? ChildProcess.StartDotnet("agent " + name, Repo.AgentDll, args)
            : ChildProcess.Start("agent " + name, binary, args, environment);
        var agent = new AgentProcess(process, name, resourceGroup, stateDir);
        // The identity is written once the server has accepted the credential (a key, or an older agent's token).
        await process.WaitUntilStartedAsync(() => Task.FromResult(
            (File.Exists(Path.Combine(stateDir, "agent.key")) || File.Exists(Path.Combine(stateDir, "agent.token")))
            && File.Exists(Path.Combine(stateDir, "agent.identity"))), TimeSpan.FromSeconds(60), "the agent to enroll");
        return agent;
    }

    public async ValueTask DisposeAsync() => await Process.DisposeAsync();
}
