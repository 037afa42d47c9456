using System.Net;
using RunCommand.Client;
using RunCommand.Contracts.Arm;
using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>
/// The one-line install printed by <c>runcmd vm agent install-command</c>, run as an admin would paste it (against a
/// temporary root: <c>--prefix</c>, no systemd), with the NativeAOT agent the server was packaged with.
/// </summary>
public sealed class InstallScriptTests : IAsyncLifetime
{
    private readonly TestScope _scope = new("rc-install-");
    private ServerProcess _server = null!;
    private RunCommandClient _client = null!;
    private CliRunner _cli = null!;
    private readonly List<string> _roots = [];

    private string Dir => _scope.Dir;

    public async Task InitializeAsync()
    {
        var binary = await Dist.NativeAgentAsync();
        // Packaged with the linux-x64 build only: the arm64 download must say so.
        var binaries = Path.Combine(Dir, "agent-binaries");
        Directory.CreateDirectory(Path.Combine(binaries, "linux-x64"));
        File.Copy(binary, Path.Combine(binaries, "linux-x64", "runcmd-agent"));
        _server = await ServerProcess.StartAsync(Path.Combine(Dir, "server"), https: true,
            ["--agent-binaries-dir", binaries, "--RunCommand:AgentPresenceWindow", "00:00:10"]);
        _client = new RunCommandClient(new RunCommandClientOptions { Server = new Uri(_server.Url), Token = _server.AdminToken, CaCertificatePath = _server.CaCertFile });
        _cli = new CliRunner(Path.Combine(Dir, "cli"));
        await _cli.LoginAsync(_server);
    }

    [Fact]
    public async Task InstallLine_RunTwice_InstallsJoinsThenUpgradesWhileScriptKeepsRunning()
    {
        var root = NewRoot();
        var install = await InstallLineAsync("--tags", "role=web");
        Assert.Matches(@"^curl -fsSL -k --pinnedpubkey 'sha256//[A-Za-z0-9+/=]+' 'https://127\.0\.0\.1:\d+/agent/install\.sh' \| sudo sh -s -- --token '[^']+' ", install);

        await RunInstallAsync(install, root);
        var binary = Path.Combine(root, "usr/local/bin/runcmd-agent");
        var config = await File.ReadAllTextAsync(Path.Combine(root, "etc/runcmd/agent.conf"));
        var unit = await File.ReadAllTextAsync(Path.Combine(root, "etc/systemd/system/runcmd-agent.service"));
        Assert.True(File.Exists(binary));
        Assert.Contains($"server = {_server.Url}", config, StringComparison.Ordinal);
        Assert.Matches("server-fingerprint = [0-9A-F]{64}", config);
        Assert.Contains("tags = role=web", config, StringComparison.Ordinal);
        Assert.Contains($"ExecStart={binary} --config {root}/etc/runcmd/agent.conf", unit, StringComparison.Ordinal);
        Assert.Contains("KillMode=process", unit, StringComparison.Ordinal);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(root, "etc/runcmd/enroll.token")));

        // Joined: the server shows it Connected (from its enrollment on) and the agent has saved the identity the server
        // answered, which it writes (durably) only once that answer has arrived.
        var identityFile = Path.Combine(root, "var/lib/runcmd-agent/agent.identity");
        var joined = await Wait.UntilAsync(async () =>
        {
            var found = (await _client.ListVmsAsync(_server.SubscriptionId, "e2e")).FirstOrDefault(v => v.Name == "installed");
            return found?.Properties.AgentInstanceView.Status == "Connected" && File.Exists(identityFile) ? found : null;
        }, TimeSpan.FromSeconds(60), "the installed agent to join");
        Assert.Equal("web", joined.Tags!["role"]);
        var identity = await File.ReadAllTextAsync(identityFile);

        // A script that runs across the upgrade: it waits for a gate the test opens after the new agent is up.
        var gate = Path.Combine(Dir, "gate-" + Guid.NewGuid().ToString("N"));
        var command = new RunCommandRef(_server.SubscriptionId, "e2e", "installed", "long");
        var operation = (await _client.CreateOrUpdateAsync(command, Stack.Script($"echo started; {Gate.WaitFor(gate, 0.1)}; echo finished"))).OperationUrl!;
        await Wait.UntilAsync(async () => (await _client.GetAsync(command, expandInstanceView: true)).Properties!.InstanceView!.Output == "started\n",
            TimeSpan.FromSeconds(30), "the script to start");
        var oldPid = int.Parse(await File.ReadAllTextAsync(Path.Combine(root, "run/runcmd-agent.pid")));
        var oldInode = await InodeAsync(binary);

        await RunInstallAsync(await InstallLineAsync(), root);

        var newPid = int.Parse(await File.ReadAllTextAsync(Path.Combine(root, "run/runcmd-agent.pid")));
        Assert.NotEqual(oldPid, newPid);
        Assert.False(Directory.Exists($"/proc/{oldPid}"), "the old agent still runs after the upgrade");
        Assert.NotEqual(oldInode, await InodeAsync(binary));
        Assert.Equal(identity, await File.ReadAllTextAsync(identityFile));
        Assert.Equal(ExecutionStates.Running, (await _client.GetAsync(command, expandInstanceView: true)).Properties!.InstanceView!.ExecutionState);

        await File.WriteAllTextAsync(gate, "");
        await _client.WaitForOperationAsync(operation);
        var view = (await _client.GetAsync(command, expandInstanceView: true)).Properties!.InstanceView!;
        Assert.Equal(ExecutionStates.Succeeded, view.ExecutionState);
        Assert.Equal("started\nfinished\n", view.Output);
        Assert.Single(await _client.ListVmsAsync(_server.SubscriptionId, "e2e"), v => v.Name == "installed");
    }

    [Fact]
    public async Task Download_PlatformNotPackaged_Answers404SayingWhy()
    {
        using var http = _server.CreateHttpClient(token: null);
        var arm = await http.GetAsync("/agent/download/linux-arm64");
        Assert.Equal(HttpStatusCode.NotFound, arm.StatusCode);
        var body = await arm.Content.ReadAsStringAsync();
        Assert.Contains("AgentBinaryNotAvailable", body, StringComparison.Ordinal);
        Assert.Contains("linux-arm64", body, StringComparison.Ordinal);

        var unknown = await http.GetAsync("/agent/download/windows-x64");
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Contains("UnknownAgentPlatform", await unknown.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        var x64 = await http.GetAsync("/agent/download/linux-x64");
        Assert.Equal(HttpStatusCode.OK, x64.StatusCode);
        Assert.Equal(new FileInfo(await Dist.NativeAgentAsync()).Length, (await x64.Content.ReadAsByteArrayAsync()).Length);
    }

    [Fact]
    public async Task InstallLine_TokenUsedOnce_SecondMachineIsRefused()
    {
        var install = await InstallLineAsync();
        await RunInstallAsync(install, NewRoot(), "first");
        await Wait.UntilAsync(async () => (await _client.ListVmsAsync(_server.SubscriptionId, "e2e")).Any(v => v.Name == "first"),
            TimeSpan.FromSeconds(60), "the first machine to join");

        var second = NewRoot();
        await RunInstallAsync(install, second, "second");
        var log = Path.Combine(second, "var/log/runcmd-agent.log");
        await Wait.UntilAsync(() => File.Exists(log) && File.ReadAllText(log).Contains("enrollment", StringComparison.OrdinalIgnoreCase)
            && !Directory.Exists($"/proc/{File.ReadAllText(Path.Combine(second, "run/runcmd-agent.pid")).Trim()}"),
            TimeSpan.FromSeconds(60), "the second agent to be refused and exit");
        Assert.DoesNotContain(await _client.ListVmsAsync(_server.SubscriptionId, "e2e"), v => v.Name == "second");
    }

    private string NewRoot()
    {
        var root = Path.Combine(Dir, "root-" + Guid.NewGuid().ToString("N")[..8]);
        _roots.Add(root);
        return root;
    }

    private async Task<string> InstallLineAsync(params string[] extra)
    {
        var result = await _cli.RunAsync(["vm", "agent", "install-command", "-g", "e2e", .. extra]);
        Assert.True(result.ExitCode == 0, result.Stdout + result.Stderr);
        return result.Stdout.Trim();
    }

    /// <summary>Runs the pasted line as root would (no sudo here: the tests run as root), into <paramref name="root"/>.</summary>
    private static async Task RunInstallAsync(string line, string root, string vmName = "installed")
    {
        Assert.Contains("| sudo sh -s --", line, StringComparison.Ordinal);
        var command = line.Replace("| sudo sh", "| sh", StringComparison.Ordinal) + $" --vm-name {vmName} --prefix '{root}'";
        await using var shell = ChildProcess.Start("install", "/bin/sh", ["-c", command]);
        var exit = await shell.WaitForExitAsync(TimeSpan.FromMinutes(2));
        Assert.True(exit == 0, $"the install line failed ({exit}):\n{shell.Output}");
    }

    /// <summary>The file's inode: an in-place upgrade renames a new file over the old one, so it changes.</summary>
    private static async Task<string> InodeAsync(string path)
    {
        await using var stat = ChildProcess.Start("stat", "/usr/bin/stat", ["-c", "%i", path]);
        Assert.Equal(0, await stat.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        return stat.Output.Trim();
    }

    public async Task DisposeAsync()
    {
        foreach (var root in _roots)
        {
            var pidFile = Path.Combine(root, "run/runcmd-agent.pid");
            if (File.Exists(pidFile) && int.TryParse(File.ReadAllText(pidFile), out var pid) && Directory.Exists($"/proc/{pid}"))
            {
                using var agent = System.Diagnostics.Process.GetProcessById(pid);
                agent.Kill();
                await agent.WaitForExitAsync();
            }
        }

        _client?.Dispose();
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        await _scope.DisposeAsync();
    }
}
