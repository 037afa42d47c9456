using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using System.Xml.Linq;
using RunCommand.Contracts.Agents;
using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>One version for everything, from Directory.Build.props: CLI, server and agent print it, vm list shows it.</summary>
public sealed class VersionTests(StackFixture fixture) : IClassFixture<StackFixture>
{
    private static string PropsVersion =>
        XDocument.Load(Path.Combine(Repo.Root, "Directory.Build.props")).Descendants("Version").Single().Value;

    [Fact]
    public async Task Version_CliServerAndAgent_PrintTheOneVersionFromDirectoryBuildProps()
    {
        var cli = await VersionOfAsync(Repo.CliDll);
        var server = await VersionOfAsync(Repo.ServerDll);
        var agent = await VersionOfAsync(Repo.AgentDll);

        // The commit after '+' is the build's; programs built at different commits of a working tree may differ there.
        Assert.Equal(PropsVersion, cli.Split('+')[0]);
        Assert.Equal(PropsVersion, server.Split('+')[0]);
        Assert.Equal(PropsVersion, agent.Split('+')[0]);
    }

    [Fact]
    public async Task VmList_ShowsTheAgentsVersion()
    {
        await fixture.Stack.StartAgentAsync("versioned");
        var cli = new CliRunner(Path.Combine(fixture.Stack.Dir, "cli-" + Guid.NewGuid().ToString("N")));
        await cli.LoginAsync(fixture.Stack.Server);

        var listed = await cli.RunAsync("vm", "list", "-g", "e2e", "--query", "[?name=='versioned'].agentInstanceView.agentVersion | [0]");
        var table = await cli.RunAsync("vm", "list", "-g", "e2e", "-o", "table");

        Assert.True(listed.ExitCode == 0, listed.Stderr);
        Assert.Equal(await VersionOfAsync(Repo.AgentDll), JsonSerializer.Deserialize<string>(listed.Stdout));
        Assert.Contains("AgentVersion", table.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AgentStartedOnAnOlderAgentsEnrollment_VmShowsTheVersionThatRunsNow()
    {
        // What an older agent leaves behind: its key and identity, and its version on the machine (an upgrade keeps them).
        var stack = fixture.Stack;
        using var key = AgentAssertion.NewKey();
        using var enroll = stack.Server.CreateHttpClient(File.ReadAllText(stack.Server.EnrollTokenFile).Trim());
        var response = await enroll.PostAsJsonAsync("/agent/v1/enroll", new EnrollRequest
        {
            ResourceGroup = "e2e",
            VmName = "upgraded",
            AgentVersion = "0.0.1+older",
            PublicKey = Convert.ToBase64String(key.ExportSubjectPublicKeyInfo()),
        });
        response.EnsureSuccessStatusCode();
        var enrolled = (await response.Content.ReadFromJsonAsync<EnrollResponse>())!;
        var stateDir = Path.Combine(stack.Dir, "agents", "upgraded");
        Directory.CreateDirectory(stateDir);
        await File.WriteAllTextAsync(Path.Combine(stateDir, "agent.key"), key.ExportPkcs8PrivateKeyPem());
        File.SetUnixFileMode(Path.Combine(stateDir, "agent.key"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        await File.WriteAllTextAsync(Path.Combine(stateDir, "agent.identity"), enrolled.VmResourceId + "\n");
        Assert.Equal("0.0.1+older", (await stack.Client.GetVmAsync(stack.Vm("upgraded"))).Properties.AgentInstanceView.AgentVersion);

        await stack.StartAgentAsync("upgraded", stateDir);

        var running = await VersionOfAsync(Repo.AgentDll);
        await Wait.UntilAsync(async () => (await stack.Client.GetVmAsync(stack.Vm("upgraded"))).Properties.AgentInstanceView.AgentVersion == running,
            TimeSpan.FromSeconds(30), "the VM to show the version of the agent that runs now");
    }

    private static async Task<string> VersionOfAsync(string dll)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(dll);
        psi.ArgumentList.Add("--version");
        using var process = Process.Start(psi)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode == 0, dll + ": " + await process.StandardError.ReadToEndAsync());
        return output.Trim();
    }
}
