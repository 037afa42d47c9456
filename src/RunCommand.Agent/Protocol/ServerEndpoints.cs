namespace RunCommand.Agent.Protocol;

/// <summary>
/// The control-plane nodes an agent may talk to (<c>--server URL1,URL2,...</c>) and which one it uses now. Every call
/// goes to <see cref="Current"/>; a call that finds its node gone (connection refused or reset, no answer, HTTP
/// 502/503/504) moves the agent to the next node in the list. All nodes share one database, so any of them takes
/// the agent's polls and reports; a report sent again to another node is idempotent (offsets, terminal state).
/// Thread-safe: the poll loop and every execution's reporter share one instance.
/// </summary>
public sealed class ServerEndpoints
{
    private readonly Uri[] _servers;
    private int _current;
    private int _failedInARow;

    public ServerEndpoints(IReadOnlyList<Uri> servers)
    {
        if (servers.Count == 0)
        {
            throw new ArgumentException("At least one server URL is needed.", nameof(servers));
        }

        _servers = [.. servers];
    }

    /// <summary>The node calls go to now.</summary>
    public Uri Current => _servers[Volatile.Read(ref _current)];

    public int Count => _servers.Length;

    /// <summary>
    /// True while some node of the list has not failed since the last success: the caller may try the next one
    /// after a short pause instead of backing off. False once every node failed in a row (back off, then retry the round).
    /// </summary>
    public bool UntriedNodeLeft => Volatile.Read(ref _failedInARow) < _servers.Length;

    /// <summary>
    /// The node <paramref name="failed"/> did not answer: move on to the next one, unless another caller already
    /// did (many calls fail at once when a node dies; the agent moves once, not once per call).
    /// Returns the node the next call goes to.
    /// </summary>
    public Uri MoveOn(Uri failed)
    {
        var index = Volatile.Read(ref _current);
        if (_servers[index] == failed && Interlocked.CompareExchange(ref _current, (index + 1) % _servers.Length, index) == index)
        {
            Interlocked.Increment(ref _failedInARow);
        }

        return Current;
    }

    /// <summary>The current node answered: a later failure starts a fresh round.</summary>
    public void Succeeded() => Volatile.Write(ref _failedInARow, 0);

    /// <summary>The URL of a call to <paramref name="relative"/> on node <paramref name="server"/>.</summary>
    public static Uri Resolve(Uri server, string relative) => new(server, relative);
}
