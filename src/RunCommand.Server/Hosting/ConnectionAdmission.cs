using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;

namespace RunCommand.Server.Hosting;

/// <summary>
/// Lets new connections into their TLS handshake and first request a few at a time, in arrival order; the rest wait,
/// accepted but untouched (no CPU spent on them), for a slot. When a restarted server meets its whole fleet at once,
/// thousands of handshakes would otherwise share the two cores evenly and nearly all would finish together at the end
/// (the health probe too), each slow enough for clients to give up and start over; admitted in order, the first ones
/// are done within milliseconds and the rest follow at the rate the machine can do them (docs/performance.md, item 10).
/// A connection gives its slot back with its first request, when it closes, or after <see cref="LongestHold"/> at the
/// latest, so a client that connects and sends nothing delays others by that much, not by Kestrel's own timeouts.
/// A connection that waited longer than <see cref="LongestWait"/> for its turn is closed unhandled (shed): its client
/// has about given up (an agent gives TCP and TLS 30 s together), and a handshake it abandons half way is work lost
/// while the rest of the queue ages towards the same fate; shed, it retries after its back-off and finds a shorter
/// queue (docs/performance.md, items 31 and 36).
/// </summary>
public sealed class ConnectionAdmission(int slots, TimeSpan longestHold, TimeSpan longestWait, TimeProvider time)
{
    /// <summary>Connections in their handshake or first request at once: enough to keep every core busy.</summary>
    public static int DefaultSlots => Math.Max(16, Environment.ProcessorCount * 16);

    /// <summary>Longest a connection keeps its slot without a first request.</summary>
    public static readonly TimeSpan LongestHold = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Longest a connection waits for a slot before it is shed: the agent's limit for TCP and TLS together (30 s,
    /// docs/agent-protocol.md) less time for the handshake and first request it is let into.
    /// </summary>
    public static readonly TimeSpan LongestWait = TimeSpan.FromSeconds(25);

    private const string SlotKey = "RunCommand.ConnectionAdmission.Slot";

    private readonly SemaphoreSlim _slots = new(slots, slots);

    /// <summary>Slots free now (for tests and diagnostics).</summary>
    public int Free => _slots.CurrentCount;

    private long _shed;

    /// <summary>Connections closed unhandled because they waited longer than the longest wait (<c>runcmd_connections_shed_total</c>).</summary>
    public long Shed => Interlocked.Read(ref _shed);

    /// <summary>The connection middleware (outermost: before TLS).</summary>
    public ConnectionDelegate Wrap(ConnectionDelegate next) => async connection =>
    {
        var arrived = time.GetTimestamp();
        try
        {
            // SemaphoreSlim hands slots to asynchronous waiters in the order they came.
            await _slots.WaitAsync(connection.ConnectionClosed);
        }
        catch (OperationCanceledException)
        {
            // The client left while it waited: nothing was spent on it.
            return;
        }

        if (time.GetElapsedTime(arrived) > longestWait)
        {
            // Closed before its handshake: the slot goes to the next one at once.
            _slots.Release();
            Interlocked.Increment(ref _shed);
            return;
        }

        using var slot = new Slot(_slots, longestHold, time);
        connection.Items[SlotKey] = slot;
        await next(connection);
    };

    /// <summary>A request arrived on the connection with these items: its setup is done, its slot goes to the next one.</summary>
    public static void SetupDone(IDictionary<object, object?>? connectionItems)
    {
        if (connectionItems is not null && connectionItems.TryGetValue(SlotKey, out var value) && value is Slot slot)
        {
            slot.Release();
        }
    }

    /// <summary>The HTTP middleware (first in the pipeline) that gives the slot back when a connection's first request starts.</summary>
    public static Task ReleaseOnRequest(HttpContext http, RequestDelegate next)
    {
        SetupDone(http.Features.Get<IConnectionItemsFeature>()?.Items);
        return next(http);
    }

    private sealed class Slot : IDisposable
    {
        private readonly ITimer _timer;
        private SemaphoreSlim? _slots;

        public Slot(SemaphoreSlim slots, TimeSpan hold, TimeProvider time)
        {
            _slots = slots;
            _timer = time.CreateTimer(_ => Release(), null, hold, Timeout.InfiniteTimeSpan);
        }

        /// <summary>Gives the slot back once, whichever of first request, timer and close comes first.</summary>
        public void Release() => Interlocked.Exchange(ref _slots, null)?.Release();

        public void Dispose()
        {
            _timer.Dispose();
            Release();
        }
    }
}
