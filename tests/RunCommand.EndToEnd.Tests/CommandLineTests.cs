using RunCommand.Client;
using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>The real server and agent programs refuse options they do not know, naming them (issue 12).</summary>
public sealed class CommandLineTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rc-cmdline-").FullName;

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        Directory.Delete(_dir, recursive: true);
        return Task.CompletedTask;
    }

    private static async Task<(int ExitCode, string Output)> RunToExitAsync(string name, string dll, IEnumerable<string> args)
    {
        await using var process = ChildProcess.StartDotnet(name, dll, args);
        var exitCode = await process.WaitForExitAsync(TimeSpan.FromSeconds(60));
        await Wait.UntilAsync(() => process.Output.Contains("error:", StringComparison.Ordinal), TimeSpan.FromSeconds(10), $"{name} to print its error");
        return (exitCode, process.Output);
    }

    /// <summary>Runs the server with <paramref name="options"/> after its address and data dir, until it exits.</summary>
    private Task<(int ExitCode, string Output)> RunServerToExitAsync(params string[] options) =>
        RunToExitAsync("server", Repo.ServerDll,
            ["--urls", $"http://127.0.0.1:{ServerProcess.FreePort()}", "--data-dir", Path.Combine(_dir, "server"), .. options]);

    [Fact]
    public async Task Server_MisspeltLimitOption_StopsNamingItAndTheOptionMeant()
    {
        var (exitCode, output) = await RunServerToExitAsync("--max-run-comands-per-vm", "3");

        Assert.Equal(2, exitCode);
        Assert.Contains("unknown option '--max-run-comands-per-vm'; did you mean '--max-run-commands-per-vm'?", output, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_dir, "server", "runcommand.db")), "the server started anyway");
    }

    [Theory]
    [InlineData("--execution-retention-days", "0", "ExecutionRetentionDays")]
    [InlineData("--max-output-bytes", "1000", "MaxOutputBytes")]
    [InlineData("--retention-interval", "2.00:00:00", "RetentionInterval")]
    [InlineData("--max-run-commands-per-vm", "0", "MaxRunCommandsPerVm")]
    public async Task Server_OptionOutOfRange_StopsNamingTheSettingWithoutAStackTrace(string option, string value, string setting)
    {
        var (exitCode, output) = await RunServerToExitAsync(option, value);

        Assert.Equal(2, exitCode);
        Assert.Contains($"error: invalid settings: The field {setting} must be between", output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Server_OptionThatDoesNotParse_StopsNamingTheSetting()
    {
        var (exitCode, output) = await RunServerToExitAsync("--execution-retention-days", "thirty");

        Assert.Equal(2, exitCode);
        Assert.Contains("error: invalid settings:", output, StringComparison.Ordinal);
        Assert.Contains("ExecutionRetentionDays", output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Server_PortInUse_SaysSoInOneLineWithoutAStackTrace()
    {
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        var url = $"http://127.0.0.1:{((System.Net.IPEndPoint)taken.LocalEndpoint).Port}";

        var (exitCode, output) = await RunToExitAsync("server", Repo.ServerDll, ["--urls", url, "--data-dir", Path.Combine(_dir, "server")]);

        Assert.Equal(1, exitCode);
        Assert.Contains($"error: cannot listen on {url}: ", output, StringComparison.Ordinal);
        Assert.Contains("address already in use", output, StringComparison.Ordinal);
        // Neither the host's own report of the failed start nor a background service cancelled by it.
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
        Assert.DoesNotContain("fail:", output, StringComparison.Ordinal);
        Assert.DoesNotContain("crit:", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--max-run-comands-per-vm", "3")]
    [InlineData("--resource-grup", "web")]
    public async Task Agent_UnknownOption_StopsNamingIt(string option, string value)
    {
        var (exitCode, output) = await RunToExitAsync("agent", Repo.AgentDll,
            ["--server", "http://127.0.0.1:1", "--vm-name", "vm1", "--state-dir", Path.Combine(_dir, "agent"), option, value]);

        Assert.Equal(2, exitCode);
        Assert.Contains($"unknown option '{option}'", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("9464")]
    [InlineData("localhost:9464")]
    [InlineData("127.0.0.1:0")]
    public async Task Agent_MetricsListenWithoutAddressAndPort_StopsSayingWhatItTakes(string value)
    {
        var (exitCode, output) = await RunToExitAsync("agent", Repo.AgentDll,
            ["--server", "http://127.0.0.1:1", "--vm-name", "vm1", "--state-dir", Path.Combine(_dir, "agent"), "--metrics-listen", value]);

        Assert.Equal(2, exitCode);
        Assert.Contains($"--metrics-listen takes an IP address and a port, such as 127.0.0.1:9464 or [::1]:9464, not '{value}'", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Agent_UnknownOptionAfterTags_StopsNamingIt()
    {
        var (exitCode, output) = await RunToExitAsync("agent", Repo.AgentDll,
            ["--server", "http://127.0.0.1:1", "--vm-name", "vm1", "--state-dir", Path.Combine(_dir, "agent"), "--tags", "role=web", "--max-script-byte", "10"]);

        Assert.Equal(2, exitCode);
        Assert.Contains("unknown option '--max-script-byte'; did you mean '--max-script-bytes'?", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Agent_ShortOptionsAsInTheReadme_JoinTheScaleSetInTheGroup()
    {
        await using var server = await ServerProcess.StartAsync(Path.Combine(_dir, "server-short"));
        using var admin = new RunCommandClient(new RunCommandClientOptions { Server = new Uri(server.Url), Token = server.AdminToken });
        await using var agent = ChildProcess.StartDotnet("agent web-ss", Repo.AgentDll,
            ["--server", server.Url, "--vmss-name", "web-ss", "-g", "web", "-l", "local", "--state-dir", Path.Combine(_dir, "agent-short"), "--enroll-token-file", server.EnrollTokenFile]);

        var instances = await Wait.UntilAsync(async () =>
        {
            Assert.False(agent.HasExited, "the agent exited:\n" + agent.Output);
            try
            {
                var list = await admin.ListInstancesAsync(server.SubscriptionId, "web", "web-ss");
                return list.Count > 0 ? list : null;
            }
            catch (ArmRequestException e) when (e.StatusCode == System.Net.HttpStatusCode.NotFound)
            {
                return null; // not enrolled yet
            }
        }, TimeSpan.FromSeconds(60), "the agent to join scale set web-ss in resource group web");

        Assert.Contains("/resourceGroups/web/providers/Microsoft.Compute/virtualMachineScaleSets/web-ss/virtualMachines/", Assert.Single(instances).Id, StringComparison.Ordinal);
    }
}
