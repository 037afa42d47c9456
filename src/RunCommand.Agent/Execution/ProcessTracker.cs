using System.Globalization;
using Microsoft.Extensions.Logging;

namespace RunCommand.Agent.Execution;

/// <summary>How the agent finds every process of an execution again, to end them together on timeout and cancel.</summary>
public enum ProcessTrackingMode
{
    /// <summary>The wrapper's process group only: a process that calls setsid(2) or setpgid(2) (or double-forks into a new session) escapes.</summary>
    ProcessGroup,

    /// <summary>A cgroup v2 per execution, ended at once with <c>cgroup.kill</c> (Linux 5.14+). Nothing escapes it.</summary>
    CgroupV2Kill,

    /// <summary>A cgroup v2 per execution on a kernel without <c>cgroup.kill</c>: frozen, every member sent SIGKILL, thawed.</summary>
    CgroupV2Freeze,

    /// <summary>A cgroup of the v1 freezer hierarchy per execution: frozen, every member sent SIGKILL, thawed.</summary>
    CgroupV1Freezer,
}

/// <summary>
/// Puts each execution in a cgroup of its own where the machine allows it (under the agent's own cgroup: the
/// subtree systemd delegates to the unit, or any cgroup when the agent is root), so a script's process that leaves
/// its process group is still found and killed. The process group is always signalled too: it is the fallback when
/// no cgroup can be made, and it covers the instant between spawn and the wrapper joining its cgroup.
/// </summary>
internal sealed class ProcessTracker
{
    private const string ProcsFile = "cgroup.procs";

    /// <summary>Directory under which the per-execution cgroups are made; null for <see cref="ProcessTrackingMode.ProcessGroup"/>.</summary>
    private readonly string? _root;

    private ProcessTracker(ProcessTrackingMode mode, string? root)
    {
        Mode = mode;
        _root = root;
    }

    public ProcessTrackingMode Mode { get; }

    /// <summary>Where the per-execution cgroups go (for the log), or null.</summary>
    public string? Root => _root;

    public static ProcessTracker ProcessGroupOnly { get; } = new(ProcessTrackingMode.ProcessGroup, null);

    /// <summary>
    /// Picks the best mechanism this machine allows, in the order of <see cref="ProcessTrackingMode"/> (best last),
    /// or exactly <paramref name="wanted"/> when given (falling back to the process group when it is not available).
    /// Each candidate is proven by making and removing a cgroup.
    /// </summary>
    public static ProcessTracker Detect(ProcessTrackingMode? wanted = null)
    {
        if (wanted == ProcessTrackingMode.ProcessGroup)
        {
            return ProcessGroupOnly;
        }

        var mounts = ReadOrEmpty("/proc/self/mountinfo");
        var memberships = ReadOrEmpty("/proc/self/cgroup");
        if ((wanted is null or ProcessTrackingMode.CgroupV2Kill or ProcessTrackingMode.CgroupV2Freeze)
            && CgroupDirectory(mounts, memberships, v2: true) is { } v2Own)
        {
            var root = Path.Combine(v2Own, "runcommand");
            if (TryProbe(root, out var probe))
            {
                var hasKill = File.Exists(Path.Combine(probe, "cgroup.kill"));
                var hasFreeze = File.Exists(Path.Combine(probe, "cgroup.freeze"));
                TryRemoveDirectory(probe);
                if (hasKill && (wanted is null or ProcessTrackingMode.CgroupV2Kill))
                {
                    return new ProcessTracker(ProcessTrackingMode.CgroupV2Kill, root);
                }

                if (hasFreeze && (wanted is null or ProcessTrackingMode.CgroupV2Freeze))
                {
                    return new ProcessTracker(ProcessTrackingMode.CgroupV2Freeze, root);
                }
            }
        }

        if ((wanted is null or ProcessTrackingMode.CgroupV1Freezer) && CgroupDirectory(mounts, memberships, v2: false) is { } v1Own)
        {
            var root = Path.Combine(v1Own, "runcommand");
            if (TryProbe(root, out var probe))
            {
                var hasState = File.Exists(Path.Combine(probe, "freezer.state"));
                TryRemoveDirectory(probe);
                if (hasState)
                {
                    return new ProcessTracker(ProcessTrackingMode.CgroupV1Freezer, root);
                }
            }
        }

        return ProcessGroupOnly;
    }

    /// <summary>
    /// Makes the cgroup of one execution, before its script starts. Returns its directory, or null when it cannot be
    /// made (the process group alone then tracks the script; the reason is logged).
    /// </summary>
    public string? CreateCgroup(string executionId, ILogger logger)
    {
        if (_root is null)
        {
            return null;
        }

        var path = Path.Combine(_root, executionId);
        try
        {
            Directory.CreateDirectory(path);
            return path;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.CgroupUnavailable(logger, executionId, path, e.Message);
            return null;
        }
    }

    /// <summary>True while the group or the cgroup holds a process that is not a zombie.</summary>
    public static bool IsAlive(int pgid, string? cgroup) => Posix.IsGroupAlive(pgid) || (cgroup is not null && Members(cgroup).Count > 0);

    /// <summary>The gentle signal (SIGTERM): to the process group and to each member of the cgroup.</summary>
    public static void Terminate(int pgid, string? cgroup)
    {
        _ = Posix.Kill(-pgid, Posix.SigTerm);
        if (cgroup is not null)
        {
            foreach (var pid in Members(cgroup))
            {
                _ = Posix.Kill(pid, Posix.SigTerm);
            }
        }
    }

    /// <summary>SIGKILL to the process group and to everything in the cgroup, in the strongest way the cgroup offers.</summary>
    public async Task KillAsync(int pgid, string? cgroup, TimeProvider time)
    {
        _ = Posix.Kill(-pgid, Posix.SigKill);
        if (cgroup is null || !Directory.Exists(cgroup))
        {
            return;
        }

        var killFile = Path.Combine(cgroup, "cgroup.kill");
        if (Mode == ProcessTrackingMode.CgroupV2Kill && TryWrite(killFile, "1"))
        {
            return;
        }

        // No cgroup.kill: freeze first, so no member can fork between reading the list and the signals.
        var v2 = File.Exists(Path.Combine(cgroup, "cgroup.freeze"));
        var frozen = v2 ? TryWrite(Path.Combine(cgroup, "cgroup.freeze"), "1") : TryWrite(Path.Combine(cgroup, "freezer.state"), "FROZEN");
        if (frozen)
        {
            await WaitFrozenAsync(cgroup, v2, time);
        }

        foreach (var pid in Members(cgroup))
        {
            _ = Posix.Kill(pid, Posix.SigKill);
        }

        // Thawed, the killed members die at once (a v1 frozen task only handles its SIGKILL when thawed).
        _ = v2 ? TryWrite(Path.Combine(cgroup, "cgroup.freeze"), "0") : TryWrite(Path.Combine(cgroup, "freezer.state"), "THAWED");
    }

    /// <summary>
    /// Removes the empty cgroups under the root whose names start with <paramref name="prefix"/> and that
    /// <paramref name="isLeftover"/> says no live process will use (left by a killed agent).
    /// </summary>
    public void RemoveLeftovers(string prefix, Func<string, bool> isLeftover)
    {
        if (_root is null)
        {
            return;
        }

        try
        {
            foreach (var cgroup in Directory.EnumerateDirectories(_root, prefix + "*").Where(c => isLeftover(Path.GetFileName(c))))
            {
                TryRemove(cgroup);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The root is unreadable: nothing is left that this agent could remove.
        }
    }

    /// <summary>Removes an execution's cgroup once it is empty; a process the script left running keeps it until it ends.</summary>
    public static void TryRemove(string? cgroup)
    {
        if (cgroup is not null && Members(cgroup).Count == 0)
        {
            TryRemoveDirectory(cgroup);
        }
    }

    /// <summary>Pids in a cgroup (none when it is gone or unreadable).</summary>
    internal static IReadOnlyList<int> Members(string cgroup)
    {
        var pids = new List<int>();
        foreach (var line in ReadOrEmpty(Path.Combine(cgroup, ProcsFile)).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (int.TryParse(line, NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                pids.Add(pid);
            }
        }

        return pids;
    }

    /// <summary>
    /// The directory of this process's own cgroup: in the cgroup2 hierarchy (<c>0::/path</c>), or in the v1 one that
    /// has the freezer controller (<c>N:freezer:/path</c>); null when that hierarchy is not mounted.
    /// </summary>
    internal static string? CgroupDirectory(string mountInfo, string memberships, bool v2)
    {
        string? own = null;
        foreach (var line in memberships.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = line.Split(':', 3);
            if (parts.Length == 3 && (v2 ? parts[0] == "0" && parts[1].Length == 0 : parts[1].Split(',').Contains("freezer")))
            {
                own = parts[2];
            }
        }

        if (own is null)
        {
            return null;
        }

        foreach (var line in mountInfo.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            // "id parent major:minor root mountpoint options [optional...] - fstype source superoptions"
            var fields = line.Split(' ');
            var dash = Array.IndexOf(fields, "-");
            if (dash < 5 || dash + 3 > fields.Length)
            {
                continue;
            }

            var matches = v2
                ? fields[dash + 1] == "cgroup2"
                : fields[dash + 1] == "cgroup" && fields[dash + 3].Split(',').Contains("freezer");
            if (!matches)
            {
                continue;
            }

            // Inside a cgroup namespace the mount's root may be below the hierarchy's root.
            var mountRoot = fields[3];
            var relative = mountRoot == "/" ? own : own.StartsWith(mountRoot, StringComparison.Ordinal) ? own[mountRoot.Length..] : own;
            return fields[4] + relative.TrimEnd('/');
        }

        return null;
    }

    private static bool TryProbe(string root, out string probe)
    {
        probe = Path.Combine(root, $"probe-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            Directory.CreateDirectory(root);
            Directory.CreateDirectory(probe);
            return File.Exists(Path.Combine(probe, ProcsFile));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static async Task WaitFrozenAsync(string cgroup, bool v2, TimeProvider time)
    {
        // Freezing takes a moment per task; a task stuck in the kernel may never freeze: the kills go out anyway.
        for (var attempt = 0; attempt < 100; attempt++)
        {
            var done = v2
                ? ReadOrEmpty(Path.Combine(cgroup, "cgroup.events")).Contains("frozen 1", StringComparison.Ordinal)
                : ReadOrEmpty(Path.Combine(cgroup, "freezer.state")).Trim() == "FROZEN";
            if (done)
            {
                return;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(10), time);
        }
    }

    private static bool TryWrite(string path, string value)
    {
        try
        {
            File.WriteAllText(path, value);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static void TryRemoveDirectory(string path)
    {
        try
        {
            // rmdir(2): a cgroup directory goes with its control files once it has no member.
            Directory.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Still populated or already gone: left for the next removal.
        }
    }

    private static string ReadOrEmpty(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }
}
