using System.Security.Cryptography;
using RunCommand.Contracts.Agents;

namespace RunCommand.Agent.Protocol;

/// <summary>
/// The agent's key-pair credential: signs short-lived assertions (<see cref="AgentAssertion"/>) for its machine. The
/// private key stays in memory and in <c>agent.key</c>; only assertions and the public key ever leave the process.
/// </summary>
public sealed class AgentKeyCredential : IDisposable
{
    /// <summary>How long one assertion is reused before a fresh one is signed (the server accepts 5 minutes of skew).</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(60);

    private readonly ECDsa _key;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private string? _assertion;
    private DateTimeOffset _signed;

    public AgentKeyCredential(ECDsa key, string vmResourceId, TimeProvider time)
    {
        _key = key;
        VmResourceId = vmResourceId;
        _time = time;
    }

    public string VmResourceId { get; }

    /// <summary>The current assertion: the cached one while younger than <see cref="Lifetime"/>, else a freshly signed one.</summary>
    public string Assertion()
    {
        var now = _time.GetUtcNow();
        lock (_lock)
        {
            if (_assertion is null || now - _signed >= Lifetime || now < _signed)
            {
                _assertion = AgentAssertion.Create(_key, VmResourceId, now);
                _signed = now;
            }

            return _assertion;
        }
    }

    public void Dispose() => _key.Dispose();
}
