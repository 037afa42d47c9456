using System.Net;
using RunCommand.Contracts.Arm;
using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>/metrics (Prometheus text, counters that move with real commands) and /readyz (follows the database).</summary>
public sealed class OperationsTests(StackFixture fixture) : IClassFixture<StackFixture>
{
    private readonly Stack _stack = fixture.Stack;

    [Fact]
    public async Task Metrics_CommandRuns_ParsesAsPrometheusTextAndCountersMove()
    {
        const string vm = "metered";
        await _stack.StartAgentAsync(vm);
        using var admin = _stack.Server.CreateHttpClient();
        using var anonymous = _stack.Server.CreateHttpClient(token: "not-a-token");
        var before = await ScrapeAsync(admin);

        await _stack.RunAsync(_stack.Command(vm, "ok"), Stack.Script("echo fine"));
        await _stack.RunAsync(_stack.Command(vm, "bad"), Stack.Script("exit 3"));
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/subscriptions?api-version=2022-12-01")).StatusCode);

        var after = await ScrapeAsync(admin);
        Assert.Equal(Value(before, "runcmd_executions_finished_total{state=\"Succeeded\"}") + 1, Value(after, "runcmd_executions_finished_total{state=\"Succeeded\"}"));
        Assert.Equal(Value(before, "runcmd_executions_finished_total{state=\"Failed\"}") + 1, Value(after, "runcmd_executions_finished_total{state=\"Failed\"}"));
        Assert.True(Value(after, "runcmd_executions_dispatched_total") >= Value(before, "runcmd_executions_dispatched_total") + 2);
        Assert.True(Value(after, "runcmd_dispatch_latency_seconds_count") >= Value(before, "runcmd_dispatch_latency_seconds_count") + 2);
        Assert.True(after.ContainsKey("runcmd_fleet_runs_active"));
        Assert.True(after.TryGetValue("runcmd_connections_shed_total", out var shed) && shed == 0, "runcmd_connections_shed_total missing or not 0");
        Assert.True(Sum(after, "http_requests_received_total", "code=\"401\"") > Sum(before, "http_requests_received_total", "code=\"401\""));

        // The agent polls again once a command's report is answered, so its poll may be a moment behind the terminal state.
        await Wait.UntilAsync(async () => Value(await ScrapeAsync(admin), "runcmd_agents_connected") >= 1,
            TimeSpan.FromSeconds(30), "the agent's poll to be held again");

        // Run commands by state: counted from the store, at most every 10 s, so waited for.
        await Wait.UntilAsync(async () =>
        {
            var now = await ScrapeAsync(admin);
            return Value(now, "runcmd_commands{state=\"Succeeded\"}") == Value(before, "runcmd_commands{state=\"Succeeded\"}") + 1
                && Value(now, "runcmd_commands{state=\"Failed\"}") == Value(before, "runcmd_commands{state=\"Failed\"}") + 1;
        }, TimeSpan.FromSeconds(60), "runcmd_commands to count the two new run commands");
        Assert.All(new[] { "Pending", "Running", "Succeeded", "Failed", "TimedOut", "Canceled" },
            state => Assert.True(after.ContainsKey($"runcmd_commands{{state=\"{state}\"}}"), $"no runcmd_commands sample for {state}"));
    }

    [Fact]
    public async Task Metrics_RefusedForbiddenAndThrottledRequests_AreCountedByStatusCode()
    {
        await using var scope = new TestScope("rc-codes-");
        var dir = scope.Dir;
        await using var server = await ServerProcess.StartAsync(Path.Combine(dir, "server"), https: false,
            ["--RunCommand:RequestsPerSecond", "1", "--RunCommand:RequestBurst", "10"]);
        using var admin = server.CreateHttpClient();
        using var client = new RunCommand.Client.RunCommandClient(new RunCommand.Client.RunCommandClientOptions { Server = new Uri(server.Url), Token = server.AdminToken });
        await client.CreatePrincipalAsync("nobody", "User", null);
        var token = (await client.CreateTokenAsync("nobody", null, "metrics test")).Token!;
        using var nobody = server.CreateHttpClient(token);
        using var stranger = server.CreateHttpClient("not-a-token");
        var before = await ScrapeAsync(admin);

        // A principal without a role: 403 while its bucket lasts, then 429; an unknown token: 401.
        var answers = await Task.WhenAll(Enumerable.Range(0, 30).Select(async _ =>
        {
            using var response = await nobody.GetAsync($"/subscriptions/{server.SubscriptionId}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1?api-version=2023-07-01");
            return (int)response.StatusCode;
        }));
        using (var refused = await stranger.GetAsync($"/subscriptions/{server.SubscriptionId}/resourceGroups?api-version=2022-12-01"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        var after = await ScrapeAsync(admin);
        Assert.Contains(403, answers);
        Assert.Contains(429, answers);
        foreach (var code in new[] { 403, 429 })
        {
            Assert.Equal(answers.Count(a => a == code), Sum(after, "http_requests_received_total", $"code=\"{code}\"") - Sum(before, "http_requests_received_total", $"code=\"{code}\""));
        }

        Assert.Equal(1, Sum(after, "http_requests_received_total", "code=\"401\"") - Sum(before, "http_requests_received_total", "code=\"401\""));
    }

    [Fact]
    public async Task AgentMetrics_CommandRuns_ParsesAsPrometheusTextAndCountersMove()
    {
        const string vm = "agent-metered";
        var port = ServerProcess.FreePort();
        await using var agent = await AgentProcess.StartAsync(_stack.Server, vm, "e2e", Path.Combine(_stack.Dir, "agents", vm),
            extraArgs: ["--metrics-listen", $"127.0.0.1:{port}"]);
        using var scraper = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        async Task<Dictionary<string, double>> ScrapeAgentAsync()
        {
            using var response = await scraper.GetAsync("/metrics");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("text/plain", response.Content.Headers.ContentType!.MediaType);
            return PrometheusText.Parse(await response.Content.ReadAsStringAsync());
        }

        await Wait.UntilAsync(async () => Value(await ScrapeAgentAsync(), "runcmd_agent_polls_total") >= 1, TimeSpan.FromSeconds(30), "the agent's first poll");
        var before = await ScrapeAgentAsync();

        await _stack.RunAsync(_stack.Command(vm, "ok"), Stack.Script("echo fine; echo warn >&2"));
        await _stack.RunAsync(_stack.Command(vm, "bad"), Stack.Script("exit 3"));

        var after = await Wait.UntilAsync(async () =>
        {
            var now = await ScrapeAgentAsync();
            return Value(now, "runcmd_agent_executions_running") == 0 ? now : null;
        }, TimeSpan.FromSeconds(30), "the agent to finish reporting");
        Assert.Equal(Value(before, "runcmd_agent_executions_finished_total{outcome=\"Succeeded\"}") + 1, Value(after, "runcmd_agent_executions_finished_total{outcome=\"Succeeded\"}"));
        Assert.Equal(Value(before, "runcmd_agent_executions_finished_total{outcome=\"Failed\"}") + 1, Value(after, "runcmd_agent_executions_finished_total{outcome=\"Failed\"}"));
        Assert.True(after.ContainsKey("runcmd_agent_executions_finished_total{outcome=\"TimedOut\"}"));
        Assert.Equal(Value(before, "runcmd_agent_output_shipped_bytes_total{stream=\"stdout\"}") + "fine\n".Length, Value(after, "runcmd_agent_output_shipped_bytes_total{stream=\"stdout\"}"));
        Assert.Equal(Value(before, "runcmd_agent_output_shipped_bytes_total{stream=\"stderr\"}") + "warn\n".Length, Value(after, "runcmd_agent_output_shipped_bytes_total{stream=\"stderr\"}"));
        Assert.True(Value(after, "runcmd_agent_reports_total") >= Value(before, "runcmd_agent_reports_total") + 2);
        Assert.True(Value(after, "runcmd_agent_polls_total") > Value(before, "runcmd_agent_polls_total"));
        Assert.True(after.ContainsKey("runcmd_agent_report_failures_total"));
        Assert.True(after.ContainsKey("runcmd_agent_poll_failures_total"));
        using var elsewhere = await scraper.GetAsync("/");
        Assert.Equal(HttpStatusCode.NotFound, elsewhere.StatusCode);
    }

    [Fact]
    public async Task Metrics_WithoutToken_Refused()
    {
        using var anonymous = _stack.Server.CreateHttpClient(token: null);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/metrics")).StatusCode);
    }

    [Fact]
    public async Task Readyz_DatabaseUnreachable_503UntilItIsBack()
    {
        await using var scope = new TestScope("rc-ready-");
        var dir = scope.Dir;
        await using var server = await ServerProcess.StartAsync(Path.Combine(dir, "server"));
        using var http = server.CreateHttpClient(token: null);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/readyz")).StatusCode);

        var database = Path.Combine(server.DataDir, "runcommand.db");
        File.Move(database, database + ".away");
        var down = await http.GetAsync("/readyz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, down.StatusCode);
        Assert.Contains("DatabaseUnavailable", await down.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/healthz")).StatusCode);

        File.Move(database + ".away", database);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/readyz")).StatusCode);
    }

    [Fact]
    public async Task OpenApi_Document_ListsTheRunCommandApi()
    {
        using var admin = _stack.Server.CreateHttpClient();
        var response = await admin.GetAsync("/openapi/v1.json");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var document = System.Text.Json.JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.StartsWith("3.", document.RootElement.GetProperty("openapi").GetString(), StringComparison.Ordinal);
        var paths = document.RootElement.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToList();
        Assert.Contains("/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Compute/virtualMachines/{vmName}/runCommands/{runCommandName}", paths);
        Assert.Contains("/agent/install.sh", paths);
    }

    /// <summary>Reads /metrics and checks every line is Prometheus text format; returns the samples by name{labels}.</summary>
    private static async Task<Dictionary<string, double>> ScrapeAsync(HttpClient http)
    {
        var response = await http.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType!.MediaType, StringComparison.Ordinal);
        return PrometheusText.Parse(await response.Content.ReadAsStringAsync());
    }

    private static double Value(Dictionary<string, double> samples, string key) => samples.GetValueOrDefault(key);

    private static double Sum(Dictionary<string, double> samples, string name, string label) => PrometheusText.Sum(samples, name, label);
}
