using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace RunCommand.Agent.Execution;

/// <summary>
/// A wrapper spawned ahead of its script: a <c>/bin/sh</c> in a session of its own that has already joined a fresh
/// cgroup and waits on its stdin (the agent's pipe) for the launch it will carry out. Joining a cgroup waits for a kernel
/// RCU grace period unless another join happened a few milliseconds before (10-17 ms at the median on this kind of
/// machine, docs/performance.md, item 39), which a spare pays while nothing waits for it, as it pays the fork of the
/// script's process (item 49); a launch then costs a write into the pipe and one exec. The spare does what
/// <see cref="ProcessLauncher.WrapperScript"/> does, in the same order of guarantees: the cgroup before the script
/// exists, its stdio into the execution's files, the working directory, the exit code in one write; and it is the same
/// shell, so the script cannot tell them apart.
/// </summary>
internal sealed class SpareWrapper : IDisposable
{
    /// <summary>
    /// The spare's program. Constant text. Once in its cgroup the spare forks the child that will become the script
    /// (a command substitution, so the child keeps the pipe as its stdin and default signal dispositions, which an
    /// asynchronous list would not), and the child waits on the pipe: the fork is paid while nothing waits for it, and a
    /// launch costs the child's exec alone. The launch arrives on stdin as one line of single-quoted words (newlines
    /// inside a value written as <c>'"$__n"'</c>), which the shell's own <c>eval</c> makes the positional parameters:
    /// the number of words after the first, the execution directory, the working directory, the number k of variables,
    /// k "NAME=value" variables, then the command. The child prints the execution directory into the substitution, takes
    /// the execution's files as its stdio (which ends the substitution's output), changes to the working directory,
    /// exports the variables and execs the command; the spare waits for it and writes its exit code there in one write.
    /// A launch cut short (the agent died while writing it) or no launch at all (the agent closed the pipe) ends the
    /// spare with 125 and nothing run. Its stdout and stderr are /dev/null from its spawn: a spare never holds the
    /// agent's own output open, not even for the moment before its first line runs.
    /// </summary>
    public const string Script =
        """
        if [ -n "$1" ]; then echo $$ >"$1/cgroup.procs" || exit 1; fi
        __n='
        '
        __runcmd_d=$(
            IFS= read -r __runcmd_l || exit 125
            eval "set -- $__runcmd_l" || exit 125
            [ "$#" -ge 5 ] && [ "$1" = "$(($# - 1))" ] || exit 125
            d=$2 w=$3 __runcmd_k=$4; shift 4
            printf '%s' "$d"
            exec </dev/null >>"$d/stdout" 2>>"$d/stderr"
            cd "$w" || cd /
            while [ "$__runcmd_k" -gt 0 ]; do export "$1"; shift; __runcmd_k=$((__runcmd_k - 1)); done
            exec "$@" 3<"$d/script"
        )
        __runcmd_s=$?
        [ -n "$__runcmd_d" ] || exit 125
        printf '%s\n' "$__runcmd_s" >"$__runcmd_d/exitcode"
        """;

    /// <summary>Largest launch a spare takes: the shell reads its line a byte at a time (about 0.5 µs each).</summary>
    public const int MaxLaunchBytes = 8 * 1024;

    /// <summary>
    /// Names a spare cannot hand on exactly through <c>export</c>, so a launch that sets one takes a fresh wrapper: the
    /// variables a shell keeps for itself where <c>/bin/sh</c> is bash (read-only ones; ones with a meaning on
    /// assignment: <c>SECONDS=5</c> restarts a clock, <c>LC_ALL</c> changes its locale and may warn) or dash (a
    /// non-numeric <c>OPTIND</c> is an error), and the spare's own (<c>__runcmd_</c>). Others are inert between the
    /// export and the exec.
    /// </summary>
    private static readonly HashSet<string> ShellOwnNames = new(StringComparer.Ordinal)
    {
        "UID", "EUID", "PPID", "SHELLOPTS", "GROUPS", "FUNCNAME", "HISTCMD", "DIRSTACK", "RANDOM", "SRANDOM", "SECONDS",
        "LINENO", "EPOCHREALTIME", "EPOCHSECONDS", "OPTIND", "OPTARG", "PIPESTATUS", "LANG",
    };

    private readonly SessionSpawn _process;

    private SpareWrapper(SessionSpawn process, string? cgroup)
    {
        _process = process;
        Cgroup = cgroup;
        StartTicks = ProcStat.TryRead(process.Pid)?.StartTicks ?? 0;
    }

    /// <summary>When the spare started (<c>/proc/pid/stat</c>), which tells it from a later process with its pid.</summary>
    public ulong StartTicks { get; }

    /// <summary>The cgroup the spare joins (null: the machine gives scripts none); the execution's once it is taken.</summary>
    public string? Cgroup { get; }

    /// <summary>The spare's pid: its session, its group, and the script's wrapper once it is taken.</summary>
    public int Pid => _process.Pid;

    /// <summary>True when the spare is gone (killed, or it could not join its cgroup): it can carry no launch.</summary>
    public bool HasEnded => _process.WaitForExitAsync(CancellationToken.None).IsCompleted;

    /// <summary>Spawns a spare that joins <paramref name="cgroup"/> (none when null). Throws <see cref="IOException"/>.</summary>
    public static SpareWrapper Spawn(string? cgroup) =>
        new(SessionSpawn.Start("/bin/sh", ["/bin/sh", "-c", Script, "runcmd-spare", cgroup ?? ""], ProcessLauncher.AgentEnvironment(), pipeStandardInput: true, outputToNull: true), cgroup);

    /// <summary>
    /// The launch as the spare's <see cref="Script"/> reads it (one line of single-quoted words, UTF-8), or null when a
    /// spare cannot run it exactly as a fresh wrapper would: not for secret positional values (they need the pipe of
    /// their own that <see cref="ProcessLauncher.PipePrelude"/> reads), not for a variable named like one a shell keeps
    /// for itself, not beyond <see cref="MaxLaunchBytes"/>, and not with a NUL in a value (a fresh wrapper's environment
    /// ends such a value there, as every C program reads it). The bytes may hold secrets: the caller clears them.
    /// </summary>
    public static byte[]? EncodeLaunch(LaunchSpec spec, ScriptCommand command)
    {
        if (spec.PositionalThroughPipe
            || command.Environment.Any(e => ShellOwnNames.Contains(e.Key) || e.Key.StartsWith("BASH", StringComparison.Ordinal)
                || e.Key.StartsWith("LC_", StringComparison.Ordinal) || e.Key.StartsWith("__runcmd", StringComparison.Ordinal)))
        {
            return null;
        }

        var line = LaunchLine(spec, command);
        if (line.Contains('\0', StringComparison.Ordinal) || Encoding.UTF8.GetByteCount(line) > MaxLaunchBytes)
        {
            return null;
        }

        return Encoding.UTF8.GetBytes(line);
    }

    /// <summary>
    /// Hands <paramref name="launch"/> (from <see cref="EncodeLaunch"/>) to the spare and closes its pipe: the script
    /// starts in the spare's session and cgroup. Throws <see cref="IOException"/> when the spare is gone (nothing ran then).
    /// </summary>
    public LaunchedProcess Launch(byte[] launch)
    {
        using (var pipe = new FileStream(_process.StandardInput!, FileAccess.Write, bufferSize: 0))
        {
            pipe.Write(launch);
        }

        return new LaunchedProcess(_process, _process.Pid, StartTicks);
    }

    /// <summary>Ends an unused spare (its pipe closes, so it exits with nothing run) and removes its cgroup once it has.</summary>
    public void Dispose()
    {
        _process.Dispose();
        _ = _process.WaitForExitAsync(CancellationToken.None).ContinueWith(_ => ProcessTracker.TryRemove(Cgroup), TaskScheduler.Default);
    }

    /// <summary>The launch as the spare's <see cref="Script"/> reads it: one line of single-quoted words.</summary>
    private static string LaunchLine(LaunchSpec spec, ScriptCommand command)
    {
        List<string> words = [spec.Paths.Directory, command.WorkingDirectory, command.Environment.Count.ToString(CultureInfo.InvariantCulture),
            .. command.Environment.Select(e => $"{e.Key}={e.Value}"), .. command.Arguments];
        var line = new StringBuilder().Append(words.Count.ToString(CultureInfo.InvariantCulture));
        foreach (var word in words)
        {
            line.Append(" '").Append(word.Replace("'", "'\\''", StringComparison.Ordinal).Replace("\n", "'\"$__n\"'", StringComparison.Ordinal)).Append('\'');
        }

        return line.Append('\n').ToString();
    }
}

/// <summary>
/// Keeps one <see cref="SpareWrapper"/> ready for the next launch. One is enough: a machine mostly runs one command at
/// a time, and a launch that finds none (several at once, or the spare gone) takes a fresh wrapper as before. The next
/// spare is made once the execution that took the last one has ended and been reported (<see cref="Refill"/>), or
/// <see cref="RefillDelay"/> after the take if it runs longer: a spare made beside a short script slows it (its cgroup
/// join holds the kernel's cgroup lock through an RCU grace period), docs/performance.md, item 39.
/// </summary>
internal sealed class SpareWrapperSlot : IDisposable
{
    /// <summary>Prefix of a spare's cgroup; a spare left by an agent that was killed ends by itself, its cgroup is removed at start.</summary>
    public const string CgroupPrefix = "spare-";

    /// <summary>
    /// This process as the maker of a spare's cgroup: its pid and start time (<c>/proc/pid/stat</c>), so a later process
    /// that reuses the pid does not pass for it.
    /// </summary>
    private static readonly string OwnMaker = string.Create(CultureInfo.InvariantCulture,
        $"{Environment.ProcessId}.{ProcStat.TryRead(Environment.ProcessId)?.StartTicks ?? 0}");

    /// <summary>How long after a take the next spare is made at the latest, while the execution that took it still runs.</summary>
    public static readonly TimeSpan RefillDelay = TimeSpan.FromSeconds(1);

    private readonly ProcessTracker _tracker;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private SpareWrapper? _spare;
    private bool _disposed;
    private bool _refilling;
    private bool _failureLogged;

    public SpareWrapperSlot(ProcessTracker tracker, ILogger logger, TimeProvider time)
    {
        _tracker = tracker;
        _logger = logger;
        _time = time;
        _tracker.RemoveLeftovers(CgroupPrefix, IsLeftover);
    }

    /// <summary>
    /// True when a spare's cgroup named <paramref name="name"/> was made by a process that is gone, so nothing will join
    /// it or remove it: a live maker (another agent on the machine, or this one) may be between creating it and its
    /// spare's join, when it is still empty. A name without its maker is a leftover.
    /// </summary>
    internal static bool IsLeftover(string name)
    {
        var maker = name.AsSpan(CgroupPrefix.Length);
        var dash = maker.IndexOf('-');
        var dot = dash < 0 ? -1 : maker[..dash].IndexOf('.');
        return dot < 0
            || !int.TryParse(maker[..dot], NumberStyles.None, CultureInfo.InvariantCulture, out var pid)
            || !ulong.TryParse(maker[(dot + 1)..dash], NumberStyles.None, CultureInfo.InvariantCulture, out var startTicks)
            || !ProcStat.IsSameLiveProcess(pid, startTicks);
    }

    /// <summary>The name of a new spare's cgroup: its maker, then a unique part.</summary>
    internal static string NewCgroupName() => $"{CgroupPrefix}{OwnMaker}-{Guid.NewGuid():N}";

    /// <summary>The pid of the spare waiting for the next launch (it may still be joining its cgroup); null when none is.</summary>
    public int? ReadyPid
    {
        get
        {
            lock (_lock)
            {
                return _spare is { HasEnded: false } spare ? spare.Pid : null;
            }
        }
    }

    /// <summary>The spare, if one is ready, else null (the caller starts a fresh wrapper).</summary>
    public SpareWrapper? TryTake()
    {
        SpareWrapper? spare;
        lock (_lock)
        {
            spare = _spare;
            _spare = null;
        }

        if (spare is null)
        {
            return null;
        }

        _ = Task.Delay(RefillDelay, _time).ContinueWith(_ => Refill(), TaskScheduler.Default);
        if (spare.HasEnded)
        {
            spare.Dispose();
            Refill();
            return null;
        }

        return spare;
    }

    /// <summary>Makes a spare in the background unless one is ready or on its way.</summary>
    public void Refill()
    {
        lock (_lock)
        {
            if (_disposed || _spare is not null || _refilling)
            {
                return;
            }

            _refilling = true;
        }

        _ = Task.Run(Make);
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            _spare?.Dispose();
            _spare = null;
        }
    }

    private void Make()
    {
        SpareWrapper? spare = null;
        string? cgroup = null;
        try
        {
            if (_tracker.Root is not null
                && (cgroup = _tracker.CreateCgroup(NewCgroupName(), NullLogger.Instance)) is null)
            {
                // No cgroup for a spare: every launch makes its own, and logs why it could not either.
                return;
            }

            spare = SpawnOrNull(cgroup);
        }
        finally
        {
            if (spare is null)
            {
                ProcessTracker.TryRemove(cgroup);
            }

            lock (_lock)
            {
                _refilling = false;
                if (_disposed)
                {
                    spare?.Dispose();
                }
                else
                {
                    _spare = spare;
                }
            }
        }
    }

    private SpareWrapper? SpawnOrNull(string? cgroup)
    {
        try
        {
            return SpareWrapper.Spawn(cgroup);
        }
        catch (IOException e)
        {
            // Logged once: every launch still works, each with a fresh wrapper.
            if (!_failureLogged)
            {
                _failureLogged = true;
                Log.SpareWrapperFailed(_logger, e.Message);
            }

            return null;
        }
    }
}
