using RunCommand.Client;
using RunCommand.Contracts.Arm;
using RunCommand.Testing;

namespace RunCommand.Faults.Tests;

/// <summary>
/// A real server on a port that stays the same across restarts, its agents, and the mounts a fault test made; all
/// stopped by PID and unmounted at the end. Each test makes its own.
/// </summary>
internal sealed class FaultStack : IAsyncDisposable
{
    private readonly List<AgentProcess> _agents = [];
    private readonly List<string> _mounts = [];
    private readonly List<ServerProcess> _servers = [];
    private RunCommandClient? _client;

    public FaultStack(string name)
    {
        Dir = Directory.CreateTempSubdirectory($"rc-fault-{name}-").FullName;
        DataDir = Path.Combine(Dir, "server");
    }

    public string Dir { get; }

    public string DataDir { get; }

    public int Port { get; } = ServerProcess.FreePort();

    public ServerProcess Server => _servers[^1];

    public RunCommandClient Client => _client ?? throw new InvalidOperationException("No server started yet.");

    public IReadOnlyList<AgentProcess> Agents => _agents;

    /// <summary>Starts the server (again) over the same data dir and port.</summary>
    public async Task<ServerProcess> StartServerAsync()
    {
        var server = await ServerProcess.StartAsync(DataDir, port: Port, extraArgs: ["--RunCommand:AgentPresenceWindow", "00:00:10"]);
        _servers.Add(server);
        _client ??= new RunCommandClient(new RunCommandClientOptions { Server = new Uri(server.Url), Token = server.AdminToken });
        return server;
    }

    /// <summary>Starts agents for new VMs (resource group "faults") in parallel; returns once all have enrolled.</summary>
    public async Task StartAgentsAsync(IEnumerable<string> vmNames, string? serverUrl = null, Func<string, string>? stateDirOf = null)
    {
        await Task.WhenAll(vmNames.Select(async name =>
        {
            var agent = await AgentProcess.StartAsync(Server, name, "faults", stateDirOf?.Invoke(name) ?? Path.Combine(Dir, "agents", name), serverUrls: serverUrl);
            lock (_agents)
            {
                _agents.Add(agent);
            }
        }));
    }

    public RunCommandRef Command(string vmName, string name) => new(Server.SubscriptionId, "faults", vmName, name);

    public VmRef Vm(string vmName) => new(Server.SubscriptionId, "faults", vmName);

    /// <summary>PUTs a run command and returns once the server accepted it.</summary>
    public async Task PutAsync(RunCommandRef target, string script, int timeoutInSeconds = 0) =>
        await Client.CreateOrUpdateAsync(target, Stack.Script(script, timeoutInSeconds));

    /// <summary>Mounts a tmpfs of <paramref name="megabytes"/> MB at <paramref name="path"/>; unmounted at disposal.</summary>
    public async Task MountTmpfsAsync(string path, int megabytes)
    {
        Directory.CreateDirectory(path);
        await RunAsync("mount", "-t", "tmpfs", "-o", $"size={megabytes}m,mode=0700", "tmpfs", path);
        _mounts.Add(path);
    }

    /// <summary>Runs a program to completion and fails the test when it does not exit 0.</summary>
    public static async Task RunAsync(string program, params string[] args)
    {
        await using var process = ChildProcess.Start(program, "/usr/bin/env", [program, .. args]);
        var code = await process.WaitForExitAsync(TimeSpan.FromSeconds(60));
        Assert.True(code == 0, $"{program} {string.Join(' ', args)} exited {code}: {process.Output}");
    }

    /// <summary>Writes zeros to <paramref name="path"/> until its filesystem is full; returns the bytes written.</summary>
    public static long FillDisk(string path)
    {
        var block = new byte[64 * 1024];
        long written = 0;
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1);
        try
        {
            while (true)
            {
                stream.Write(block);
                written += block.Length;
            }
        }
        catch (IOException)
        {
            // ENOSPC: full. Fill what is left with smaller writes.
        }

        var small = new byte[512];
        try
        {
            while (true)
            {
                stream.Write(small);
                written += small.Length;
            }
        }
        catch (IOException)
        {
        }

        return written;
    }

    /// <summary>Waits until every command has a terminal state; returns their instance views by name.</summary>
    public async Task<Dictionary<string, RunCommandInstanceView>> WaitAllTerminalAsync(IReadOnlyCollection<RunCommandRef> commands, TimeSpan timeout)
    {
        var byVm = commands.GroupBy(c => c.VmName).ToList();
        return await Wait.UntilAsync(async () =>
        {
            var views = new Dictionary<string, RunCommandInstanceView>(StringComparer.Ordinal);
            foreach (var vm in byVm)
            {
                foreach (var resource in await Client.ListAsync(Vm(vm.Key), expandInstanceView: true))
                {
                    views[$"{vm.Key}/{resource.Name}"] = resource.Properties!.InstanceView!;
                }
            }

            return commands.All(c => views.TryGetValue($"{c.VmName}/{c.Name}", out var v) && ExecutionStates.IsTerminal(v.ExecutionState!))
                ? views
                : null;
        }, timeout, $"all {commands.Count} commands to end");
    }

    public async ValueTask DisposeAsync()
    {
        await Task.WhenAll(_agents.Select(agent => agent.DisposeAsync().AsTask()));
        _client?.Dispose();
        foreach (var server in _servers)
        {
            await server.DisposeAsync();
        }

        Processes.KillGroupsUnder(Dir);

        foreach (var mount in Enumerable.Reverse(_mounts))
        {
            // Lazy: a script or file handle still open must not keep the test machine's mount table dirty.
            await using var umount = ChildProcess.Start("umount", "/usr/bin/env", ["umount", "-l", mount]);
            _ = await umount.WaitForExitAsync(TimeSpan.FromSeconds(30));
        }

        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
            // A script may still hold a file; the temp dir is cleaned by the OS.
        }
    }
}
