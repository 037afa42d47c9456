using System.Text;

namespace RunCommand.Agent.Execution;

/// <summary>What to run: everything here may hold secrets (protected values) and stays in memory.</summary>
/// <param name="RunAs">The user to run the script as; null: the agent's own user.</param>
/// <param name="Cgroup">The execution's cgroup directory, which the wrapper joins before the script starts; null: none.</param>
/// <param name="PositionalThroughPipe">
/// True when a positional argument is secret (a nameless protected parameter): then every positional argument reaches
/// the script through a pipe and bash's own <c>set --</c>, never through any process's argv.
/// </param>
internal sealed record LaunchSpec(
    ExecutionPaths Paths,
    IReadOnlyList<string> PositionalArguments,
    IReadOnlyList<KeyValuePair<string, string>> Environment,
    UserAccount? RunAs = null,
    string? Cgroup = null,
    bool PositionalThroughPipe = false);

/// <summary>What a wrapper runs, in which directory, with which variables on top of the agent's own.</summary>
internal sealed record ScriptCommand(string WorkingDirectory, IReadOnlyList<string> Arguments, IReadOnlyList<KeyValuePair<string, string>> Environment);

/// <summary>A spawned wrapper: its pid is also its session and process group id.</summary>
internal sealed record LaunchedProcess(SessionSpawn Process, int Pid, ulong StartTicks);

/// <summary>
/// Starts a script in its own session and process group, with its output going straight to files, so it
/// keeps running (and writing) while the agent is down.
/// </summary>
internal static class ProcessLauncher
{
    /// <summary>
    /// The wrapper shell (POSIX sh: it starts faster than bash and sits on every script's latency). Constant
    /// text: no user data is ever part of it; the execution dir, interpreter, script path and arguments reach it
    /// as "$@" only. It redirects its own stdio first, so even an exec failure of the script ("bad interpreter")
    /// lands in the stderr file; it goes to the script's working directory (fourth argument; "/" if that is gone by
    /// then); it joins the execution's cgroup (second argument, empty for none) before the script
    /// exists, so every process the script starts is born inside it (a failure to join is shell's own message in
    /// stderr; the process group still tracks the script); then it records the exit code as "N\n" in one write, which a reader takes as
    /// complete only with its newline (no rename: that would cost one more process on every run). The script is
    /// also open on fd 3: a script run as another user is started as /dev/fd/3, which reaches the file without
    /// searching the agent's private (0700) directories. With a third argument "p" the agent's pipe (the wrapper's
    /// stdin) stays open on fd 4 for <see cref="PipePrelude"/>; otherwise fd 4 is not opened.
    /// </summary>
    public const string WrapperScript =
        """
        d=$1; c=$2; p=$3; w=$4; shift 4
        [ -z "$p" ] || exec 4<&0
        exec </dev/null >>"$d/stdout" 2>>"$d/stderr"
        cd "$w" || cd /
        [ -z "$c" ] || echo $$ >"$c/cgroup.procs"
        "$@" 3<"$d/script"
        printf '%s\n' "$?" >"$d/exitcode"
        """;

    /// <summary>
    /// Sets a script's positional parameters inside bash, from the agent's pipe on fd 4, then runs the script in the
    /// same shell (<c>.</c>), so secret positional values are never any process's argv. Constant text: $0 is the
    /// script's path (as for <c>bash script</c>), $1 the number of values the agent sends, each NUL-terminated; a
    /// short read (the agent died mid-write) fails with exit code 125 instead of running with missing arguments.
    /// </summary>
    public const string PipePrelude =
        """
        mapfile -d '' -t __runcmd_args <&4; exec 4<&-
        if [ "${#__runcmd_args[@]}" != "$1" ]; then echo "runcmd: the script's positional parameters did not arrive whole" >&2; exit 125; fi
        set -- "${__runcmd_args[@]}"; unset __runcmd_args
        . "$0"
        """;

    public const string SetprivPath = "/usr/bin/setpriv";

    private const UnixFileMode ScriptMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode OutputMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>Writes the script (0700) and empty stdout/stderr files (0600).</summary>
    public static void PrepareFiles(ExecutionPaths paths, string script, UserAccount? runAs = null) =>
        PrepareFiles(paths, new UTF8Encoding(false).GetBytes(script), runAs);

    /// <summary>Writes the script bytes as they are (a downloaded script need not be UTF-8), 0700, and empty output files.</summary>
    public static void PrepareFiles(ExecutionPaths paths, byte[] script, UserAccount? runAs = null)
    {
        WriteNew(paths.Script, script, ScriptMode);
        if (runAs is not null && Posix.Chown(paths.Script, runAs.Uid, runAs.Gid) != 0)
        {
            throw new IOException($"Cannot give the script to user {runAs.Name} (errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()}).");
        }

        WriteNew(paths.Stdout, [], OutputMode);
        WriteNew(paths.Stderr, [], OutputMode);
    }

    /// <summary>
    /// Starts a fresh wrapper (<c>/bin/sh</c>, <see cref="WrapperScript"/>) for the script: the way every launch can take,
    /// and the one a <see cref="SpareWrapper"/> cannot carry.
    /// </summary>
    public static LaunchedProcess Start(LaunchSpec spec, ScriptCommand? command = null)
    {
        // The wrapper is spawned in a session of its own (SessionSpawn: no setsid(1) exec on the way), so its pid is
        // the session, group and wrapper shell at once from the moment it exists.
        command ??= CommandOf(spec);
        List<string> argv = ["/bin/sh", "-c", WrapperScript, "runcmd-wrapper", spec.Paths.Directory, spec.Cgroup ?? "", spec.PositionalThroughPipe ? "p" : "", command.WorkingDirectory, .. command.Arguments];
        var environment = AgentEnvironment();
        foreach (var (name, value) in command.Environment)
        {
            environment[name] = value;
        }

        var process = SessionSpawn.Start("/bin/sh", argv, environment, spec.PositionalThroughPipe);
        if (process.StandardInput is { } input)
        {
            SendPositionalArguments(input, spec.PositionalArguments);
        }

        var startTicks = ProcStat.TryRead(process.Pid)?.StartTicks ?? 0;
        return new LaunchedProcess(process, process.Pid, startTicks);
    }

    /// <summary>The prefix of RunCommand's own settings (a database connection string, a token, a password).</summary>
    public const string OwnVariablePrefix = "RUNCMD_";

    /// <summary>
    /// The agent's own environment, which every wrapper starts from, less RunCommand's own settings: an agent started
    /// beside the server (<c>runcmd up</c>) inherits what configures the server and the CLI, which scripts, perhaps
    /// run as another user, must not see.
    /// </summary>
    public static Dictionary<string, string> AgentEnvironment()
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry variable in System.Environment.GetEnvironmentVariables())
        {
            var name = (string)variable.Key;
            if (!name.StartsWith(OwnVariablePrefix, StringComparison.Ordinal))
            {
                environment[name] = (string?)variable.Value ?? "";
            }
        }

        return environment;
    }

    /// <summary>
    /// What the wrapper runs, wherever the wrapper came from: the working directory, the command (setpriv for another
    /// user, the interpreter, the script, its positional arguments) and the variables set on top of the agent's own
    /// (the run-as user's, then the named parameters: a spare wrapper sets them in the script's process only; a fresh
    /// wrapper, which runs as the agent's user, holds them in its environment too, readable by that user alone).
    /// </summary>
    public static ScriptCommand CommandOf(LaunchSpec spec)
    {
        var arguments = new List<string>();
        var environment = new List<KeyValuePair<string, string>>();
        var workingDirectory = spec.Paths.Directory;
        if (spec.RunAs is { } runAs)
        {
            workingDirectory = Directory.Exists(runAs.Home) ? runAs.Home : "/";
            // setpriv execs (no fork): the script stays in the wrapper's group. Only numbers reach the command
            // line; a run-as password was checked with PAM before (in memory) and is never passed on.
            arguments.AddRange([SetprivPath, $"--reuid={runAs.Uid}", $"--regid={runAs.Gid}", "--init-groups", "--"]);
            environment.AddRange([new("HOME", runAs.Home), new("SHELL", runAs.Shell), new("USER", runAs.Name), new("LOGNAME", runAs.Name)]);
        }

        var scriptPath = spec.RunAs is null ? spec.Paths.Script : "/dev/fd/3";
        if (spec.PositionalThroughPipe)
        {
            // Only the number of values is on the command line; the values follow through the pipe.
            arguments.AddRange(["/bin/bash", "-c", PipePrelude, scriptPath, spec.PositionalArguments.Count.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        }
        else
        {
            if (!StartsWithShebang(spec.Paths.Script))
            {
                arguments.Add("/bin/bash");
            }

            arguments.Add(scriptPath);
            arguments.AddRange(spec.PositionalArguments);
        }

        environment.AddRange(spec.Environment);
        return new ScriptCommand(workingDirectory, arguments, environment);
    }

    /// <summary>
    /// Writes the values, each NUL-terminated, into the wrapper's stdin and closes it. In the background: a pipe holds
    /// 64 KiB, and bash reads it only once it runs. A script that dies first breaks the pipe; the prelude then
    /// reports the short read itself (or nothing ran), so the write error is only swallowed.
    /// </summary>
    private static void SendPositionalArguments(Microsoft.Win32.SafeHandles.SafeFileHandle input, IReadOnlyList<string> values)
    {
        var pipe = new FileStream(input, FileAccess.Write, bufferSize: 0);
        _ = Task.Run(async () =>
        {
            try
            {
                await using (pipe)
                {
                    foreach (var value in values)
                    {
                        await pipe.WriteAsync(new UTF8Encoding(false).GetBytes(value + "\0"));
                    }
                }
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
            }
        });
    }

    /// <summary>
    /// True when bash can run the script itself: no #! line, or one naming bash or sh (directly or through env).
    /// Secret positional arguments need that, since only a shell that sets them itself keeps them out of argv.
    /// </summary>
    public static bool BashCanRun(string scriptPath)
    {
        if (!StartsWithShebang(scriptPath))
        {
            return true;
        }

        using var reader = new StreamReader(scriptPath);
        var words = (reader.ReadLine() ?? "")[2..].Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        var interpreter = words.Length > 1 && Path.GetFileName(words[0]) == "env" ? words[1] : words.FirstOrDefault() ?? "";
        return Path.GetFileName(interpreter) is "bash" or "sh";
    }

    private static bool StartsWithShebang(string scriptPath)
    {
        Span<byte> head = stackalloc byte[2];
        using var stream = File.OpenRead(scriptPath);
        return stream.ReadAtLeast(head, 2, throwOnEndOfStream: false) == 2 && head[0] == (byte)'#' && head[1] == (byte)'!';
    }

    private static void WriteNew(string path, ReadOnlySpan<byte> content, UnixFileMode mode)
    {
        using var stream = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            UnixCreateMode = mode,
        });
        File.SetUnixFileMode(stream.SafeFileHandle, mode);
        // No fsync: these files matter only if the script starts, and the pid checkpoint comes after them.
        stream.Write(content);
    }
}
