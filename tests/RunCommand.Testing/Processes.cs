using System.Runtime.InteropServices;

namespace RunCommand.Testing;

/// <summary>Looks at processes through /proc: whether one is alive (a zombie counts as gone).</summary>
public static partial class Processes
{
    /// <summary>SIGKILL to a whole process group a test left running (a script in its own session).</summary>
    public static void KillGroup(int pgid) => _ = SysKill(-pgid, 9);

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SysKill(int pid, int signal);

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
