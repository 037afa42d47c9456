using System.Collections.Concurrent;
using System.Security.Cryptography;
using RunCommand.Contracts.Agents;
using RunCommand.Storage;

namespace RunCommand.Server.Auth;

/// <summary>
/// Accepts each agent assertion once (docs/agent-protocol.md, "Replay"). An assertion is known by the SHA-256 of its
/// signed payload, which holds a random nonce; it is remembered until its time leaves the accepted window (plus a
/// margin for clocks of other nodes), in memory here, so a replay to this node costs no database trip, and in the store
/// with an insert-if-absent, so a replay to any other node is refused as well. Expired entries are purged from both
/// about once a minute.
/// </summary>
public sealed class AgentAssertionReplay(IMachineStore store, TimeProvider time, ILogger<AgentAssertionReplay> logger)
{
    /// <summary>Kept beyond the accepted window, so a node whose clock is behind still finds the entry.</summary>
    public static readonly TimeSpan ClockMargin = TimeSpan.FromMinutes(1);

    private static readonly TimeSpan PurgeInterval = TimeSpan.FromMinutes(1);

    private readonly ConcurrentDictionary<string, DateTimeOffset> _seen = new(StringComparer.Ordinal);
    private long _nextPurgeTicks;

    /// <summary>
    /// True the first time this assertion (its signed <paramref name="payload"/>, issued at <paramref name="issued"/>)
    /// is presented to any node; false for a replay. Call it only once the signature has verified, so nobody but the
    /// key's holder can use up an assertion.
    /// </summary>
    public async Task<bool> TryUseAsync(byte[] payload, DateTimeOffset issued, CancellationToken cancellationToken)
    {
        var id = SHA256.HashData(payload);
        var key = Convert.ToBase64String(id);
        var expires = issued + AgentAssertion.MaxSkew + ClockMargin;
        if (!_seen.TryAdd(key, expires))
        {
            return false;
        }

        PurgeIfDue();
        try
        {
            return await store.TryUseAgentAssertionAsync(id, expires, cancellationToken);
        }
        catch (StorageFullException e)
        {
            // The database cannot take the entry: this node still refuses the replay (memory); agents keep polling, so a
            // cancel still reaches them. Other nodes cannot see this use until space returns.
            Log.AssertionReplayStoreUnavailable(logger, e.InnerException?.Message ?? e.Message);
            return true;
        }
        catch
        {
            // Not recorded (database busy or unreachable, request aborted): the agent's retry signs a new assertion anyway.
            _seen.TryRemove(key, out _);
            throw;
        }
    }

    /// <summary>At most once a minute per node, in the background (no request waits for it): forgets expired ids.</summary>
    private void PurgeIfDue()
    {
        var now = time.GetUtcNow();
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
                await store.PurgeAgentAssertionsAsync(now, CancellationToken.None);
            }
            catch (Exception e)
            {
                // The next purge takes what this one left (a full or busy database, a node stopping).
                Log.AssertionPurgeFailed(logger, e.Message);
            }
        });
    }
}
