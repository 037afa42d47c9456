using System.Diagnostics;
using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>
/// The README's first walk-through, its commands read from README.md itself and run verbatim by bash (so
/// <c>$(hostname)</c> and quoting behave as for a reader) on a fresh home directory, so the README cannot drift.
/// <c>./runcmd</c> is a shim in a scratch directory running the already built CLI, and <c>up</c> gets a free port.
/// </summary>
public sealed class ReadmeWalkthroughTests : IDisposable
{
    private readonly string _home = Directory.CreateTempSubdirectory("rc-readme-").FullName;

    /// <summary>What each walk-through command must do, by a phrase that identifies it; a new README command needs a line here.</summary>
    private static readonly (string Phrase, Func<string, bool> Output)[] Expected =
    [
        ("run-command create -g default --vm-name $(hostname) -n hello", output => output.Contains("Hello World!", StringComparison.Ordinal)),
        ("run-command show -g default --vm-name $(hostname) -n hello", output => output == "\"Hello World!\\n\"\n"),
        ("run-command list -g default --vm-name $(hostname) -o table", output => output.Contains("hello", StringComparison.Ordinal)),
        ("-n count --no-wait", output => output.Contains("count", StringComparison.Ordinal)),
        ("run-command logs -g default --vm-name $(hostname) -n count --follow", output => output == "1\n2\n3\n"),
        ("run-command delete -g default --vm-name $(hostname) -n hello --yes", output => output == ""),
        ("vm list -o table", output => output.Contains("Connected", StringComparison.Ordinal)),
    ];

    [Fact]
    public async Task Readme_FirstWalkthrough_EveryCommandWorksVerbatim()
    {
        var commands = WalkthroughCommands();
        Assert.Equal("./runcmd up", commands[0]);
        Assert.Equal(Expected.Length, commands.Count - 1);

        var shimDir = Path.Combine(_home, "checkout");
        Directory.CreateDirectory(shimDir);
        var shim = Path.Combine(shimDir, "runcmd");
        await File.WriteAllTextAsync(shim, $"#!/usr/bin/env bash\nexec dotnet '{Repo.CliDll}' \"$@\"\n");
        File.SetUnixFileMode(shim, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var environment = new Dictionary<string, string>
        {
            ["HOME"] = _home,
            ["RUNCMD_CONFIG_DIR"] = Path.Combine(_home, ".runcmd"),
            ["RUNCMD_SERVER_DLL"] = Repo.ServerDll,
            ["RUNCMD_AGENT_DLL"] = Repo.AgentDll,
            ["DOTNET_NOLOGO"] = "1",
        };

        var url = $"http://127.0.0.1:{ServerProcess.FreePort()}";
        await using var up = ChildProcess.StartDotnet("readme-up", Repo.CliDll, ["up", "--urls", url], environment);
        await Wait.UntilAsync(() => up.HasExited
            ? throw new InvalidOperationException("runcmd up exited:\n" + up.Output)
            : up.Output.Contains("-n hello --script", StringComparison.Ordinal), TimeSpan.FromSeconds(120), "runcmd up to be ready");

        foreach (var command in commands.Skip(1))
        {
            var (phrase, check) = Expected.SingleOrDefault(e => command.Contains(e.Phrase, StringComparison.Ordinal));
            Assert.True(phrase is not null, $"README command without an expected outcome in this test: {command}");
            var (exitCode, stdout, stderr) = await BashAsync(command, shimDir, environment);
            Assert.True(exitCode == 0, $"{command}\nexit {exitCode}\n{stdout}\n{stderr}");
            Assert.True(check(stdout), $"{command}\nunexpected output:\n{stdout}\n{stderr}");
        }

        up.Interrupt();
        Assert.Equal(0, await up.WaitForExitAsync(TimeSpan.FromSeconds(30)));
    }

    /// <summary>The <c>$ </c> lines of the console blocks of "## First walk-through", continuation lines joined.</summary>
    private static List<string> WalkthroughCommands()
    {
        var readme = File.ReadAllLines(Path.Combine(Repo.Root, "README.md"));
        var start = Array.IndexOf(readme, "## First walk-through");
        var end = Array.FindIndex(readme, start + 1, line => line.StartsWith("#", StringComparison.Ordinal));
        var commands = new List<string>();
        var inBlock = false;
        string? pending = null;
        foreach (var line in readme[start..end])
        {
            if (line.StartsWith("```", StringComparison.Ordinal))
            {
                inBlock = !inBlock;
                continue;
            }

            if (!inBlock)
            {
                continue;
            }

            var text = pending is not null ? pending + " " + line.Trim() : line.StartsWith("$ ", StringComparison.Ordinal) ? line[2..] : null;
            if (text is null)
            {
                continue;
            }

            pending = text.EndsWith('\\') ? text[..^1].TrimEnd() : null;
            if (pending is null)
            {
                commands.Add(text);
            }
        }

        return commands;
    }

    private static async Task<(int ExitCode, string Stdout, string Stderr)> BashAsync(string command, string workingDirectory, Dictionary<string, string> environment)
    {
        var psi = new ProcessStartInfo("bash")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add(command);
        foreach (var (key, value) in environment)
        {
            psi.Environment[key] = value;
        }

        using var process = Process.Start(psi)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    public void Dispose() => Directory.Delete(_home, recursive: true);
}
