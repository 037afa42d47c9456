namespace RunCommand.Testing;

/// <summary>A real agent process serving one VM, with its own state dir.</summary>
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

    /// <summary>Starts the agent; returns once it has enrolled (its credential file exists).</summary>
    public static async Task<AgentProcess> StartAsync(ServerProcess server, string vmName, string resourceGroup, string stateDir)
    {
        var args = new List<string>
        {
            "--server", server.Url, "--vm-name", vmName, "--resource-group", resourceGroup,
            "--state-dir", stateDir, "--enroll-token-file", server.EnrollTokenFile,
        };
        if (server.IsHttps)
        {
            args.AddRange(["--ca-cert", server.CaCertFile]);
        }

        var process = ChildProcess.StartDotnet("agent " + vmName, Repo.AgentDll, args);
        var agent = new AgentProcess(process, vmName, resourceGroup, stateDir);
        await Wait.UntilAsync(() =>
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException("The agent exited at start:\n" + process.Output);
            }

            return File.Exists(Path.Combine(stateDir, "agent.token"));
        }, TimeSpan.FromSeconds(60), "the agent to enroll");
        return agent;
    }

    public async ValueTask DisposeAsync() => await Process.DisposeAsync();
}
