using System.Diagnostics;
using System.Globalization;
using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>
/// The server listens with a backlog sized for a fleet reconnecting at once after a restart (docs/performance.md,
/// item 10), not .NET's default 512: read from the kernel with <c>ss</c>, whose Send-Q of a listening socket is its backlog.
/// </summary>
public sealed class ConnectionBacklogTests(ApiServerFixture fixture) : IClassFixture<ApiServerFixture>
{
    [Fact]
    public async Task Server_ListensWithTheLargestBacklogTheKernelAllows()
    {
        var port = new Uri(fixture.Server.Url).Port;
        var somaxconn = int.Parse(File.ReadAllText("/proc/sys/net/core/somaxconn").Trim(), CultureInfo.InvariantCulture);
        Assert.True(somaxconn > 512, $"net.core.somaxconn is {somaxconn}: the kernel allows no backlog above .NET's default 512, so this test cannot tell them apart");

        var psi = new ProcessStartInfo("ss", ["-Hltn", $"sport = :{port}"]) { RedirectStandardOutput = true };
        using var ss = Process.Start(psi)!;
        var output = await ss.StandardOutput.ReadToEndAsync();
        await ss.WaitForExitAsync();

        // "LISTEN 0 4096 127.0.0.1:PORT 0.0.0.0:*": state, Recv-Q (waiting to be accepted), Send-Q (the backlog).
        var fields = output.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(fields.Length >= 3 && fields[0] == "LISTEN", $"ss printed no listening socket on port {port}: '{output}'");
        Assert.Equal(Math.Min(8192, somaxconn), int.Parse(fields[2], CultureInfo.InvariantCulture));
    }
}
