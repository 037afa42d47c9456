using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using RunCommand.Server.Hosting;
using RunCommand.Storage;

namespace RunCommand.Server.Agents;

/// <summary>
/// Whether a VM's agent is there. An agent holding a long poll on this node is connected; otherwise the last
/// contact recorded in the store decides (so a VM polling another node also shows connected). Contacts are
/// written to the store at most every few seconds per VM, keeping polls cheap at fleet scale; an agent that polls
/// without pause (one poll ending as the next begins) still refreshes its stored contact every few seconds. An agent that
/// stops cleanly signs off (<see cref="SignOffAsync"/>): it is Disconnected at once, on every node, until it calls again.
/// </summary>
public sealed class AgentPresence
{
    private static readonly TimeSpan TouchInterval = TimeSpan.FromSeconds(10);
    private readonly ConcurrentDictionary<string, int> _activePolls = new(StringComparer.Ordinal);
    /// <summary>The latest contact seen by this node (a poll's start or end, a report).</summary>
    private readonly ConcurrentDictionary<string, DateTimeOffset> _lastTouch = new(StringComparer.Ordinal);

    /// <summary>When this node last wrote the VM's contact to the store (throttles those writes).</summary>
    private readonly ConcurrentDictionary<string, DateTimeOffset> _lastStored = new(StringComparer.Ordinal);
    private readonly IMachineStore _store;
    private readonly TimeProvider _time;
    private readonly TimeSpan _window;

    public AgentPresence(IMachineStore store, TimeProvider time, IOptions<ServerOptions> options)
    {
        _store = store;
        _time = time;
        _window = options.Value.AgentPresenceWindow;
    }

    /// <summary>Marks a poll as open until the returned handle is disposed.</summary>
    public async Task<IDisposable> BeginPollAsync(VmKey vm, CancellationToken cancellationToken)
    {
        _activePolls.AddOrUpdate(vm.Key, 1, (_, n) => n + 1);
        await TouchAsync(vm, cancellationToken);
        return new PollHandle(this, vm);
    }

    public async Task TouchAsync(VmKey vm, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        _lastTouch[vm.Key] = now;
        if (_lastStored.TryGetValue(vm.Key, out var stored) && now - stored < TouchInterval)
        {
            return;
        }

        _lastStored[vm.Key] = now;
        try
        {
            await _store.TouchAgentAsync(vm, now, cancellationToken);
        }
        catch (Exception e) when (e is StorageFullException or StorageBusyException)
        {
            // Presence is a hint: on a full disk (or a database too busy to take it) this node still knows the contact (in memory), and the agent's poll,
            // which may bring a cancel, must go on rather than fail.
        }
    }

    /// <summary>How many machines hold a goal-state poll open right now (the <c>runcmd_agents_connected</c> gauge).</summary>
    public int OpenPolls => _activePolls.Count(p => p.Value > 0);

    /// <summary>Connected, Disconnected or NeverConnected.</summary>
    public string StatusOf(VmRecord vm)
    {
        if (_activePolls.TryGetValue(vm.Vm.Key, out var polls) && polls > 0)
        {
            return "Connected";
        }

        var last = LastContact(vm);
        if (last is null)
        {
            return "NeverConnected";
        }

        if (vm.SignedOff is { } signedOff && signedOff >= last.Value)
        {
            return "Disconnected";
        }

        return _time.GetUtcNow() - last.Value <= _window ? "Connected" : "Disconnected";
    }

    /// <summary>
    /// The agent said it is stopping: stored, so every node shows it Disconnected from now on. Its next contact is written
    /// to the store at once (not throttled), so an agent that comes back shows Connected everywhere again.
    /// </summary>
    public async Task SignOffAsync(VmKey vm, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        _lastStored.TryRemove(vm.Key, out _);
        if (_lastTouch.TryGetValue(vm.Key, out var local) && local > now)
        {
            _lastTouch[vm.Key] = now;
        }

        await _store.SignOffAgentAsync(vm, now, cancellationToken);
    }

    public DateTimeOffset? LastContact(VmRecord vm)
    {
        var stored = vm.LastContact;
        if (_lastTouch.TryGetValue(vm.Vm.Key, out var local) && (stored is null || local > stored))
        {
            return local;
        }

        return stored;
    }

    private void EndPoll(VmKey vm)
    {
        _activePolls.AddOrUpdate(vm.Key, 0, (_, n) => Math.Max(0, n - 1));
        _lastTouch[vm.Key] = _time.GetUtcNow();
    }

    private sealed class PollHandle(AgentPresence owner, VmKey vm) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                owner.EndPoll(vm);
            }
        }
    }
}
