namespace RunCommand.Agent;

/// <summary>Capped exponential backoff with jitter (half fixed, half random), so many agents do not retry in step.</summary>
internal sealed class Backoff(TimeSpan initial, TimeSpan max)
{
    private int _attempt;

    public TimeSpan Next()
    {
        var exponential = initial.TotalMilliseconds * Math.Pow(2, Math.Min(_attempt, 20));
        _attempt++;
        var capped = Math.Min(exponential, max.TotalMilliseconds);
        return TimeSpan.FromMilliseconds((capped / 2) + (Random.Shared.NextDouble() * capped / 2));
    }

    public void Reset() => _attempt = 0;
}

/// <summary>Remembers the kind of the last failure, so a flapping network logs once per kind, not once per try.</summary>
internal sealed class FailureKindFilter
{
    private string? _lastKind;

    /// <summary>The kind of an exception: its type plus, for HTTP errors, the status or socket error.</summary>
    public static string KindOf(Exception e) => e switch
    {
        HttpRequestException { StatusCode: { } status } => $"HTTP {(int)status}",
        HttpRequestException { HttpRequestError: var error } => $"{error}",
        TaskCanceledException or TimeoutException => "Timeout",
        _ => e.GetType().Name,
    };

    /// <summary>True when this failure's kind differs from the previous one (log it).</summary>
    public bool ShouldLog(string kind)
    {
        var changed = kind != _lastKind;
        _lastKind = kind;
        return changed;
    }

    /// <summary>Forgets the last failure; returns true when there was one (connection is back).</summary>
    public bool Reset()
    {
        var had = _lastKind is not null;
        _lastKind = null;
        return had;
    }
}
