using RunCommand.Contracts.Arm;
using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>The shipped agent: the NativeAOT binary from packaging/build.sh, on a machine without .NET.</summary>
public sealed class NativeAgentTests(StackFixture fixture) : IClassFixture<StackFixture>
{
    private readonly Stack _stack = fixture.Stack;

    [Fact]
    public async Task NativeAgent_WithoutDotnetOnPath_EnrollsAndRunsScript()
    {
        var binary = await Dist.NativeAgentAsync();
        // PATH holds every program of /usr/bin and /bin but dotnet, so neither the agent nor its scripts can find .NET.
        await using var scope = new TestScope("rc-nodotnet-");
        var tools = scope.Dir;
        foreach (var dir in new[] { "/usr/bin", "/bin" })
        {
            foreach (var program in Directory.EnumerateFiles(dir))
            {
                var link = Path.Combine(tools, Path.GetFileName(program));
                if (Path.GetFileName(program) != "dotnet" && !File.Exists(link))
                {
                    File.CreateSymbolicLink(link, program);
                }
            }
        }

        var environment = new Dictionary<string, string> { ["PATH"] = tools, ["DOTNET_ROOT"] = "", ["DOTNET_HOST_PATH"] = "" };
        const string vm = "native";
        var agent = await AgentProcess.StartBinaryAsync(_stack.Server, binary, vm, "e2e", Path.Combine(_stack.Dir, "agents", vm), environment);
        await using var _ = agent;
        // A NativeAOT process maps no CoreCLR runtime: the binary is the whole agent.
        var maps = await File.ReadAllTextAsync($"/proc/{agent.Process.Pid}/maps");
        Assert.DoesNotContain("libcoreclr", maps, StringComparison.Ordinal);
        Assert.DoesNotContain("libhostfxr", maps, StringComparison.Ordinal);

        var result = await _stack.RunAsync(_stack.Command(vm, "hello"),
            Stack.Script("if command -v dotnet >/dev/null; then echo dotnet-found; exit 7; fi; echo native $((6 * 7))"));

        var view = result.Properties!.InstanceView!;
        Assert.Equal(ExecutionStates.Succeeded, view.ExecutionState);
        Assert.Equal("native 42\n", view.Output);
        Assert.Equal(0, view.ExitCode);
    }
}
