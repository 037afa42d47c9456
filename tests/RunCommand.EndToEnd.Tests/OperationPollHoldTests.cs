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
}
