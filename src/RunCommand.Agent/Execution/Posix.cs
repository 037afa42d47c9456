using System.Globalization;
using System.Runtime.InteropServices;

namespace RunCommand.Agent.Execution;

/// <summary>The few libc calls the agent needs, bound at compile time (NativeAOT-safe).</summary>
internal static partial class Posix
{
    public const int SigTerm = 15;
    public const int SigKill = 9;
    public const int ESrch = 3;
    public const int ORdOnly = 0;
    public const int ODirectory = 0x10000;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int KillNative(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "getpgid", SetLastError = true)]
    private static partial int GetPgidNative(int pid);

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "chown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Chown(string path, int uid, int gid);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    public static partial int FSync(int fd);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    /// <summary>kill(2); returns 0 or the errno.</summary>
    public static int Kill(int pid, int signal) => KillNative(pid, signal) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>getpgid(2); returns the group id, or -1 when the process does not exist.</summary>
    public static int GetPgid(int pid) => GetPgidNative(pid);

    /// <summary>
    /// True while the process group has a member that is not a zombie. kill(-pgid, 0) alone is not enough:
    /// an orphaned zombie whose reaper is slow still counts for kill, yet runs nothing.
    /// </summary>
    public static bool IsGroupAlive(int pgid)
    {
        if (Kill(-pgid, 0) == ESrch)
        {
            return false;
        }

        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            var name = Path.GetFileName(dir.AsSpan());
            if (!int.TryParse(name, NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            if (ProcStat.TryRead(pid) is { } stat && stat.ProcessGroup == pgid && stat.State != 'Z' && stat.State != 'X')
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary>The fields of <c>/proc/&lt;pid&gt;/stat</c> the agent uses.</summary>
internal readonly record struct ProcStat(char State, int ProcessGroup, ulong StartTicks)
{
    public static ProcStat? TryRead(int pid)
    {
        string text;
        try
        {
            text = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }

        return Parse(text);
    }

    /// <summary>Parses a stat line; the command name (field 2) may hold spaces and parentheses, so fields start after the last ')'.</summary>
    public static ProcStat? Parse(string text)
    {
        var close = text.LastIndexOf(')');
        if (close < 0)
        {
            return null;
        }

        // Field 3 (state) is the first one after ") ".
        var fields = text[(close + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 20)
        {
            return null;
        }

        return int.TryParse(fields[2], NumberStyles.Integer, CultureInfo.InvariantCulture, out var pgrp)
            && ulong.TryParse(fields[19], NumberStyles.None, CultureInfo.InvariantCulture, out var start)
            ? new ProcStat(fields[0][0], pgrp, start)
            : null;
    }

    /// <summary>True when pid runs (not a zombie) and is the very process that started at <paramref name="startTicks"/>.</summary>
    public static bool IsSameLiveProcess(int pid, ulong startTicks) =>
        TryRead(pid) is { } stat && stat.StartTicks == startTicks && stat.State is not 'Z' and not 'X';
}
