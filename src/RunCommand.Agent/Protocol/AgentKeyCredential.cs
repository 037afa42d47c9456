using System.Security.Cryptography;
using RunCommand.Contracts.Agents;

namespace RunCommand.Agent.Protocol;

/// <summary>
/// The agent's key-pair credential: signs a fresh assertion (<see cref="AgentAssertion"/>, with its own nonce) for every
/// request, because the server accepts each assertion once. The private key stays in memory and in <c>agent.key</c>;
/// only assertions and the public key ever leave the process. Signing costs about 50 µs, small beside any request.
/// </summary>
public sealed class AgentKeyCredential : IDisposable
{
    private readonly ECDsa _key;
    private readonly TimeProvider _time;

    public AgentKeyCredential(ECDsa key, string vmResourceId, TimeProvider time)
    {
        _key = key;
        VmResourceId = vmResourceId;
        _time = time;
    }

    public string VmResourceId { get; }

    /// <summary>A newly signed assertion for this moment; never the same twice.</summary>
    public string Assertion() => AgentAssertion.Create(_key, VmResourceId, _time.GetUtcNow());

    public void Dispose() => _key.Dispose();
}
