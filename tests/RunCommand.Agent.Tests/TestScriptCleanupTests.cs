using System.Diagnostics;
using RunCommand.Testing;

namespace RunCommand.Agent.Tests;

/// <summary>
/// The test harness's own cleanup (<see cref="Processes.KillGroupsUnder"/>): a script a failed test left running is
/// killed with its whole group when the test's directory goes, and nothing in the test host's own group is.
/// </summary>
public sealed class TestScriptCleanupTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rc-cleanup-").FullName;
    private readonly List<Process> _started = [];

    public void Dispose()
    {
        foreach (var process in _started)
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            process.Dispose();
        }

        Directory.Delete(_dir, recursive: true);
    }

    private Process Start(string program, params string[] args)
    {
        var start = new ProcessStartInfo(program) { UseShellExecute = false };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        var process = Process.Start(start)!;
        _started.Add(process);
        return process;
    }

    [Fact]
    public async Task KillGroupsUnder_KillsAScriptsSessionUnderTheDirectory_NotTheHostsGroupNorOtherDirectories()
    {
        // A script as an agent starts it: a session of its own, its path under the directory, a child polling a gate.
        var script = Start("setsid", "/bin/sh", "-c", "sleep 300 & while [ ! -e gate ]; do sleep 0.05; done", Path.Combine(_dir, "executions", "script"));
        var sameGroup = Start("/bin/sh", "-c", "sleep 300", Path.Combine(_dir, "in-the-host-group"));
        var elsewhere = Start("setsid", "/bin/sh", "-c", "sleep 300", _dir + "-other/script");
        await Wait.UntilAsync(() => LongSleep(script.Id) is not null, TimeSpan.FromSeconds(20), "the script's child to start");
        var child = LongSleep(script.Id)!.Value;

        Processes.KillGroupsUnder(_dir);

        await Wait.UntilAsync(() => script.HasExited && !Processes.IsAlive(child), TimeSpan.FromSeconds(20), "the script and its child to be killed");
        Assert.True(Processes.IsAlive(sameGroup.Id), "a process of the test host's own group was killed");
        Assert.True(Processes.IsAlive(elsewhere.Id), "a process under another directory was killed");
    }

    /// <summary>The <c>sleep 300</c> child of <paramref name="pid"/>, once it runs.</summary>
    private static int? LongSleep(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/task/{pid}/children").Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse)
                .Where(child => File.ReadAllText($"/proc/{child}/cmdline") == "sleep\0300\0").Cast<int?>().FirstOrDefault();
        }
        catch (IOException)
        {
            // A child ended between the listing and the read: look again.
            return null;
        }
    }
}
