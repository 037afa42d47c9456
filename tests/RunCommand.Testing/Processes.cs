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
            return StateIn(File.ReadAllText($"/proc/{pid}/stat")) is not ('Z' or 'X');
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

    /// <summary>The state letter of a /proc stat line (the field after the command name, which may hold spaces and parentheses).</summary>
    private static char StateIn(string stat)
    {
        var end = stat.LastIndexOf(')');
        return end > 0 && end + 2 < stat.Length ? stat[end + 2] : '?';
    }

    /// <summary>
    /// What the kernel says about a process that did not do what a test waited for: its state and signal masks (a
    /// signal pending but blocked, or ignored, shows here), its threads by state and wait channel, and its children.
    /// </summary>
    public static string Describe(int pid)
    {
        try
        {
            var status = File.ReadAllLines($"/proc/{pid}/status")
                .Where(line => line.Split(':')[0] is "State" or "Threads" or "SigPnd" or "ShdPnd" or "SigBlk" or "SigIgn" or "SigCgt")
                .Select(line => line.Replace('\t', ' '));
            var tasks = Directory.GetDirectories($"/proc/{pid}/task");
            var threads = tasks
                .Select(task => (State: StateIn(ReadOrEmpty(Path.Combine(task, "stat"))), Wchan: ReadOrEmpty(Path.Combine(task, "wchan"))))
                .GroupBy(t => $"{t.State} {t.Wchan}")
                .Select(g => $"{g.Count()} x {g.Key}");
            var children = tasks
                .SelectMany(task => ReadOrEmpty(Path.Combine(task, "children")).Split(' ', StringSplitOptions.RemoveEmptyEntries))
                .Select(child => $"{child} ({StateIn(ReadOrEmpty($"/proc/{child}/stat"))})");
            var cgroups = ReadOrEmpty($"/proc/{pid}/cgroup").Replace('\n', ' ');
            return $"pid {pid}: {string.Join("; ", status)}; threads: {string.Join(", ", threads)}; children: {string.Join(" ", children)}; cgroups: {cgroups}";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"pid {pid}: gone ({e.Message})";
        }

        static string ReadOrEmpty(string path)
        {
            try
            {
                return File.ReadAllText(path).Trim();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return "";
            }
        }
    }
}
