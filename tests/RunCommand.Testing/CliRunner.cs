using System.Diagnostics;

namespace RunCommand.Testing;

/// <summary>Runs the real <c>runcmd</c> CLI as a process with its own config dir.</summary>
public sealed class CliRunner
{
    private readonly string _configDir;

    public CliRunner(string configDir)
    {
        _configDir = configDir;
    }

    public sealed record Result(int ExitCode, string Stdout, string Stderr);

    /// <summary>Environment variables set for every run of the CLI (beside RUNCMD_CONFIG_DIR), e.g. SSL_CERT_FILE.</summary>
    public Dictionary<string, string> Environment { get; } = [];

    /// <summary>
    /// How the CLI is started: <c>dotnet runcmd.dll</c> (the build under test), or the executable named by
    /// <c>RUNCMD_TEST_CLI</c>, so that the same tests check a published build (the NativeAOT binary: docs/native-aot.md).
    /// </summary>
    public static IReadOnlyList<string> Command =>
        System.Environment.GetEnvironmentVariable("RUNCMD_TEST_CLI") is { Length: > 0 } binary ? [binary] : ["dotnet", Repo.CliDll];

    public async Task<Result> RunAsync(params string[] args)
    {
        var psi = new ProcessStartInfo(Command[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var arg in Command.Skip(1).Concat(args))
        {
            psi.ArgumentList.Add(arg);
        }

        psi.Environment["RUNCMD_CONFIG_DIR"] = _configDir;
        psi.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var (name, value) in Environment)
        {
            psi.Environment[name] = value;
        }

        using var process = Process.Start(psi)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return new Result(process.ExitCode, await stdout, await stderr);
    }

    /// <summary>
    /// Runs the CLI with a real terminal as its stdin/stdout (util-linux <c>script</c> allocates a pty), typing
    /// <paramref name="typed"/>; the result's Stdout is everything the terminal showed (stdout and stderr).
    /// </summary>
    public async Task<Result> RunOnTerminalAsync(string typed, params string[] args)
    {
        var command = string.Join(' ', Command.Concat(args).Select(a => "'" + a.Replace("'", "'\\''", StringComparison.Ordinal) + "'"));
        var psi = new ProcessStartInfo("script")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "-q", "-e", "-c", command, "/dev/null" })
        {
            psi.ArgumentList.Add(arg);
        }

        psi.Environment["RUNCMD_CONFIG_DIR"] = _configDir;
        psi.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var (name, value) in Environment)
        {
            psi.Environment[name] = value;
        }

        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.StandardInput.WriteAsync(typed);
        await process.StandardInput.FlushAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        process.StandardInput.Close();
        return new Result(process.ExitCode, (await stdout).ReplaceLineEndings("\n"), await stderr);
    }

    /// <summary>Logs the CLI in to a test server with its admin token.</summary>
    public async Task LoginAsync(ServerProcess server)
    {
        var args = new List<string> { "login", "--server", server.Url, "--token-file", Path.Combine(server.DataDir, "admin.token") };
        if (server.IsHttps)
        {
            args.AddRange(["--ca-cert", server.CaCertFile]);
        }

        var result = await RunAsync([.. args]);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"runcmd login failed ({result.ExitCode}): {result.Stdout}{result.Stderr}");
        }
    }
}
