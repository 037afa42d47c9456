using System.Globalization;
using System.Text;
using RunCommand.Agent.State;
using RunCommand.Contracts.Agents;

namespace RunCommand.Agent.Metrics;

/// <summary>
/// What the agent counts for Prometheus (<c>--metrics-listen</c>, docs/install.md): polls, reports, output bytes,
/// executions. Plain interlocked counters rendered as Prometheus text by hand: no library, nothing for NativeAOT to trim.
/// Counters start at 0 with each agent process, as Prometheus expects of a restarted target.
/// </summary>
public sealed class AgentMetrics
{
    /// <summary>The terminal states, each a series of <c>runcmd_agent_executions_finished_total</c> from the start.</summary>
    private static readonly string[] Outcomes = [LocalState.Succeeded, LocalState.Failed, LocalState.TimedOut, LocalState.Canceled];

    private readonly long[] _finished = new long[Outcomes.Length];
    private long _polls;
    private long _pollFailures;
    private long _reports;
    private long _reportFailures;
    private long _stdoutBytes;
    private long _stderrBytes;

    /// <summary>How many executions have a runner in progress now; set once the agent's execution manager exists.</summary>
    public Func<int> RunningExecutions { get; set; } = () => 0;

    public void PollSucceeded() => Interlocked.Increment(ref _polls);

    public void PollFailed() => Interlocked.Increment(ref _pollFailures);

    public void ReportFailed() => Interlocked.Increment(ref _reportFailures);

    /// <summary>A report the server acknowledged: its output bytes are shipped; a terminal state counts the execution finished.</summary>
    public void ReportAcknowledged(ExecutionReport report)
    {
        Interlocked.Increment(ref _reports);
        Interlocked.Add(ref _stdoutBytes, report.Stdout?.Data.Length ?? 0);
        Interlocked.Add(ref _stderrBytes, report.Stderr?.Data.Length ?? 0);
        var outcome = Array.IndexOf(Outcomes, report.State);
        if (outcome >= 0)
        {
            Interlocked.Increment(ref _finished[outcome]);
        }
    }

    /// <summary>
    /// A raw output upload the server acknowledged (docs/agent-protocol.md): the bytes of <paramref name="stream"/> it
    /// sent from <paramref name="offset"/> that the server now holds (none for a refused gap or a resend it had).
    /// </summary>
    public void OutputUploaded(string stream, long offset, ReportAck ack)
    {
        var held = stream == "stderr" ? ack.StderrLength : ack.StdoutLength;
        Interlocked.Add(ref stream == "stderr" ? ref _stderrBytes : ref _stdoutBytes, Math.Max(0, held - offset));
    }

    /// <summary>The Prometheus text exposition format (version 0.0.4) of every figure.</summary>
    public string Render()
    {
        var text = new StringBuilder();
        Write(text, "runcmd_agent_executions_running", "gauge", "Executions this agent runs or still reports now.", [("", RunningExecutions())]);
        Write(text, "runcmd_agent_executions_finished_total", "counter", "Executions whose terminal state the server acknowledged, by outcome.",
            Outcomes.Select((outcome, i) => ($"outcome=\"{outcome}\"", Interlocked.Read(ref _finished[i]))).ToArray());
        Write(text, "runcmd_agent_polls_total", "counter", "Goal-state polls the server answered.", [("", Interlocked.Read(ref _polls))]);
        Write(text, "runcmd_agent_poll_failures_total", "counter", "Goal-state polls that failed (no answer, refused, or an error status).", [("", Interlocked.Read(ref _pollFailures))]);
        Write(text, "runcmd_agent_reports_total", "counter", "Execution reports the server acknowledged.", [("", Interlocked.Read(ref _reports))]);
        Write(text, "runcmd_agent_report_failures_total", "counter", "Execution reports that failed and are retried.", [("", Interlocked.Read(ref _reportFailures))]);
        Write(text, "runcmd_agent_output_shipped_bytes_total", "counter", "Script output bytes the server acknowledged, by stream.",
            [("stream=\"stdout\"", Interlocked.Read(ref _stdoutBytes)), ("stream=\"stderr\"", Interlocked.Read(ref _stderrBytes))]);
        return text.ToString();
    }

    private static void Write(StringBuilder text, string name, string type, string help, (string Labels, long Value)[] samples)
    {
        text.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n');
        text.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
        foreach (var (labels, value) in samples)
        {
            text.Append(name);
            if (labels.Length > 0)
            {
                text.Append('{').Append(labels).Append('}');
            }

            text.Append(' ').Append(value.ToString(CultureInfo.InvariantCulture)).Append('\n');
        }
    }
}
