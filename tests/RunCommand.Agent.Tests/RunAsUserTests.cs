using Microsoft.Extensions.Logging;
using RunCommand.Agent.Execution;
using RunCommand.Agent.State;
using RunCommand.Contracts.Agents;
using RunCommand.Testing;

namespace RunCommand.Agent.Tests;

/// <summary>runAsUser/runAsPassword against real users and the system's PAM stack (needs root, like the agent).</summary>
public sealed class RunAsUserTests : IDisposable
{
    private readonly AgentFixture _fixture = new();
    private readonly StringWriter _log = new();

    public void Dispose() => _fixture.Dispose();

    private async Task<ExecutionReport> RunAsync(ExecutionAssignment assignment)
    {
        var manager = new ExecutionManager(
            _fixture.ExecutionsRoot, new FileExecutionStateStore(_fixture.ExecutionsRoot), _fixture.Server, AgentFixture.FastSettings,
            TimeProvider.System, new ConsoleLogger(TimeProvider.System, LogLevel.Debug, _log), CancellationToken.None);
        manager.Reconcile(AgentFixture.Goal(assignment));
        var final = await _fixture.Server[assignment.ExecutionId].WaitForTerminalAsync();
        await manager.WhenAllAsync();
        return final;
    }

    private void AssertNowhereOnDisk(string secret)
    {
        foreach (var file in Directory.EnumerateFiles(_fixture.Root, "*", SearchOption.AllDirectories))
        {
            Assert.DoesNotContain(secret, File.ReadAllText(file), StringComparison.Ordinal);
        }

        Assert.DoesNotContain(secret, _log.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunNew_RightPassword_RunsAsTheUserInItsHome()
    {
        await using var user = await LinuxTestUser.CreateAsync();
        var assignment = AgentFixture.Assignment("id -un; pwd; echo \"$HOME\"") with { RunAsUser = user.Name, RunAsPassword = user.Password };

        var final = await RunAsync(assignment);

        Assert.Equal(LocalState.Succeeded, final.State);
        Assert.Equal($"{user.Name}\n{user.Home}\n{user.Home}\n", _fixture.Server[assignment.ExecutionId].StdoutText);
        AssertNowhereOnDisk(user.Password);
    }

    [Fact]
    public async Task RunNew_WrongPassword_FailsAndNeverStartsTheScript()
    {
        await using var user = await LinuxTestUser.CreateAsync();
        var marker = Path.Combine(Path.GetTempPath(), "rc-pam-" + Guid.NewGuid().ToString("N"));
        var wrong = "Wrong-" + Guid.NewGuid().ToString("N");
        var assignment = AgentFixture.Assignment($"touch {marker}") with { RunAsUser = user.Name, RunAsPassword = wrong };

        var final = await RunAsync(assignment);

        Assert.Equal(LocalState.Failed, final.State);
        Assert.Equal($"runAsPassword was rejected for user '{user.Name}'", final.Message);
        Assert.False(File.Exists(marker));
        Assert.False(File.Exists(Path.Combine(_fixture.ExecutionDir(assignment.ExecutionId), "script")));
        AssertNowhereOnDisk(wrong);
    }

    [Fact]
    public async Task RunNew_UnknownUser_FailsClearly()
    {
        var assignment = AgentFixture.Assignment("true") with { RunAsUser = "rcnosuchuser", RunAsPassword = "x" };

        var final = await RunAsync(assignment);

        Assert.Equal(LocalState.Failed, final.State);
        Assert.Equal("runAsUser 'rcnosuchuser' does not exist on this machine", final.Message);
    }

    [Fact]
    public async Task RunNew_ProtectedParameter_NeverWrittenToDisk()
    {
        var secret = "Prot-" + Guid.NewGuid().ToString("N");
        var assignment = AgentFixture.Assignment("test \"$S\" = \"$1\" && echo same") with
        {
            ProtectedParameters = [new AgentParameter { Name = "S", Value = secret }, new AgentParameter { Value = secret }],
        };

        var final = await RunAsync(assignment);

        Assert.Equal(LocalState.Succeeded, final.State);
        Assert.Equal("same\n", _fixture.Server[assignment.ExecutionId].StdoutText);
        AssertNowhereOnDisk(secret);
    }

    [Fact]
    public async Task Check_RightAndWrongPassword_AcceptedAndRejected()
    {
        await using var user = await LinuxTestUser.CreateAsync();

        Assert.Equal(PamOutcome.Accepted, PamAuthenticator.Check(user.Name, user.Password));
        Assert.Equal(PamOutcome.Rejected, PamAuthenticator.Check(user.Name, user.Password + "x"));
        Assert.Equal(PamOutcome.Rejected, PamAuthenticator.Check("rcnosuchuser", "x"));
    }
}
