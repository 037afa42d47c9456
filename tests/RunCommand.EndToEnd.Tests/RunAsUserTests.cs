using RunCommand.Contracts.Arm;
using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>runAsUser/runAsPassword with real Linux users (useradd, removed afterwards); the agent runs as root.</summary>
public sealed class RunAsUserTests(StackFixture fixture) : IClassFixture<StackFixture>
{
    private readonly Stack _stack = fixture.Stack;

    private static RunCommandResource As(string script, string user, string? password, IReadOnlyList<RunCommandParameter>? parameters = null) =>
        Stack.Script(script, parameters: parameters) with
        {
            Properties = Stack.Script(script, parameters: parameters).Properties! with { RunAsUser = user, RunAsPassword = password },
        };

    [Fact]
    public async Task Run_RunAsUserWithPassword_RunsWithItsUidHomeAndGroups()
    {
        var agent = await _stack.StartAgentAsync("runas");
        await using var user = await LinuxTestUser.CreateAsync();

        var result = await _stack.RunAsync(_stack.Command("runas", "who"),
            As("id -u; echo $HOME; id -G; touch $HOME/f; stat -c %U $HOME/f", user.Name, user.Password));

        var view = result.Properties!.InstanceView!;
        Assert.True(view.ExecutionState == ExecutionStates.Succeeded, view.ExecutionMessage + view.Error);
        Assert.Equal($"{await user.IdAsync("-u")}\n{user.Home}\n{await user.IdAsync("-G")}\n{user.Name}\n", view.Output);
        Assert.DoesNotContain(user.Password, agent.Process.Output, StringComparison.Ordinal);
        foreach (var file in Directory.EnumerateFiles(agent.StateDir, "*", SearchOption.AllDirectories))
        {
            Assert.DoesNotContain(user.Password, await File.ReadAllTextAsync(file), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Run_RunAsUser_CannotReadAnotherExecutionsFiles()
    {
        var agent = await _stack.StartAgentAsync("runasprivate");
        await using var user = await LinuxTestUser.CreateAsync();
        var other = await _stack.RunAsync(_stack.Command("runasprivate", "rootjob"), Stack.Script("echo root-only-output"));
        Assert.Equal(ExecutionStates.Succeeded, other.Properties!.InstanceView!.ExecutionState);
        var executions = Path.Combine(agent.StateDir, "executions");
        var otherDir = Directory.GetDirectories(executions).Single();
        const string script = """
            cat "$1/stdout" "$1/script"; echo "cat $?"
            ls "$2"; echo "ls $?"
            """;

        var result = await _stack.RunAsync(_stack.Command("runasprivate", "snoop"),
            As(script, user.Name, password: null, [new() { Value = otherDir }, new() { Value = executions }]));

        var view = result.Properties!.InstanceView!;
        Assert.Equal(ExecutionStates.Succeeded, view.ExecutionState);
        Assert.DoesNotContain("root-only-output", view.Output, StringComparison.Ordinal);
        Assert.Contains("cat 1\n", view.Output, StringComparison.Ordinal);
        Assert.Contains("ls 2\n", view.Output, StringComparison.Ordinal);
        Assert.Contains("Permission denied", view.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_WrongRunAsPassword_FailedWithClearMessageAndNeverRuns()
    {
        await _stack.StartAgentAsync("runaswrong");
        await using var user = await LinuxTestUser.CreateAsync();
        var marker = Path.Combine(user.Home, "ran");

        var result = await _stack.RunAsync(_stack.Command("runaswrong", "denied"), As($"touch {marker}", user.Name, "not-" + user.Password));

        var view = result.Properties!.InstanceView!;
        Assert.Equal(ExecutionStates.Failed, view.ExecutionState);
        Assert.Equal($"runAsPassword was rejected for user '{user.Name}'", view.ExecutionMessage);
        Assert.False(File.Exists(marker));
    }
}
