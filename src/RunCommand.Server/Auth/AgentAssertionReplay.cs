using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using RunCommand.Contracts.Agents;
using RunCommand.Server.Hosting;
using RunCommand.Storage;

namespace RunCommand.Server.Auth;

/// <summary>
/// Accepts each agent assertion once (docs/agent-protocol.md, "Replay"). An assertion is known by the SHA-256 of its
/// signed payload, which holds a random nonce; it is remembered until its time leaves the accepted window (plus a
/// margin for clocks of other nodes), in memory here, so a replay to this node is refused at once with no database
/// trip, and in the store with an insert-if-absent, so a replay to any other node is refused as well. The inserts are
/// batched: one writer commits every id waiting at that moment in one transaction (group commit) and answers each
/// caller with its own id's outcome, so no use is accepted before its id is in the store and the cross-node check stays
/// exact. A call that must answer soon (<c>deferred: false</c>, every request but a goal-state poll) starts a commit at
/// once; a goal-state poll's id may wait up to <see cref="BatchDelay"/> to share one (the poll awaits it before it
/// answers). Each use is recorded only while its machine still holds the key the assertion verified with, checked in
/// the same transaction (<see cref="IMachineStore.TryUseAgentAssertionsAsync"/>): the caller may have verified with a key
/// kept in memory (<see cref="AgentKeys"/>), and this write is what keeps a revocation or a new enrollment on another node
/// exact, with no read. Expired entries are purged from both about once a minute.
/// </summary>
public sealed class AgentAssertionReplay
{
    /// <summary>Kept beyond the accepted window, so a node whose clock is behind still finds the entry.</summary>
    public static readonly TimeSpan ClockMargin = TimeSpan.FromMinutes(1);

    private static readonly TimeSpan PurgeInterval = TimeSpan.FromMinutes(1);

    private readonly IMachineStore _store;
    private readonly TimeProvider _time;
    private readonly ILogger<AgentAssertionReplay> _logger;
    private readonly ConcurrentDictionary<string, DateTimeOffset> _seen = new(StringComparer.Ordinal);
    private readonly Channel<Use> _queue = Channel.CreateUnbounded<Use>(new UnboundedChannelOptions { SingleReader = true });

    /// <summary>Completed when an id that must not wait is queued: the writer commits without waiting for more.</summary>
    private TaskCompletionSource _urgent = NewSignal();
    private long _nextPurgeTicks;

    public AgentAssertionReplay(IMachineStore store, TimeProvider time, ILogger<AgentAssertionReplay> logger, IOptions<ServerOptions>? options = null)
    {
        _store = store;
        _time = time;
        _logger = logger;
        BatchDelay = (options?.Value ?? new ServerOptions()).AgentAssertionBatchDelay;
        _ = Task.Run(WriteLoopAsync);
    }

    /// <summary>
    /// Longest a deferred id (a goal-state poll's) waits for others to share its commit (<see cref="ServerOptions.AgentAssertionBatchDelay"/>).
    /// A batching latency, measured on the wall clock on purpose: it decides how many ids share a transaction, never
    /// whether one is accepted.
    /// </summary>
    public TimeSpan BatchDelay { get; }

    /// <summary>How many store transactions recorded ids so far (each holds one or more ids).</summary>
    public long Commits => Interlocked.Read(ref _commits);

    private long _commits;

    /// <summary>
    /// <see cref="AgentAssertionOutcome.FirstUse"/> the first time this assertion (its signed <paramref name="payload"/>,
    /// issued at <paramref name="issued"/>) is presented to any node while <paramref name="vm"/> still holds
    /// <paramref name="publicKey"/>, the key it verified with; a replay or a credential gone otherwise. Call it only once
    /// the signature has verified, so nobody but the key's holder can use up an assertion. A replay to this node is
    /// refused at once; otherwise the answer comes once the id is committed, at once or, when <paramref name="deferred"/>,
    /// within <see cref="BatchDelay"/>.
    /// </summary>
    public Task<AgentAssertionOutcome> TryUseAsync(byte[] payload, DateTimeOffset issued, VmKey vm, byte[] publicKey, bool deferred, CancellationToken cancellationToken)
    {
        var id = SHA256.HashData(payload);
        var key = Convert.ToBase64String(id);
        var expires = issued + AgentAssertion.MaxSkew + ClockMargin;
        if (!_seen.TryAdd(key, expires))
        {
            return Task.FromResult(AgentAssertionOutcome.Replayed);
        }

        PurgeIfDue();
        var use = new Use(new AgentAssertionUse(id, expires, vm, publicKey), key,
            new TaskCompletionSource<AgentAssertionOutcome>(TaskCreationOptions.RunContinuationsAsynchronously));
        _queue.Writer.TryWrite(use);
        if (!deferred)
        {
            Volatile.Read(ref _urgent).TrySetResult();
        }

        return use.FirstUse.Task.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// Commits the ids waiting now at once, deferred ones included: a goal-state poll that has something to answer (work
    /// came while its id waited for company) must not wait out <see cref="BatchDelay"/> first.
    /// </summary>
    public void Hurry() => Volatile.Read(ref _urgent).TrySetResult();

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The one writer: takes every id queued, commits them in one go, answers each; forever.</summary>
    private async Task WriteLoopAsync()
    {
        var batch = new List<Use>();
        while (await _queue.Reader.WaitToReadAsync())
        {
            var urgent = Volatile.Read(ref _urgent);
            if (!urgent.Task.IsCompleted)
            {
                await Task.WhenAny(urgent.Task, Task.Delay(BatchDelay));
            }

            // A new signal before taking the queue: an urgent id queued after this point wakes the next round.
            Interlocked.Exchange(ref _urgent, NewSignal());
            batch.Clear();
            while (_queue.Reader.TryRead(out var use))
            {
                batch.Add(use);
            }

            await CommitAsync(batch);
        }
    }

    private async Task CommitAsync(List<Use> batch)
    {
        try
        {
            var outcomes = await _store.TryUseAgentAssertionsAsync(batch.Select(u => u.Assertion).ToList(), CancellationToken.None);
            Interlocked.Increment(ref _commits);
            for (var i = 0; i < batch.Count; i++)
            {
                batch[i].FirstUse.TrySetResult(outcomes[i]);
            }
        }
        catch (StorageFullException e)
        {
            // The database cannot take the entries: this node still refuses their replays (memory); agents keep polling, so a
            // cancel still reaches them. Other nodes cannot see these uses until space returns. The key may have come from
            // memory, so the machine and its key are read (reads work on a full disk): a revoked agent stays refused.
            Log.AssertionReplayStoreUnavailable(_logger, e.InnerException?.Message ?? e.Message);
            foreach (var use in batch)
            {
                await CheckCredentialAsync(use);
            }
        }
        catch (Exception e)
        {
            // Not recorded (database busy or unreachable): each caller fails; the agent's retry signs a new assertion anyway.
            foreach (var use in batch)
            {
                _seen.TryRemove(use.Key, out _);
                use.FirstUse.TrySetException(e);
            }
        }
    }

    /// <summary>Answers a use that could not be recorded: first use if its machine still holds its key, as read now.</summary>
    private async Task CheckCredentialAsync(Use use)
    {
        try
        {
            var assertion = use.Assertion;
            var found = await _store.FindVmAgentKeyAsync(assertion.Vm.ResourceId, CancellationToken.None);
            use.FirstUse.TrySetResult(found is { } machine && machine.Vm.Vm.Key == assertion.Vm.Key && machine.PublicKey.AsSpan().SequenceEqual(assertion.PublicKey)
                ? AgentAssertionOutcome.FirstUse
                : AgentAssertionOutcome.CredentialGone);
        }
        catch (Exception e)
        {
            _seen.TryRemove(use.Key, out _);
            use.FirstUse.TrySetException(e);
        }
    }

    /// <summary>At most once a minute per node, in the background (no request waits for it): forgets expired ids.</summary>
    private void PurgeIfDue()
    {
        var now = _time.GetUtcNow();
        var next = Interlocked.Read(ref _nextPurgeTicks);
        if (now.UtcTicks < next || Interlocked.CompareExchange(ref _nextPurgeTicks, (now + PurgeInterval).UtcTicks, next) != next)
        {
            return;
        }

        _ = Task.Run(async () =>
        {
            foreach (var (key, expires) in _seen)
            {
                if (expires < now)
                {
                    _seen.TryRemove(key, out _);
                }
            }

            try
            {
                await _store.PurgeAgentAssertionsAsync(now, CancellationToken.None);
            }
            catch (Exception e)
            {
                // The next purge takes what this one left (a full or busy database, a node stopping).
                Log.AssertionPurgeFailed(_logger, e.Message);
            }
        });
    }

    private sealed record Use(AgentAssertionUse Assertion, string Key, TaskCompletionSource<AgentAssertionOutcome> FirstUse);
}
