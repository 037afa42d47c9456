using RunCommand.Client;
using RunCommand.Contracts.Arm;

namespace RunCommand.Testing;

/// <summary>
/// One real server shared by the tests of a class; each test enrolls its own agent (its own VM), so no test
/// depends on another's data.
/// </summary>
public sealed class Stack : IAsyncDisposable
{
    private readonly List<AgentProcess> _agents = [];

    private Stack(string dir, ServerProcess server)
    {
        Dir = dir;
        Server = server;
        Client = new RunCommandClient(new RunCommandClientOptions
        {
            Server = new Uri(server.Url),
            Token = server.AdminToken,
            CaCertificatePath = server.IsHttps ? server.CaCertFile : null,
        });
    }

    public string Dir { get; }

    public ServerProcess Server { get; }

    public RunCommandClient Client { get; }

    /// <summary>Starts a server (with <paramref name="serverArgs"/> added); a gone agent shows Disconnected after 10 s (75 s in production).</summary>
    public static async Task<Stack> StartAsync(string name, bool https = false, IEnumerable<string>? serverArgs = null)
    {
        var dir = Directory.CreateTempSubdirectory($"rc-{name}-").FullName;
        var server = await ServerProcess.StartAsync(Path.Combine(dir, "server"), https, ["--RunCommand:AgentPresenceWindow", "00:00:10", .. serverArgs ?? []]);
        return new Stack(dir, server);
    }

    /// <summary>Starts an agent for a new VM named after the test, in resource group "e2e" (with <paramref name="extraArgs"/> on its command line).</summary>
    public async Task<AgentProcess> StartAgentAsync(string vmName, string? stateDir = null, IReadOnlyList<string>? extraArgs = null)
    {
        var agent = await AgentProcess.StartAsync(Server, vmName, "e2e", stateDir ?? Path.Combine(Dir, "agents", vmName), extraArgs: extraArgs);
        lock (_agents)
        {
            _agents.Add(agent);
        }

        await Wait.UntilAsync(async () =>
            (await Client.GetVmAsync(Vm(vmName))).Properties.AgentInstanceView.Status == "Connected",
            TimeSpan.FromSeconds(60), $"VM {vmName} to show its agent connected");
        return agent;
    }

    /// <summary>Starts an agent that joins scale set <paramref name="scaleSetName"/> (resource group "e2e") and waits until it is connected.</summary>
    public async Task<AgentProcess> StartScaleSetAgentAsync(string scaleSetName, string stateDir)
    {
        var agent = await AgentProcess.StartInScaleSetAsync(Server, scaleSetName, "e2e", stateDir);
        lock (_agents)
        {
            _agents.Add(agent);
        }

        var instance = VmRef.Instance(Server.SubscriptionId, "e2e", scaleSetName, agent.InstanceId);
        await Wait.UntilAsync(async () => (await Client.GetVmAsync(instance)).Properties.AgentInstanceView.Status == "Connected",
            TimeSpan.FromSeconds(60), $"instance {agent.InstanceId} of {scaleSetName} to show its agent connected");
        return agent;
    }

    /// <summary>Starts agents for new VMs in parallel (each with the given tags) and waits until all are connected.</summary>
    public async Task<IReadOnlyList<AgentProcess>> StartAgentsAsync(IEnumerable<string> vmNames, IReadOnlyDictionary<string, string>? tags = null)
    {
        var started = await Task.WhenAll(vmNames.Select(async name =>
        {
            var agent = await AgentProcess.StartAsync(Server, name, "e2e", Path.Combine(Dir, "agents", name), tags);
            lock (_agents)
            {
                _agents.Add(agent);
            }

            return agent;
        }));
        foreach (var agent in started)
        {
            await Wait.UntilAsync(async () => (await Client.GetVmAsync(Vm(agent.VmName))).Properties.AgentInstanceView.Status == "Connected",
                TimeSpan.FromSeconds(120), $"VM {agent.VmName} to show its agent connected");
        }

        return started;
    }

    public VmRef Vm(string vmName) => new(Server.SubscriptionId, "e2e", vmName);

    public RunCommandRef Command(string vmName, string name) => new(Server.SubscriptionId, "e2e", vmName, name);

    public static RunCommandResource Script(string script, int timeoutInSeconds = 0, IReadOnlyList<RunCommandParameter>? parameters = null, bool asyncExecution = false) => new()
    {
        Location = "local",
        Properties = new RunCommandProperties
        {
            Source = new RunCommandSource { Script = script },
            TimeoutInSeconds = timeoutInSeconds,
            Parameters = parameters,
            AsyncExecution = asyncExecution,
        },
    };

    /// <summary>PUTs a run command and returns without waiting for it.</summary>
    public async Task<Uri> StartAsync(RunCommandRef target, RunCommandResource resource)
    {
        var response = await Client.CreateOrUpdateAsync(target, resource);
        return response.OperationUrl ?? throw new InvalidOperationException("The PUT answered no Azure-AsyncOperation header.");
    }

    /// <summary>PUTs a run command, waits for its operation and returns it with its instance view.</summary>
    public async Task<RunCommandResource> RunAsync(RunCommandRef target, RunCommandResource resource)
    {
        await Client.WaitForOperationAsync(await StartAsync(target, resource));
        return await Client.GetAsync(target, expandInstanceView: true);
    }

    /// <summary>Waits until the latest execution of a run command reaches a state accepted by <paramref name="accept"/>.</summary>
    public async Task<RunCommandInstanceView> WaitForStateAsync(RunCommandRef target, Func<RunCommandInstanceView, bool> accept, TimeSpan timeout, string what) =>
        await Wait.UntilAsync(async () =>
        {
            var view = (await Client.GetAsync(target, expandInstanceView: true)).Properties!.InstanceView!;
            return accept(view) ? view : null;
        }, timeout, what);

    /// <summary>The full stdout of the latest execution, read through the logs API.</summary>
    public Task<byte[]> ReadAllStdoutAsync(RunCommandRef target) => ReadAllStdoutAsync(Client, target);

    /// <summary>The full stdout of the latest execution of <paramref name="target"/>, read through the logs API.</summary>
    public static async Task<byte[]> ReadAllStdoutAsync(RunCommandClient client, RunCommandRef target)
    {
        using var buffer = new MemoryStream();
        long offset = 0;
        while (true)
        {
            var logs = await client.GetLogsAsync(target, offset, 0, 0);
            buffer.Write(logs.Stdout.Data);
            offset = logs.Stdout.NextOffset;
            if (logs.Stdout.Data.Length == 0)
            {
                return buffer.ToArray();
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        // By PID, all at once: a fleet test has twenty of them.
        await Task.WhenAll(_agents.Select(agent => agent.DisposeAsync().AsTask()));

        Client.Dispose();
        await Server.DisposeAsync();
        Processes.KillGroupsUnder(Dir);
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
            // A script of a test may still hold a file; the temp dir is cleaned by the OS.
        }
    }
}
