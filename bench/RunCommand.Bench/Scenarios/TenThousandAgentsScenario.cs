using System.Diagnostics;
using RunCommand.Bench.Measure;
using RunCommand.Bench.Swarm;
using RunCommand.Testing;

namespace RunCommand.Bench.Scenarios;

/// <summary>
/// 10,000 simulated agents long-polling one server over https: the server's RSS (beside its RSS with no agent), its
/// idle CPU over one poll cycle (the long poll the server announces, 5 minutes by default), one fleet run to all; then a kill -9 and restart of the server on the same port with all of
/// them connected: time until every agent polls again, and how many 5xx answers they saw.
/// </summary>
public sealed class TenThousandAgentsScenario : IScenario
{
    /// <summary>The fleet's size unless <c>--swarm-agents N</c> sets a smaller one (to iterate; the figures name the size).</summary>
    public const int DefaultAgents = 10_000;

    public string Name => "swarm-10k";

    public bool InQuick => false;

    public async Task RunAsync(SuiteContext context)
    {
        var count = context.SwarmAgents;
        var dataDir = Path.Combine(context.NewDir("swarm-10k"), "server");
        var port = RunCommand.Testing.ServerProcess.FreePort();
        var server = await context.StartServerAsync("swarm-10k", port: port, dataDir: dataDir);
        try
        {
            using var client = SwarmFleet.Client(server);
            var emptyRss = ProcessStats.Rss(server.Process.Pid);
            var token = File.ReadAllText(server.EnrollTokenFile).Trim();
            var options = SwarmFleet.Options(server, "swarm", "tenk");
            var enrolling = Stopwatch.GetTimestamp();
            await using var swarm = await AgentSwarm.StartAsync(options, count, token, CancellationToken.None);
            if (!await swarm.WaitAllPollingAsync(TimeSpan.FromMinutes(5)))
            {
                throw new InvalidOperationException($"Only {swarm.PollingCount} of {count} simulated agents are polling.");
            }

            var enrolled = Stopwatch.GetElapsedTime(enrolling);
            // Let the enrollment storm settle before measuring idle.
            await Task.Delay(TimeSpan.FromSeconds(10));
            var rss = ProcessStats.Rss(server.Process.Pid);
            // Idle CPU over one whole poll cycle (the long poll the server announces): in it every agent's poll ends and
            // is renewed once, as in a fleet that has run for hours, so the figure is the steady state's. A shorter window
            // right after the fleet started would see few polls end and flatter it.
            var cycle = swarm.Agents[0].LongPollWait;
            var cpuBefore = ProcessStats.CpuTime(server.Process.Pid);
            var answeredBefore = swarm.Counters.PollsAnswered;
            var idle = Stopwatch.GetTimestamp();
            await Task.Delay(cycle);
            var idleCpu = (ProcessStats.CpuTime(server.Process.Pid) - cpuBefore) / Stopwatch.GetElapsedTime(idle) * 100;
            var pollsAnswered = swarm.Counters.PollsAnswered - answeredBefore;
            context.Add(new Figure
            {
                Name = $"{count:N0} simulated agents connected and long-polling: server RSS, idle CPU over one poll cycle ({cycle.TotalSeconds:F0} s)",
                Measured = $"RSS {Samples.Mb(rss)}, idle CPU {Samples.F(idleCpu, "F1")} % of one core, {pollsAnswered:N0} polls answered in it (enrolled and polling in {enrolled.TotalSeconds:F0} s)",
                Baseline = $"server RSS with no agent {Samples.Mb(emptyRss)}",
                Target = "RSS ≤ 1 GiB, idle CPU ≤ 5 %",
                Met = rss <= 1L << 30 && idleCpu <= 5,
            });

            var (serverCpu, swarmCpu) = (ProcessStats.CpuTime(server.Process.Pid), Process.GetCurrentProcess().TotalProcessorTime);
            var (fleet, views) = await SwarmFleet.RunAsync(client, server, "swarm", "tenk", "all", count, TimeSpan.FromMinutes(10));
            (serverCpu, swarmCpu) = (ProcessStats.CpuTime(server.Process.Pid) - serverCpu, Process.GetCurrentProcess().TotalProcessorTime - swarmCpu);
            context.Add(new Figure
            {
                Name = $"one fleet run to all {count:N0} simulated agents, all terminal",
                Measured = $"{Samples.Seconds(fleet)}; CPU server {serverCpu.TotalSeconds:F1} s, swarm and client {swarmCpu.TotalSeconds:F1} s; {views} views of the run answered",
                Baseline = $"peak server RSS after it {Samples.Mb(ProcessStats.Rss(server.Process.Pid))}",
                Target = "≤ 20 s",
                Met = fleet <= 20_000,
            });

            // The thundering herd: every agent loses its poll at once and comes back with the agent's jittered back-off.
            swarm.Counters.ResetFailures();
            // Same URL, data dir and admin token after the restart: this client reads the new server's /metrics.
            using var metrics = server.CreateHttpClient();
            metrics.Timeout = TimeSpan.FromSeconds(20);
            await server.Process.KillHardAsync();
            await server.DisposeAsync();
            var timeline = new RestartTimeline();
            ChildProcess? restarted = null;
            var sampling = timeline.SampleUntilAllHeldAsync(metrics, () => Volatile.Read(ref restarted), swarm, TimeSpan.FromMinutes(3));
            server = await context.StartServerAsync("swarm-10k", port: port, dataDir: dataDir, spawned: process => Volatile.Write(ref restarted, process));
            var serverUp = timeline.Elapsed;
            var held = await sampling;
            var reconnected = held ? timeline.FirstHeld(count)!.Value : timeline.Elapsed;
            Console.WriteLine("  restart, every second: polls the new server holds, failures seen so far, server threads and CPU, swarm CPU, load");
            Console.WriteLine(timeline.Describe());
            string At(TimeSpan? t) => t is { } v ? $"{v.TotalSeconds:F1} s" : "not seen";
            context.Add(new Figure
            {
                Name = $"server kill -9 and restart with {count:N0} simulated agents connected",
                Measured = (held
                        ? $"all {count:N0} holding a poll on the new server {reconnected.TotalSeconds:F1} s after the restart began"
                        : $"{timeline.Samples.Max(s => s.Held):N0} of {count:N0} holding a poll after {reconnected.TotalSeconds:F0} s")
                    + $" (half {At(timeline.FirstHeld(count / 2))}, 90 % {At(timeline.FirstHeld(count * 9 / 10))}); "
                    + $"{swarm.Counters.ServerErrors} answers 5xx",
                Baseline = $"server listening (its log) {At(timeline.Listening)}, answering /healthz {serverUp.TotalSeconds:F1} s; "
                    + $"failures seen: {string.Join(", ", swarm.Counters.Failures.Select(f => $"{f.Key} ×{f.Value}"))}",
                Target = "all reconnected within 30 s, no 5xx",
                Met = held && reconnected <= TimeSpan.FromSeconds(30) && swarm.Counters.ServerErrors == 0,
            });
        }
        catch (Exception e) when (server.Process.HasExited)
        {
            // The server died under the swarm: say so with the end of its log, not only the client's "connection refused".
            var log = server.Process.Output.Split('\n');
            throw new InvalidOperationException(
                $"{e.Message}; the server exited; the end of its log:\n{string.Join('\n', log[Math.Max(0, log.Length - 40)..])}", e);
        }
        finally
        {
            await server.DisposeAsync();
        }
    }
}
