namespace RunCommand.Server.Hosting;

/// <summary>
/// The deadlines of long waits, one timer per second of due time instead of one per wait. Each of 10,000 agents holds a
/// five-minute poll; with a timer each, .NET's timer queue walked all 10,000 about three times a second, an eighth of an
/// idle server's CPU (docs/performance.md, item 45). A wait of at least <see cref="SharedFrom"/> ends at the first whole
/// second after its deadline (at most a second late, 5 % of the shortest such wait); a shorter wait gets a timer of its own,
/// exact to the millisecond.
/// </summary>
public sealed class SharedDeadlines(TimeProvider time)
{
    /// <summary>The shortest wait whose deadline is shared.</summary>
    public static readonly TimeSpan SharedFrom = TimeSpan.FromSeconds(20);

    private readonly Dictionary<long, Task> _bySecond = [];
    private readonly Lock _lock = new();

    /// <summary>How many shared deadlines are pending (each one timer).</summary>
    public int Pending
    {
        get
        {
            lock (_lock)
            {
                return _bySecond.Count;
            }
        }
    }

    /// <summary>
    /// A task that completes once <paramref name="remaining"/> has passed, or ends cancelled with
    /// <paramref name="cancellationToken"/> (a short wait's timer then goes; a shared timer stays for its other waits).
    /// </summary>
    public Task After(TimeSpan remaining, CancellationToken cancellationToken)
    {
        if (remaining < SharedFrom)
        {
            return Task.Delay(remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero, time, cancellationToken);
        }

        var frequency = time.TimestampFrequency;
        var now = time.GetTimestamp();
        // The first whole second (of the timestamp clock) strictly after the deadline.
        var second = (now + (long)(remaining.TotalSeconds * frequency)) / frequency + 1;
        lock (_lock)
        {
            if (_bySecond.TryGetValue(second, out var shared))
            {
                return shared.WaitAsync(cancellationToken);
            }

            shared = Task.Delay(TimeSpan.FromSeconds((double)(second * frequency - now) / frequency), time);
            _bySecond[second] = shared;
            // Nobody asks for this second again once it has come: every later deadline falls in a later one.
            shared.ContinueWith((_, state) => ((SharedDeadlines)state!).Forget(second), this, CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            return shared.WaitAsync(cancellationToken);
        }
    }

    private void Forget(long second)
    {
        lock (_lock)
        {
            _bySecond.Remove(second);
        }
    }
}
