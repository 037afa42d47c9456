using System.Diagnostics;
using System.Globalization;

namespace RunCommand.Bench.Measure;

/// <summary>Memory and CPU of a process from <c>/proc</c> (Linux only, as RunCommand itself).</summary>
public static class ProcessStats
{
    private static readonly double TicksPerSecond = 100; // USER_HZ on every Linux the project supports.

    /// <summary>Waits (30 s at most) until the process spends less than a tenth of a core over a second: its JIT is done.</summary>
    public static async Task WaitUntilIdleAsync(int pid)
    {
        var deadline = Stopwatch.GetTimestamp() + Stopwatch.Frequency * 30;
        var before = CpuTime(pid);
        do
        {
            await Task.Delay(TimeSpan.FromSeconds(1));
            var now = CpuTime(pid);
            if (now - before < TimeSpan.FromMilliseconds(100))
            {
                return;
            }

            before = now;
        }
        while (Stopwatch.GetTimestamp() < deadline);
    }

    /// <summary>Resident set size in bytes, or 0 when the process is gone.</summary>
    public static long Rss(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
                }
            }
        }
        catch (IOException)
        {
        }

        return 0;
    }

    /// <summary>The process's thread count (a starved thread pool shows as threads added about one a second), or 0 when gone.</summary>
    public static int Threads(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("Threads:", StringComparison.Ordinal))
                {
                    return int.Parse(line.AsSpan(8).Trim(), CultureInfo.InvariantCulture);
                }
            }
        }
        catch (IOException)
        {
        }

        return 0;
    }

    /// <summary>CPU time (user + system) the process has used so far.</summary>
    public static TimeSpan CpuTime(int pid) => Usage(pid).Cpu;

    /// <summary>
    /// What the process has used so far, and what its children that it waited for used (<c>/proc/pid/stat</c>): CPU
    /// time and minor page faults. Zero when the process is gone.
    /// </summary>
    public static ProcessUsage Usage(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // Fields after the command name (which may hold spaces) start after the last ')': minflt cminflt at 7 and 8,
            // utime stime cutime cstime at 11 to 14.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            long Field(int i) => long.Parse(fields[i], CultureInfo.InvariantCulture);
            return new ProcessUsage(
                TimeSpan.FromSeconds((Field(11) + Field(12)) / TicksPerSecond), Field(7),
                TimeSpan.FromSeconds((Field(13) + Field(14)) / TicksPerSecond), Field(8));
        }
        catch (IOException)
        {
            return default;
        }
    }

    /// <summary>
    /// Waits (60 s at most) until the kernel has written back what earlier runs left in the page cache (Dirty and
    /// Writeback of <c>/proc/meminfo</c> under 64 MiB together): a GiB run after another then does not pay the first
    /// one's writeback (docs/performance.md, item 41). Returns the MiB that were waiting when it began.
    /// </summary>
    public static async Task<long> WaitForWritebackAsync()
    {
        var deadline = Stopwatch.GetTimestamp() + Stopwatch.Frequency * 60;
        var first = DirtyBytes();
        for (var waiting = first; waiting > 64L << 20 && Stopwatch.GetTimestamp() < deadline; waiting = DirtyBytes())
        {
            await Task.Delay(TimeSpan.FromMilliseconds(250));
        }

        return first >> 20;
    }

    /// <summary>Dirty plus Writeback of <c>/proc/meminfo</c>, in bytes.</summary>
    private static long DirtyBytes()
    {
        long total = 0;
        foreach (var line in File.ReadLines("/proc/meminfo"))
        {
            if (line.StartsWith("Dirty:", StringComparison.Ordinal) || line.StartsWith("Writeback:", StringComparison.Ordinal))
            {
                total += long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
            }
        }

        return total;
    }

    /// <summary>The machine's load average over the last minute (how busy the shared machine was).</summary>
    public static string LoadAverage()
    {
        try
        {
            return File.ReadAllText("/proc/loadavg").Split(' ')[0];
        }
        catch (IOException)
        {
            return "?";
        }
    }
}

/// <summary>A process's CPU time and minor page faults, its own and its waited-for children's.</summary>
public readonly record struct ProcessUsage(TimeSpan Cpu, long Faults, TimeSpan ChildrenCpu, long ChildrenFaults)
{
    public static ProcessUsage operator +(ProcessUsage a, ProcessUsage b) =>
        new(a.Cpu + b.Cpu, a.Faults + b.Faults, a.ChildrenCpu + b.ChildrenCpu, a.ChildrenFaults + b.ChildrenFaults);

    public static ProcessUsage operator -(ProcessUsage a, ProcessUsage b) =>
        new(a.Cpu - b.Cpu, a.Faults - b.Faults, a.ChildrenCpu - b.ChildrenCpu, a.ChildrenFaults - b.ChildrenFaults);
}

/// <summary>Samples a process's RSS every few milliseconds in the background and keeps the peak.</summary>
public sealed class PeakRss : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private long _peak;

    public PeakRss(int pid, TimeSpan? interval = null)
    {
        _loop = Task.Run(async () =>
        {
            using var timer = new PeriodicTimer(interval ?? TimeSpan.FromMilliseconds(20));
            do
            {
                var rss = ProcessStats.Rss(pid);
                if (rss > Volatile.Read(ref _peak))
                {
                    Volatile.Write(ref _peak, rss);
                }
            }
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false) is true);
        });
    }

    public long Peak => Volatile.Read(ref _peak);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _loop;
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }
}
