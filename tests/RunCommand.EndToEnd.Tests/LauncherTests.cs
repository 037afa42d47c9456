using System.Diagnostics;
using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>The ./runcmd launcher on a fresh copy of the sources: a first build that says what it does, and only what the command needs.</summary>
public sealed class LauncherTests : IDisposable
{
    private readonly string _copy = Path.Combine(Path.GetTempPath(), "runcmd-launcher-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public async Task FirstRun_ShowsBuildProgressBuildsOnlyTheCliThenRunsWithoutBuilding_EvenAfterNpmMadeThePortalsModules()
    {
        Directory.CreateDirectory(_copy);
        CopyDirectory(Path.Combine(Repo.Root, "src"), Path.Combine(_copy, "src"));
        foreach (var file in new[] { "Directory.Build.props", "Directory.Packages.props", "global.json", "runcmd", "RunCommand.slnx" })
        {
            File.Copy(Path.Combine(Repo.Root, file), Path.Combine(_copy, file));
        }

        var first = await RunAsync("--version");
        // The server's build (./runcmd up builds it after the CLI) runs npm, which creates the portal's node_modules:
        // that is no source of the CLI's, so the next command must not build again.
        Directory.CreateDirectory(Path.Combine(_copy, "src", "RunCommand.Portal", "node_modules"));
        var second = await RunAsync("--version");

        Assert.True(first.ExitCode == 0, first.Stderr);
        Assert.Contains("building RunCommand, first run only", first.Stderr, StringComparison.Ordinal);
        Assert.Contains("built RunCommand.Contracts", first.Stderr, StringComparison.Ordinal);
        Assert.Contains("built RunCommand.Cli", first.Stderr, StringComparison.Ordinal);
        var built = Directory.GetDirectories(Path.Combine(_copy, "artifacts", "bin")).Select(Path.GetFileName).ToList();
        Assert.DoesNotContain(built, name => name!.Contains("Tests", StringComparison.Ordinal) || name.Contains("Bench", StringComparison.Ordinal));
        Assert.DoesNotContain("RunCommand.Server", built);
        Assert.True(second.ExitCode == 0, second.Stderr);
        Assert.Equal("", second.Stderr);
        Assert.Equal(first.Stdout, second.Stdout);
    }

    private async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(params string[] args)
    {
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(_copy, "runcmd"));
        foreach (var arg in args)
        {
            psi.ArgumentList.Add(arg);
        }

        psi.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(10));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Copies the sources, without the portal's node_modules (npm's, not a source; the CLI never needs it).</summary>
    private static void CopyDirectory(string from, string to)
    {
        static bool IsSource(string path) => !path.Split(Path.DirectorySeparatorChar).Contains("node_modules");

        foreach (var dir in Directory.GetDirectories(from, "*", SearchOption.AllDirectories).Where(IsSource))
        {
            Directory.CreateDirectory(dir.Replace(from, to, StringComparison.Ordinal));
        }

        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories).Where(IsSource))
        {
            File.Copy(file, file.Replace(from, to, StringComparison.Ordinal));
        }
    }

    public void Dispose()
    {
        if (Directory.Exists(_copy))
        {
            Directory.Delete(_copy, recursive: true);
        }
    }
}
