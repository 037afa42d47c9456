using System.Diagnostics;
using System.Globalization;

namespace RunCommand.Bench.Scenarios;

/// <summary>The baselines figures are compared with: what the same work costs without RunCommand, on this machine, now.</summary>
public static class Baselines
{
    /// <summary>Milliseconds from starting a program to its exit (stdout and stderr discarded).</summary>
    public static async Task<double> RunMsAsync(string program, params string[] args)
    {
        var started = Stopwatch.GetTimestamp();
        var psi = new ProcessStartInfo(program) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            psi.ArgumentList.Add(arg);
        }

        psi.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        await Task.WhenAll(stdout, stderr);
        var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', args)} exited {process.ExitCode}: {await stdout}{await stderr}");
        }

        return elapsed;
    }

    /// <summary>A bare <c>bash -c true</c>: the least any run command can cost.</summary>
    public static Task<double> BashTrueAsync() => RunMsAsync("/bin/bash", "-c", "true");

    /// <summary>
    /// <paramref name="count"/> trivial scripts started all at once the way the agent's wrapper starts one (a
    /// <c>sh</c> that forks the script's <c>bash</c>, waits for it and writes its exit code), without RunCommand: what
    /// running a fleet's scripts costs the machine itself, when the fleet's machines are all this one.
    /// </summary>
    public static Task<double> WrappedScriptsAtOnceMsAsync(int count, string script) =>
        RunMsAsync("/bin/bash", "-c",
            """for i in $(seq "$1"); do sh -c 'c=$(exec bash -c "$1" >/dev/null); echo $? >/dev/null' sh "$2" & done; wait""",
            "bash", count.ToString(CultureInfo.InvariantCulture), script);
}
