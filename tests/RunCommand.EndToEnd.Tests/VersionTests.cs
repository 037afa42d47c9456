using System.Diagnostics;
using System.Text.Json;
using System.Xml.Linq;
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
