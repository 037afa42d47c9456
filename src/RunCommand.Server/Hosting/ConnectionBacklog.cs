using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;

namespace RunCommand.Server.Hosting;

/// <summary>
/// The listen backlog: connections the kernel has completed that Kestrel has not accepted yet. When a server restarts,
/// its whole fleet reconnects within seconds; .NET's default of 512 then overflows, and the kernel drops the SYNs of
/// every connection beyond it: each of those clients waits for its SYN to be sent again (after 1 s, then 3 s, 7 s...),
/// and an agent's 3 s connect limit turns most of them into failures and back-offs (docs/performance.md, item 10).
/// Linux caps the value at <c>net.core.somaxconn</c> (4096 by default since 5.4; raise it for larger fleets).
/// </summary>
public static class ConnectionBacklog
{
    /// <summary>The backlog asked for; the kernel gives at most <c>net.core.somaxconn</c>.</summary>
    public const int Size = 8192;

    public static void Configure(IWebHostBuilder web) =>
        web.ConfigureServices(services => services.Configure<SocketTransportOptions>(o => o.Backlog = Size));
}
