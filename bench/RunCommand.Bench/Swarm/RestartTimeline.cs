using System.Diagnostics;
using System.Globalization;
using RunCommand.Bench.Measure;
using RunCommand.Testing;

namespace RunCommand.Bench.Swarm;

/// <summary>
/// What happens after a server restart with a swarm connected, sampled every 250 ms from the moment the restart began:
/// how many agents hold a goal-state poll on the new server (its <c>runcmd_agents_connected</c> gauge, read through
/// <c>/metrics</c>), the failures seen so far, and what the server and the swarm spend.
/// "Reconnected and idle" is the gauge reaching the swarm's size: every agent has a poll held by the new server.
/// (An agent's poll succeeds only when the server answers it, and the first poll after a reconnect carries the
/// version the agent knew, so the server holds it the full long poll before answering: the swarm's own "every poll
/// answered again" comes up to 30 s after the agent is in fact back.)
/// </summary>
public sealed class RestartTimeline
{
    private readonly List<Sample> _samples = [];
    private readonly long _began = Stopwatch.GetTimestamp();

    /// <summary>When the new server's log says it listens (its "Started" line), after the restart began.</summary>
    public TimeSpan? Listening { get; private set; }

        public IReadOnlyList<Sample> Samples => _samples;

    public TimeSpan Elapsed => Stopwatch.GetElapsedTime(_began);

    /// <summary>The first time at least <paramref name="held"/> agents held a poll on the new server, if seen.</summary>
    public TimeSpan? FirstHeld(int held) => _samples.Where(s => s.Held >= held).Select(s => (TimeSpan?)s.At).FirstOrDefault();

    /// <summary>
    /// Samples from now (the restart began: the server may not listen yet) until every one of the swarm's agents holds a
    /// poll on the new server or the timeout passes; true when they all did. <paramref name="metrics"/> reads the
    /// server's <c>/metrics</c> (an admin client of the same URL and data dir); <paramref name="server"/> is the new
    /// server process once it was started, null before.
    /// </summary>
    public async Task<bool> SampleUntilAllHeldAsync(HttpClient metrics, Func<ChildProcess?> server, AgentSwarm swarm, TimeSpan timeout)
    {
        var startedWall = DateTime.Now - Elapsed;
        // A scrape may wait in the same admission queue as the swarm's connections: it goes on beside the samples, which
        // keep their 250 ms (the server's and the swarm's CPU), and a sample has a count only when a scrape ended in it.
        Task<string>? scrape = null;
        while (Elapsed < timeout)
        {
            var process = server();
            if (process is not null)
            {
                Listening ??= ListeningAt(process.Output, startedWall);
            }

            scrape ??= metrics.GetStringAsync("/metrics");
            var held = -1;
            if (scrape.IsCompleted)
            {
                try
                {
                    held = (int)PrometheusText.Parse(await scrape).GetValueOrDefault("runcmd_agents_connected", -1);
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException)
                {
                    // Not listening yet, or shed from the queue: no count this time.
                }

                scrape = null;
            }

            _samples.Add(new Sample(Elapsed, held, swarm.Counters.Failures.Values.Sum(), process is null ? 0 : ProcessStats.Threads(process.Pid),
                process is null ? TimeSpan.Zero : ProcessStats.CpuTime(process.Pid), Process.GetCurrentProcess().TotalProcessorTime, ProcessStats.LoadAverage()));
            if (held >= swarm.Count)
            {
                return true;
            }

            await Task.Delay(250);
        }

        return false;
    }

    /// <summary>The samples as one line per second for the console: t, polls held, failures, the server's threads and CPU, the swarm's CPU.</summary>
    public string Describe()
    {
        // Each second's last sample, with the count of the last scrape that ended in that second.
        var perSecond = _samples.GroupBy(s => (int)s.At.TotalSeconds).Select(g => g.Last() with { Held = g.Select(s => s.Held).Where(h => h >= 0).DefaultIfEmpty(-1).Last() }).ToList();
        var lines = perSecond.Select((s, i) =>
        {
            var cpu = i == 0 || perSecond[i - 1].Cpu == TimeSpan.Zero ? 0 : (s.Cpu - perSecond[i - 1].Cpu) / (s.At - perSecond[i - 1].At) * 100;
            var swarmCpu = i == 0 ? 0 : (s.SwarmCpu - perSecond[i - 1].SwarmCpu) / (s.At - perSecond[i - 1].At) * 100;
            return string.Create(CultureInfo.InvariantCulture,
                $"    t={s.At.TotalSeconds,5:F1} s  polls held {(s.Held < 0 ? "?" : s.Held.ToString("N0", CultureInfo.InvariantCulture)),7}  failures so far {s.Failures,7:N0}  server threads {s.Threads,4}, CPU {cpu,4:F0} %  swarm CPU {swarmCpu,4:F0} %  load {s.Load}");
        });
        return string.Join('\n', lines);
    }

    /// <summary>
    /// One sample: when (since the restart began), polls the new server holds (-1: no answer to the scrape), failures the
    /// swarm saw so far, the server's threads and CPU time, the swarm's own CPU time, the machine's load average.
    /// </summary>
    public readonly record struct Sample(TimeSpan At, int Held, int Failures, int Threads, TimeSpan Cpu, TimeSpan SwarmCpu, string Load);

    /// <summary>The time of the server's "Started" log line after the restart began (its log stamps local time to the ms).</summary>
    private static TimeSpan? ListeningAt(string output, DateTime startedWall)
    {
        foreach (var line in output.Split('\n'))
        {
            if (line.Contains("RunCommand server listening", StringComparison.Ordinal))
            {
                if (line.Length >= 12 && TimeOnly.TryParseExact(line[..12], "HH:mm:ss.fff", CultureInfo.InvariantCulture, DateTimeStyles.None, out var stamp))
                {
                    var at = startedWall.Date + stamp.ToTimeSpan() - startedWall;
                    return at < TimeSpan.Zero ? at + TimeSpan.FromDays(1) : at;
                }
            }
        }

        return null;
    }
}
