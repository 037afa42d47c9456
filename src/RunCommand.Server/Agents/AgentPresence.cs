using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using RunCommand.Server.Hosting;
using RunCommand.Storage;

namespace RunCommand.Server.Agents;

/// <summary>
/// Whether a VM's agent is there. An agent holding a long poll on this node is connected; so is one whose poll another
/// node holds while that node's lease runs (<see cref="VmRecord.HeldUntil"/>); otherwise the last contact recorded in
/// the store decides, within the presence window. A node writes an agent's first contact (and its first after a sign-off)
/// to the store at once; every later one goes in the batched writes of <see cref="WriteContactsAsync"/>
/// (<see cref="AgentPresenceWriter"/>, every few seconds): a contact newer than the stored one, a poll's start here
/// (the node claims it: <c>vms.held_by</c>) and its end (the claim ends). A poll held for minutes needs no write while
/// it is held: the node renews its own lease, one row, and every node counts the polls it holds as contact. So an idle
/// fleet costs a write per agent per poll, not one every few seconds (docs/scale-out.md, "Agent presence"). A node that
/// dies stops renewing: its machines count by their last contact and show Disconnected when the window runs out. An
/// agent that stops cleanly signs off (<see cref="SignOffAsync"/>): it is Disconnected at once, on every node, until it
/// calls again.
/// </summary>
public sealed class AgentPresence
{
    /// <summary>A contact older than the stored one by at least this much is written (so reports do not each write).</summary>
    private static readonly TimeSpan TouchInterval = TimeSpan.FromSeconds(10);

    private readonly ConcurrentDictionary<string, (VmKey Vm, int Polls)> _activePolls = new(StringComparer.Ordinal);
    /// <summary>The latest contact seen by this node (a poll's start or end, a report).</summary>
    private readonly ConcurrentDictionary<string, (VmKey Vm, DateTimeOffset At)> _lastTouch = new(StringComparer.Ordinal);

    /// <summary>
    /// What this node last wrote to the store for the VM: the contact, and whether it claimed the agent's poll (absent:
    /// none yet, or signed off since).
    /// </summary>
    private readonly ConcurrentDictionary<string, StoredContact> _lastStored = new(StringComparer.Ordinal);
    private readonly IMachineStore _store;
    private readonly ILeaseStore _leases;
    private readonly string _node;
    private readonly TimeProvider _time;
    private readonly TimeSpan _window;

    public AgentPresence(IMachineStore store, ILeaseStore leases, WorkLeases node, TimeProvider time, IOptions<ServerOptions> options)
    {
        _store = store;
        _leases = leases;
        _node = node.NodeId;
        _time = time;
        _window = options.Value.AgentPresenceWindow;
    }

    /// <summary>How often <see cref="AgentPresenceWriter"/> writes contacts: every 10 s, or a fifth of a shorter window.</summary>
    public TimeSpan WriteInterval => _window / 5 < TouchInterval ? _window / 5 : TouchInterval;

    /// <summary>Marks a poll as open until the returned handle is disposed.</summary>
    public async Task<IDisposable> BeginPollAsync(VmKey vm, CancellationToken cancellationToken)
    {
        var polls = _activePolls.AddOrUpdate(vm.Key, (vm, 1), (_, p) => (vm, p.Polls + 1)).Polls;
        if (polls == 1 && _lastStored.TryGetValue(vm.Key, out var stored) && stored.Held)
        {
            // A new poll after none: claim it again with the next batch, as another node may have claimed the agent's
            // poll in between (and ended that claim since).
            _lastStored.TryUpdate(vm.Key, stored with { Held = false }, stored);
        }

        try
        {
            await TouchAsync(vm, cancellationToken);
        }
        catch
        {
            // No handle reaches the caller, so nothing else would end this poll: the agent left while its contact was
            // written (the request aborted), or the database failed. Counted on, it would show the machine Connected
            // for as long as this node lives.
            EndPoll(vm);
            throw;
        }

        return new PollHandle(this, vm);
    }

    public async Task TouchAsync(VmKey vm, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        _lastTouch[vm.Key] = (vm, now);
        if (_lastStored.ContainsKey(vm.Key))
        {
            // Written with the next batch (WriteContactsAsync).
            return;
        }

        var held = IsHeldHere(vm.Key);
        _lastStored[vm.Key] = new StoredContact(now, held);
        await WriteAsync([(new AgentContact(vm, now, held), null)], cancellationToken);
    }

    /// <summary>
    /// One batch of this node's contacts to the store: for each poll held here and not yet claimed, a claim (at now); for
    /// each claimed poll that ended, its end; for each other contact, the contact when it is at least
    /// <see cref="TouchInterval"/> newer than the one stored. Only VMs whose first contact this node has written: the
    /// others are written at once by <see cref="TouchAsync"/>. Then, while this node holds polls, its lease is renewed
    /// for the presence window.
    /// </summary>
    public async Task WriteContactsAsync(CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        var due = new List<(AgentContact Contact, StoredContact? Before)>();
        var holds = false;
        foreach (var (key, (vm, at)) in _lastTouch)
        {
            // None stored: signed off since (a poll ending after the sign-off must not bring it back), or its first write
            // failed; the agent's next call writes at once (TouchAsync).
            if (!_lastStored.TryGetValue(key, out var stored))
            {
                continue;
            }

            var held = IsHeldHere(key);
            holds |= held;
            var contact = held ? now : at;
            if (held ? !stored.Held : stored.Held || at - stored.Contact >= TouchInterval)
            {
                _lastStored[key] = new StoredContact(contact, held);
                due.Add((new AgentContact(vm, contact, held), stored));
            }
        }

        if (due.Count > 0)
        {
            await WriteAsync(due, cancellationToken);
        }

        if (holds)
        {
            await _leases.TryHoldAsync(LeaseKind.Node, _node, _node, now, now + _window, cancellationToken);
        }
    }

    /// <summary>Gives up this node's lease (the server stops): the polls it held count by their last contact from now on.</summary>
    public Task ReleaseAsync(CancellationToken cancellationToken) => _leases.ReleaseAsync(LeaseKind.Node, _node, _node, cancellationToken);

    private bool IsHeldHere(string key) => _activePolls.TryGetValue(key, out var p) && p.Polls > 0;

    /// <summary>
    /// Writes <paramref name="due"/> contacts. When the store cannot take them, each VM's stored state goes back to what
    /// it was before (<c>Before</c>; none: its first contact, which the agent's next call writes at once), so the next
    /// batch writes them again: a poll's end above all, or a live node's lease would keep vouching for a poll gone. A
    /// full disk or a busy database is no error here; any other failure (the database unreachable) is thrown on.
    /// </summary>
    private async Task WriteAsync(IReadOnlyList<(AgentContact Contact, StoredContact? Before)> due, CancellationToken cancellationToken)
    {
        try
        {
            await _store.TouchAgentsAsync([.. due.Select(d => d.Contact)], _node, cancellationToken);
        }
        catch (Exception e)
        {
            foreach (var (contact, before) in due)
            {
                if (before is { } stored)
                {
                    _lastStored[contact.Vm.Key] = stored;
                }
                else
                {
                    _lastStored.TryRemove(contact.Vm.Key, out _);
                }
            }

            // Presence is a hint: on a full disk (or a database too busy to take it) this node still knows the contact
            // (in memory), and the agent's poll, which may bring a cancel, must go on rather than fail.
            if (e is not (StorageFullException or StorageBusyException))
            {
                throw;
            }
        }
    }

    /// <summary>How many machines hold a goal-state poll open right now (the <c>runcmd_agents_connected</c> gauge).</summary>
    public int OpenPolls => _activePolls.Count(p => p.Value.Polls > 0);

    /// <summary>Connected, Disconnected or NeverConnected.</summary>
    public string StatusOf(VmRecord vm)
    {
        if (IsHeldHere(vm.Vm.Key) || vm.HeldUntil > _time.GetUtcNow())
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
    /// to the store at once (not batched), so an agent that comes back shows Connected everywhere again.
    /// </summary>
    public async Task SignOffAsync(VmKey vm, CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        _lastStored.TryRemove(vm.Key, out _);
        _lastTouch.TryRemove(vm.Key, out _);
        await _store.SignOffAgentAsync(vm, now, cancellationToken);
    }

    public DateTimeOffset? LastContact(VmRecord vm)
    {
        var stored = vm.LastContact;
        if (_lastTouch.TryGetValue(vm.Vm.Key, out var local) && (stored is null || local.At > stored))
        {
            return local.At;
        }

        return stored;
    }

    private void EndPoll(VmKey vm)
    {
        _activePolls.AddOrUpdate(vm.Key, (vm, 0), (_, p) => (vm, Math.Max(0, p.Polls - 1)));
        _lastTouch[vm.Key] = (vm, _time.GetUtcNow());
    }

    /// <summary>What this node last wrote to the store for a VM: its contact, and whether the write claimed the agent's poll.</summary>
    private readonly record struct StoredContact(DateTimeOffset Contact, bool Held);

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
