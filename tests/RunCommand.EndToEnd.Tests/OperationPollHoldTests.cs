using System.Net.Http.Json;
using System.Text;
using RunCommand.Contracts;
using RunCommand.Contracts.Arm;
using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>
/// An ARM client's poll of an operation (no <c>waitSeconds</c>) is held while the run is short (ServerOptions.OperationPollHold),
/// so its first poll already sees the terminal state instead of waiting its own poll interval.
/// </summary>
public sealed class OperationPollHoldTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rc-poll-hold-").FullName;
    private ServerProcess _server = null!;
    private AgentProcess _agent = null!;

    public async Task InitializeAsync()
    {
        // The longest hold allowed, so the test does not depend on how fast this machine runs the script.
        _server = await ServerProcess.StartAsync(Path.Combine(_dir, "server"), extraArgs: ["--RunCommand:OperationPollHold", "00:01:00"]);
        _agent = await AgentProcess.StartAsync(_server, "hold-vm", "hold", Path.Combine(_dir, "agent"));
    }

    public async Task DisposeAsync()
    {
        await _agent.DisposeAsync();
        await _server.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task GetOperation_WithoutWaitSeconds_FirstPollAnswersTerminalState()
    {
        using var http = _server.CreateHttpClient();
        var url = $"/subscriptions/{_server.SubscriptionId}/resourceGroups/hold/providers/Microsoft.Compute/virtualMachines/hold-vm/runCommands/short?api-version=2023-07-01";
        using var put = await http.PutAsync(url, new StringContent("""{"location":"local","properties":{"source":{"script":"sleep 0.5; echo held"}}}""", Encoding.UTF8, "application/json"));
        put.EnsureSuccessStatusCode();
        var operationUrl = put.Headers.GetValues("Azure-AsyncOperation").Single();

        var operation = await http.GetFromJsonAsync(operationUrl, ContractsJsonContext.Default.AsyncOperation);

        Assert.Equal(OperationStatus.Succeeded, operation!.Status);
    }

    [Fact]
    public async Task GetOperation_WithWaitSeconds_AnswersSoonAfterTheRunStartsSoProgressShowsRunning()
    {
        using var http = _server.CreateHttpClient();
        var url = $"/subscriptions/{_server.SubscriptionId}/resourceGroups/hold/providers/Microsoft.Compute/virtualMachines/hold-vm/runCommands/long?api-version=2023-07-01";

        // The agent is stopped (SIGSTOP) while the run is created and the poll begins, so the poll sees it Pending first
        // and its start during the wait, as runcmd does when the agent is busy or slow.
        _agent.Process.Pause();
        var answered = System.Diagnostics.Stopwatch.StartNew();
        Task<AsyncOperation?> poll;
        try
        {
            using var put = await http.PutAsync(url, new StringContent("""{"location":"local","properties":{"source":{"script":"sleep 60"}}}""", Encoding.UTF8, "application/json"));
            put.EnsureSuccessStatusCode();
            var operationUrl = put.Headers.GetValues("Azure-AsyncOperation").Single() + "&waitSeconds=45";
            poll = http.GetFromJsonAsync(operationUrl, ContractsJsonContext.Default.AsyncOperation);
            await Task.WhenAny(poll, Task.Delay(TimeSpan.FromSeconds(1)));
        }
        finally
        {
            _agent.Process.Resume();
        }

        // The start ends the 45 s wait, not the run's end 60 s later.
        var operation = await poll;
        answered.Stop();
        var view = await http.GetFromJsonAsync(url + "&$expand=instanceView", ContractsJsonContext.Default.RunCommandResource);

        Assert.Equal(OperationStatus.InProgress, operation!.Status);
        Assert.Equal("Running", view!.Properties!.InstanceView!.ExecutionState);
        Assert.True(answered.Elapsed < TimeSpan.FromSeconds(40), $"answered after {answered.Elapsed}: the start did not end the wait");
        await http.DeleteAsync(url);
    }
}
