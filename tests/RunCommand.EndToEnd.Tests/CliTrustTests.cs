using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>
/// Whom the runcmd process trusts over https: the certificate its login names, alone (so that a fresh process never
/// reads the system trust store), or the system store when the login names none. The "system store" of each CLI
/// process here is set with SSL_CERT_FILE/SSL_CERT_DIR, which the .NET runtime reads on Linux.
/// </summary>
public sealed class CliTrustTests : IAsyncLifetime
{
    private readonly TestScope _scope = new("rc-clitrust-");
    private ServerProcess _server = null!;

    public async Task InitializeAsync() =>
        _server = _scope.Track(await ServerProcess.StartAsync(Path.Combine(_scope.Dir, "server"), https: true));

    [Fact]
    public async Task Login_CaCertIsAnotherCertificateAndTheSystemTrustsTheServer_Refuses()
    {
        var cli = Cli(systemTrustsServer: true);

        var result = await cli.RunAsync("login", "--server", _server.Url, "--token-file", TokenFile, "--ca-cert", OtherCertificate());

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("TLS", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Stderr, StringComparison.Ordinal);
    }

    /// <summary>A call that got past TLS: the server answers that the VM does not exist.</summary>
    private static async Task AssertPastTlsAsync(CliRunner cli)
    {
        var list = await cli.RunAsync("vm", "run-command", "list", "-g", "trust", "--vm-name", "novm");
        Assert.Contains("ResourceNotFound", list.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Show_NoCaCertAndTheSystemTrustsTheServer_Succeeds()
    {
        var cli = Cli(systemTrustsServer: true);
        var login = await cli.RunAsync("login", "--server", _server.Url, "--token-file", TokenFile);
        Assert.True(login.ExitCode == 0, login.Stdout + login.Stderr);

        await AssertPastTlsAsync(cli);
    }

    [Fact]
    public async Task Show_CaCertIsTheServersAndTheSystemDoesNotTrustIt_Succeeds()
    {
        var cli = Cli(systemTrustsServer: false);
        await cli.LoginAsync(_server);

        await AssertPastTlsAsync(cli);
    }

    [Fact]
    public async Task InstallCommand_CaCertGivenAndTheSystemDoesNotTrustTheServer_PinsAndSkipsTheCaCheck()
    {
        // agent install-command asks the real system store whether it trusts the server: only then may curl check
        // the CA; here it does not, so the line must carry -k beside the pin.
        var cli = Cli(systemTrustsServer: false);
        await cli.LoginAsync(_server);

        var line = await cli.RunAsync("vm", "agent", "install-command", "-g", "trust");

        Assert.True(line.ExitCode == 0, line.Stdout + line.Stderr);
        Assert.Contains("curl -fsSL -k --pinnedpubkey 'sha256//", line.Stdout, StringComparison.Ordinal);
    }

    public async Task DisposeAsync() => await _scope.DisposeAsync();

    private string TokenFile => Path.Combine(_server.DataDir, "admin.token");

    private CliRunner Cli(bool systemTrustsServer)
    {
        var cli = new CliRunner(Path.Combine(_scope.Dir, "cli-" + Guid.NewGuid().ToString("N")));
        if (systemTrustsServer)
        {
            cli.Environment["SSL_CERT_FILE"] = _server.CaCertFile;
            cli.Environment["SSL_CERT_DIR"] = "";
        }

        return cli;
    }

    /// <summary>A self-signed certificate for 127.0.0.1 that is not the server's.</summary>
    private string OtherCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=127.0.0.1", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(System.Net.IPAddress.Loopback);
        request.CertificateExtensions.Add(names.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        var path = Path.Combine(_scope.Dir, "other.crt");
        File.WriteAllText(path, certificate.ExportCertificatePem());
        return path;
    }
}
