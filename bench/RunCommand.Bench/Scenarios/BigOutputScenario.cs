using System.Diagnostics;
using System.Globalization;
using System.Text;
using RunCommand.Bench.Measure;
using RunCommand.Bench.Swarm;
using RunCommand.Client;
using RunCommand.Contracts.Arm;
using RunCommand.Testing;

namespace RunCommand.Bench.Scenarios;

/// <summary>
/// 1 GiB of stdout (128 MiB in the quick suite) from a real agent over https, kept in full by the server: MB/s from the
/// PUT until the client sees the terminal state; peak RSS of agent and server sampled throughout; how late a line the
/// script writes to stderr every 200 ms becomes visible through the logs API while stdout streams (the tail); and both
/// processes' RSS 10 s after the run. Baseline: the same script writing to a local file.
/// </summary>
public sealed class BigOutputScenario : IScenario
{
    public string Name => "big-output";

    public bool InQuick => true;

    public async Task RunAsync(SuiteContext context)
    {
        var (bytes, label) = context.OutputSize;
        var (warmUpBytes, warmUpLabel) = context.WarmUpSize;
        await using var server = await context.StartServerAsync("big-output");
        await using var agent = await context.StartAgentAsync(server, "big-vm", "bench", Path.Combine(context.NewDir("big-agent"), "agent"));
        using var client = SwarmFleet.Client(server);
        var target = new RunCommandRef(server.SubscriptionId, "bench", "big-vm", "big");
        // Warm the server the way one that has been running is warm (docs/performance.md, item 16): tiered compilation
        // recompiles a method optimized only after it was called often enough, so the run, its uploads and the log
        // follower go through the server as often as in the measured run first; then wait until the compiler is done.
        // A run command of its own: a PUT of the same script to the same one would change nothing and run nothing.
        // Its own figures are those of a server's first GiB after a start (the JIT still compiling), shown beside the warm ones.
        double coldElapsed = 0;
        double coldTailLag;
        long coldServerPeak;
        await using (var coldPeak = new PeakRss(server.Process.Pid))
        {
            var coldStarted = Stopwatch.GetTimestamp();
            (var warmUp, coldTailLag) = await RunFollowingTailAsync(client, target with { Name = "warm-up" }, Script(warmUpBytes), () => coldElapsed = Stopwatch.GetElapsedTime(coldStarted).TotalMilliseconds);
            if (warmUp.Status != OperationStatus.Succeeded)
            {
                throw new InvalidOperationException($"The warm-up run ended {warmUp.Status}: {warmUp.Error?.Message}");
            }

            coldServerPeak = coldPeak.Peak;
        }

        var coldMbPerSecond = warmUpBytes / 1e6 / (coldElapsed / 1000);

        await ProcessStats.WaitUntilIdleAsync(server.Process.Pid);
        await ProcessStats.WaitUntilIdleAsync(agent.Process.Pid);
        var dirtyMiB = await ProcessStats.WaitForWritebackAsync();
        var agentBefore = ProcessStats.Rss(agent.Process.Pid);
        var serverBefore = ProcessStats.Rss(server.Process.Pid);

        var baselineFile = Path.Combine(context.NewDir("big-baseline"), "out");
        var baseline = await Baselines.RunMsAsync("/bin/bash", "-c", $"{{ {Script(bytes)}; }} > {baselineFile} 2>/dev/null");
        File.Delete(baselineFile);

        double elapsed = 0;
        double tailLag;
        await using (var agentPeak = new PeakRss(agent.Process.Pid))
        await using (var serverPeak = new PeakRss(server.Process.Pid))
        {
            var (agentCpu, serverCpu) = (ProcessStats.CpuTime(agent.Process.Pid), ProcessStats.CpuTime(server.Process.Pid));
            var started = Stopwatch.GetTimestamp();
            (var result, tailLag) = await RunFollowingTailAsync(client, target, Script(bytes), () =>
            {
                elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                // CPU seconds each process spent on the run: what the output costs, whatever else shares the cores.
                agentCpu = ProcessStats.CpuTime(agent.Process.Pid) - agentCpu;
                serverCpu = ProcessStats.CpuTime(server.Process.Pid) - serverCpu;
            });
            if (result.Status != OperationStatus.Succeeded)
            {
                throw new InvalidOperationException($"The {label} run ended {result.Status}: {result.Error?.Message}");
            }

            await CheckKeptInFullAsync(client, target, bytes);
            var mbPerSecond = bytes / 1e6 / (elapsed / 1000);
            var baselineMbPerSecond = bytes / 1e6 / (baseline / 1000);
            context.Add(new Figure
            {
                Name = $"{label} of stdout end to end, kept in full (https, {context.AgentLabel})",
                Measured = $"{mbPerSecond:F0} MB/s ({Samples.Seconds(elapsed)}); peak RSS agent {Samples.Mb(agentPeak.Peak)}, server {Samples.Mb(serverPeak.Peak)}; tail visible after ≤ {Samples.Ms(tailLag)}; CPU agent {agentCpu.TotalSeconds:F1} s, server {serverCpu.TotalSeconds:F1} s",
                Baseline = $"same script to a local file {baselineMbPerSecond:F0} MB/s; RSS before: agent {Samples.Mb(agentBefore)}, server {Samples.Mb(serverBefore)}; "
                    + $"the fresh server's first {warmUpLabel} (the warm-up, JIT compiling) {coldMbPerSecond:F0} MB/s, peak server RSS {Samples.Mb(coldServerPeak)}, tail ≤ {Samples.Ms(coldTailLag)}; "
                    + $"{dirtyMiB} MiB it left unwritten to disk waited for",
                Target = "≥ 200 MB/s; agent RSS ≤ 64 MB, server ≤ 256 MB; tail within 1 s",
                // Memory and the tail must hold on the fresh server too; the rate is the warm server's.
                Met = mbPerSecond >= 200 && agentPeak.Peak <= 64L << 20 && serverPeak.Peak <= 256L << 20 && tailLag <= 1000
                    && coldServerPeak <= 256L << 20 && coldTailLag <= 1000,
            });
        }

        await Task.Delay(TimeSpan.FromSeconds(10));
        var agentAfter = ProcessStats.Rss(agent.Process.Pid);
        var serverAfter = ProcessStats.Rss(server.Process.Pid);
        context.Add(new Figure
        {
            Name = $"memory 10 s after the {label} output ({context.AgentLabel})",
            Measured = $"agent {Samples.Mb(agentAfter)}, server {Samples.Mb(serverAfter)}",
            Baseline = $"before it: agent {Samples.Mb(agentBefore)}, server {Samples.Mb(serverBefore)}",
            Target = "agent ≤ 64 MB, server ≤ 256 MB",
            Met = agentAfter <= 64L << 20 && serverAfter <= 256L << 20,
        });
    }

    /// <summary>
    /// <paramref name="bytes"/> of stdout; meanwhile a background loop writes the time (ns since the epoch) to stderr every
    /// 200 ms, the "tail" a person following the run would watch.
    /// </summary>
    public static string Script(long bytes) =>
        $"(while :; do date +%s%N >&2; sleep 0.2; done) & ticker=$!; head -c {bytes.ToString(CultureInfo.InvariantCulture)} /dev/zero | tr '\\0' 'x'; kill $ticker";

    /// <summary>
    /// Runs <paramref name="script"/> as <paramref name="target"/> until the client sees it terminal (then calls
    /// <paramref name="terminal"/>) while following its stderr tail; returns the result and the tail's worst lag.
    /// </summary>
    private static async Task<(AsyncOperation Result, double TailLag)> RunFollowingTailAsync(RunCommandClient client, RunCommandRef target, string script, Action terminal)
    {
        using var stopFollowing = new CancellationTokenSource();
        var operation = await client.CreateOrUpdateAsync(target, Stack.Script(script));
        var follow = FollowTailAsync(client, target, stopFollowing.Token);
        var result = await client.WaitForOperationAsync(operation.OperationUrl!);
        terminal();
        await stopFollowing.CancelAsync();
        return (result, await follow);
    }

    /// <summary>Follows stderr through the logs API; returns the largest delay between a line's time stamp and when it was seen.</summary>
    private static async Task<double> FollowTailAsync(RunCommandClient client, RunCommandRef target, CancellationToken stop)
    {
        double worst = 0;
        long offset = 0;
        var pending = new StringBuilder();
        string? execution = null;
        try
        {
            while (!stop.IsCancellationRequested)
            {
                // stdout is skipped (an offset far past its end): only the stderr tail is followed.
                var logs = await client.GetLogsAsync(target, long.MaxValue / 2, offset, 5, stop);
                if (execution is null)
                {
                    execution = logs.ExecutionId;
                }
                else if (execution != logs.ExecutionId)
                {
                    break;
                }

                var seen = DateTimeOffset.UtcNow;
                offset = logs.Stderr.NextOffset;
                pending.Append(Encoding.ASCII.GetString(logs.Stderr.Data));
                var text = pending.ToString();
                var end = text.LastIndexOf('\n');
                if (end >= 0)
                {
                    foreach (var line in text[..end].Split('\n', StringSplitOptions.RemoveEmptyEntries))
                    {
                        if (long.TryParse(line, NumberStyles.None, CultureInfo.InvariantCulture, out var nanoseconds))
                        {
                            var written = DateTimeOffset.FromUnixTimeMilliseconds(nanoseconds / 1_000_000);
                            worst = Math.Max(worst, (seen - written).TotalMilliseconds);
                        }
                    }

                    pending.Clear().Append(text[(end + 1)..]);
                }

                if (logs.Finished)
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }

        return worst;
    }

    private static async Task CheckKeptInFullAsync(RunCommandClient client, RunCommandRef target, long bytes)
    {
        var last = await client.GetLogsAsync(target, bytes - 1, 0, 0);
        if (last.Stdout.Data.Length != 1 || last.Stdout.Data[0] != (byte)'x' || last.Stdout.NextOffset != bytes)
        {
            throw new InvalidOperationException($"The server does not hold exactly {bytes} bytes of stdout (last chunk {last.Stdout.Data.Length} bytes ending at {last.Stdout.NextOffset}).");
        }

        var past = await client.GetLogsAsync(target, bytes, 0, 0);
        if (past.Stdout.Data.Length != 0 || !past.Finished)
        {
            throw new InvalidOperationException($"The server holds more than {bytes} bytes of stdout.");
        }
    }
}
