using System.Runtime.InteropServices;

namespace RunCommand.Testing;

/// <summary>Looks at processes through /proc: whether one is alive (a zombie counts as gone).</summary>
public static partial class Processes
{
    /// <summary>SIGKILL to a whole process group a test left running (a script in its own session).</summary>
    public static void KillGroup(int pgid) => _ = SysKill(-pgid, 9);

    /// <summary>
    /// SIGKILL to the process group of every process with an argument under <paramref name="dir"/> (a test's scratch
    /// directory): the scripts its agents started, each in a session of its own, which outlive their agent by design.
    /// A script a failed test left waiting for a gate (<see cref="Gate"/>) would otherwise hold its agent's resources
    /// for the rest of the run. Never this process's own group (the agents share it).
    /// </summary>
    public static void KillGroupsUnder(string dir)
    {
        var prefix = Path.TrimEndingDirectorySeparator(dir) + "/";
        var own = GetProcessGroup(0);
        foreach (var entry in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(entry), out var pid))
            {
                continue;
            }

            string[] args;
            try
            {
                args = File.ReadAllText(Path.Combine(entry, "cmdline")).Split('\0');
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue;
            }

            if (args.Any(arg => arg.StartsWith(prefix, StringComparison.Ordinal)) && GetProcessGroup(pid) is var group && group > 1 && group != own)
            {
                KillGroup(group);
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SysKill(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "getpgid", SetLastError = true)]
    private static partial int GetProcessGroup(int pid);

    public static bool IsAlive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var state = stat[(stat.LastIndexOf(')') + 2)..][0];
            return state is not ('Z' or 'X');
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return true;
        }
    }
}
