namespace RunCommand.Cli.Tests;

/// <summary>
/// Runs <c>runcmd</c> verbs in process against a fake ARM server, each test class with its own config dir
/// (RUNCMD_CONFIG_DIR is process-wide, hence the shared collection that keeps these classes sequential).
/// </summary>
public abstract class InProcessCliTest : IDisposable
{
    protected const string Sub = "00000000-0000-0000-0000-000000000001";

    private readonly string? _previousConfigDir = Environment.GetEnvironmentVariable("RUNCMD_CONFIG_DIR");

    protected InProcessCliTest()
    {
        Directory.CreateDirectory(ConfigDirectory);
        Environment.SetEnvironmentVariable("RUNCMD_CONFIG_DIR", ConfigDirectory);
    }

    protected string ConfigDirectory { get; } = Path.Combine(Path.GetTempPath(), "runcmd-cli-" + Guid.NewGuid().ToString("N"));

    protected static Task<(int ExitCode, string Output, string Error)> RunAsync(params string[] args) =>
        RunAsync(CancellationToken.None, args);

    /// <summary>Runs a verb; <paramref name="interrupted"/> is what Ctrl-C cancels in the real program.</summary>
    protected static async Task<(int ExitCode, string Output, string Error)> RunAsync(CancellationToken interrupted, params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exitCode = await CliApp.RunAsync(args, output, error, interrupted);
        return (exitCode, output.ToString(), error.ToString());
    }

    /// <summary>Logs in to the fake server with the token "tok".</summary>
    protected async Task LoginAsync(FakeArmServer server)
    {
        var tokenFile = Path.Combine(ConfigDirectory, "admin.token");
        await File.WriteAllTextAsync(tokenFile, "tok\n");
        var (exitCode, _, error) = await RunAsync("login", "--server", server.Url.ToString(), "--token-file", tokenFile);
        Assert.True(exitCode == 0, error);
    }

    public void Dispose()
    {
        Environment.SetEnvironmentVariable("RUNCMD_CONFIG_DIR", _previousConfigDir);
        Directory.Delete(ConfigDirectory, recursive: true);
        GC.SuppressFinalize(this);
    }
}
