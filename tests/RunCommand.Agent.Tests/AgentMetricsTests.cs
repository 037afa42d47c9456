using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using RunCommand.Agent.Metrics;
using RunCommand.Contracts.Agents;
using RunCommand.Testing;

namespace RunCommand.Agent.Tests;

/// <summary>The agent's hand-written Prometheus text and its endpoint (docs/install.md, agent metrics).</summary>
public sealed class AgentMetricsTests
{
    [Fact]
    public void Render_AfterReportsAndPolls_IsPrometheusTextWithTheCounts()
    {
        var metrics = new AgentMetrics { RunningExecutions = () => 2 };
        metrics.PollSucceeded();
        metrics.PollFailed();
        metrics.ReportFailed();
        metrics.ReportAcknowledged(new ExecutionReport { State = "Running", Stdout = new OutputChunk { Offset = 0, Data = new byte[7] } });
        metrics.ReportAcknowledged(new ExecutionReport { State = "TimedOut", Stderr = new OutputChunk { Offset = 0, Data = new byte[3] } });

        var samples = PrometheusText.Parse(metrics.Render());

        Assert.Equal(2, samples["runcmd_agent_executions_running"]);
        Assert.Equal(1, samples["runcmd_agent_executions_finished_total{outcome=\"TimedOut\"}"]);
        Assert.Equal(0, samples["runcmd_agent_executions_finished_total{outcome=\"Succeeded\"}"]);
        Assert.Equal(1, samples["runcmd_agent_polls_total"]);
        Assert.Equal(1, samples["runcmd_agent_poll_failures_total"]);
        Assert.Equal(2, samples["runcmd_agent_reports_total"]);
        Assert.Equal(1, samples["runcmd_agent_report_failures_total"]);
        Assert.Equal(7, samples["runcmd_agent_output_shipped_bytes_total{stream=\"stdout\"}"]);
        Assert.Equal(3, samples["runcmd_agent_output_shipped_bytes_total{stream=\"stderr\"}"]);
    }

    [Fact]
    public void Render_AfterRawUploads_CountsTheBytesTheServerNowHoldsBeyondEachUploadsOffset()
    {
        var metrics = new AgentMetrics();
        metrics.ReportAcknowledged(new ExecutionReport { State = "Running", Stdout = new OutputChunk { Offset = 0, Data = new byte[4] } });

        metrics.OutputUploaded("stdout", 4, new ReportAck { StdoutLength = 10, StderrLength = 0 });
        metrics.OutputUploaded("stderr", 0, new ReportAck { StdoutLength = 10, StderrLength = 5 });
        // A resend of bytes the server already held adds nothing.
        metrics.OutputUploaded("stdout", 10, new ReportAck { StdoutLength = 10, StderrLength = 5 });

        var samples = PrometheusText.Parse(metrics.Render());
        Assert.Equal(10, samples["runcmd_agent_output_shipped_bytes_total{stream=\"stdout\"}"]);
        Assert.Equal(5, samples["runcmd_agent_output_shipped_bytes_total{stream=\"stderr\"}"]);
    }

    [Fact]
    public async Task Endpoint_ServesMetricsOnlyAtGetMetrics()
    {
        var metrics = new AgentMetrics();
        metrics.PollSucceeded();
        await using var endpoint = MetricsEndpoint.Start(new IPEndPoint(IPAddress.Loopback, 0), metrics, NullLogger.Instance);
        using var http = new HttpClient { BaseAddress = new Uri($"http://{endpoint.Address}") };

        using var ok = await http.GetAsync("/metrics");
        using var missing = await http.GetAsync("/other");
        using var posted = await http.SendAsync(new HttpRequestMessage(HttpMethod.Delete, "/metrics"));

        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal("text/plain", ok.Content.Headers.ContentType!.MediaType);
        Assert.Equal(1, PrometheusText.Parse(await ok.Content.ReadAsStringAsync())["runcmd_agent_polls_total"]);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, posted.StatusCode);
    }
}
