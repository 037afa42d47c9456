using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace RunCommand.Agent.Execution;

/// <summary>
/// A child started in a session (and process group) of its own with <c>posix_spawn</c> and
/// <c>POSIX_SPAWN_SETSID</c>: the session is made in the child before it execs, so no <c>setsid(1)</c> is exec'd on
/// the way (about 0.65 ms of every script's latency, docs/performance.md, item 37), and the child is a group leader
/// when <see cref="Start"/> returns. Signal dispositions and mask are the defaults (the agent's runtime ignores
/// SIGPIPE; a script must not inherit that). Its file descriptors are the agent's stdio (every other descriptor of the
/// agent is close-on-exec), or, with a pipe, stdin reading from <see cref="StandardInput"/>. It is reaped by a
/// thread of its own that waits for it (the runtime reaps only the children it started).
/// </summary>
internal sealed partial class SessionSpawn : IDisposable
{
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private SessionSpawn(int pid, SafeFileHandle? standardInput)
    {
        Pid = pid;
        StandardInput = standardInput;
    }

    public int Pid { get; }

    /// <summary>The write end of the child's stdin (null without a pipe); the caller writes and disposes it.</summary>
    public SafeFileHandle? StandardInput { get; }

    /// <summary>Completes when the child has ended; cancelled by <paramref name="cancellationToken"/>.</summary>
    public Task WaitForExitAsync(CancellationToken cancellationToken) => _exited.Task.WaitAsync(cancellationToken);

    /// <summary>
    /// Starts <paramref name="path"/> with <paramref name="arguments"/> (argv[0] included) and exactly
    /// <paramref name="environment"/>, in a new session. Throws <see cref="IOException"/> when it cannot start.
    /// </summary>
    /// <param name="outputToNull">
    /// True: the child's stdout and stderr are /dev/null from the start instead of the agent's own (a spare wrapper must
    /// never hold the agent's output open: a supervisor reading it would wait for the spare to end).
    /// </param>
    public static unsafe SessionSpawn Start(string path, IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string> environment, bool pipeStandardInput, bool outputToNull = false)
    {
        var argv = new NativeStrings(arguments);
        var envp = new NativeStrings([.. environment.Select(e => $"{e.Key}={e.Value}")]);
        var actions = NativeMemory.AllocZeroed(Native.OpaqueBytes);
        var attributes = NativeMemory.AllocZeroed(Native.OpaqueBytes);
        var signals = NativeMemory.AllocZeroed(Native.OpaqueBytes);
        var pipe = stackalloc int[2] { -1, -1 };
        try
        {
            Check(Native.FileActionsInit(actions), "posix_spawn_file_actions_init");
            Check(Native.AttrInit(attributes), "posix_spawnattr_init");
            if (pipeStandardInput)
            {
                if (Native.Pipe2(pipe, Native.OCloExec) != 0)
                {
                    throw new IOException($"Cannot make a pipe for the script (errno {Marshal.GetLastPInvokeError()}).");
                }

                // dup2 clears close-on-exec on the child's fd 0; both pipe ends stay close-on-exec otherwise.
                Check(Native.FileActionsAddDup2(actions, pipe[0], 0), "posix_spawn_file_actions_adddup2");
            }

            if (outputToNull)
            {
                // glibc copies the path, so it need only live through this call.
                fixed (byte* devNull = "/dev/null\0"u8)
                {
                    Check(Native.FileActionsAddOpen(actions, 1, devNull, Native.OWrOnly, 0), "posix_spawn_file_actions_addopen");
                }

                Check(Native.FileActionsAddDup2(actions, 1, 2), "posix_spawn_file_actions_adddup2");
            }

            Check(Native.AttrSetFlags(attributes, Native.SetSid | Native.SetSigMask | Native.SetSigDef), "posix_spawnattr_setflags (POSIX_SPAWN_SETSID needs glibc 2.26)");
            Check(Native.SigEmptySet(signals) == 0 ? 0 : -1, "sigemptyset");
            Check(Native.AttrSetSigMask(attributes, signals), "posix_spawnattr_setsigmask");
            Check(Native.SigFillSet(signals) == 0 ? 0 : -1, "sigfillset");
            Check(Native.AttrSetSigDefault(attributes, signals), "posix_spawnattr_setsigdefault");

            var pathBytes = Encoding.UTF8.GetBytes(path + "\0");
            int pid;
            int error;
            fixed (byte* file = pathBytes)
            {
                error = Native.PosixSpawn(&pid, file, actions, attributes, argv.Pointers, envp.Pointers);
            }

            if (error != 0)
            {
                throw new IOException($"Cannot start {path}: {Marshal.GetPInvokeErrorMessage(error)} (errno {error}).");
            }

            SafeFileHandle? input = null;
            if (pipeStandardInput)
            {
                _ = Posix.Close(pipe[0]);
                pipe[0] = -1;
                input = new SafeFileHandle(pipe[1], ownsHandle: true);
                pipe[1] = -1;
            }

            var spawned = new SessionSpawn(pid, input);
            spawned.StartReaper();
            return spawned;
        }
        finally
        {
            for (var i = 0; i < 2; i++)
            {
                if (pipe[i] >= 0)
                {
                    _ = Posix.Close(pipe[i]);
                }
            }

            _ = Native.FileActionsDestroy(actions);
            _ = Native.AttrDestroy(attributes);
            NativeMemory.Free(actions);
            NativeMemory.Free(attributes);
            NativeMemory.Free(signals);
            argv.Dispose();
            envp.Dispose();
        }
    }

    public void Dispose() => StandardInput?.Dispose();

    private static void Check(int result, string call)
    {
        if (result != 0)
        {
            throw new IOException($"Cannot start the script: {call} failed ({result}).");
        }
    }

    /// <summary>One small thread blocked in waitpid for this child: its end completes <see cref="Exited"/>.</summary>
    private void StartReaper()
    {
        var thread = new Thread(() =>
        {
            while (true)
            {
                var reaped = Native.WaitPid(Pid, out _, 0);
                if (reaped == Pid)
                {
                    _exited.TrySetResult();
                    return;
                }

                if (reaped < 0 && Marshal.GetLastPInvokeError() != Native.EIntr)
                {
                    // Not our child any more (ECHILD: someone else reaped it): it has ended all the same.
                    _exited.TrySetResult();
                    return;
                }
            }
        }, maxStackSize: 64 * 1024)
        {
            IsBackground = true,
            Name = $"reaper {Pid}",
        };
        thread.Start();
    }

    /// <summary>A NULL-terminated array of NUL-terminated UTF-8 strings in native memory (argv, envp).</summary>
    private sealed unsafe class NativeStrings : IDisposable
    {
        public NativeStrings(IReadOnlyList<string> values)
        {
            Pointers = (byte**)NativeMemory.AllocZeroed((nuint)(values.Count + 1), (nuint)sizeof(byte*));
            for (var i = 0; i < values.Count; i++)
            {
                var bytes = Encoding.UTF8.GetBytes(values[i]);
                var native = (byte*)NativeMemory.AllocZeroed((nuint)bytes.Length + 1);
                bytes.CopyTo(new Span<byte>(native, bytes.Length));
                Array.Clear(bytes);
                Pointers[i] = native;
            }
        }

        public byte** Pointers { get; }

        public void Dispose()
        {
            // Environment values may be secrets (named protected parameters): wiped before they are freed.
            for (var p = Pointers; *p is not null; p++)
            {
                new Span<byte>(*p, MemoryMarshal.CreateReadOnlySpanFromNullTerminated(*p).Length).Clear();
                NativeMemory.Free(*p);
            }

            NativeMemory.Free(Pointers);
        }
    }

    private static unsafe partial class Native
    {
        /// <summary>Room for posix_spawn_file_actions_t (80 bytes in glibc), posix_spawnattr_t (336) and sigset_t (128).</summary>
        public const int OpaqueBytes = 1024;

        public const short SetSigDef = 0x04;
        public const short SetSigMask = 0x08;
        public const short SetSid = 0x80;
        public const int OCloExec = 0x80000;
        public const int OWrOnly = 1;
        public const int EIntr = 4;

        [LibraryImport("libc", EntryPoint = "posix_spawn")]
        public static partial int PosixSpawn(int* pid, byte* path, void* fileActions, void* attributes, byte** argv, byte** envp);

        [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_init")]
        public static partial int FileActionsInit(void* actions);

        [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_destroy")]
        public static partial int FileActionsDestroy(void* actions);

        [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_addopen")]
        public static partial int FileActionsAddOpen(void* actions, int fd, byte* path, int flags, uint mode);

        [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_adddup2")]
        public static partial int FileActionsAddDup2(void* actions, int fd, int newFd);

        [LibraryImport("libc", EntryPoint = "posix_spawnattr_init")]
        public static partial int AttrInit(void* attributes);

        [LibraryImport("libc", EntryPoint = "posix_spawnattr_destroy")]
        public static partial int AttrDestroy(void* attributes);

        [LibraryImport("libc", EntryPoint = "posix_spawnattr_setflags")]
        public static partial int AttrSetFlags(void* attributes, short flags);

        [LibraryImport("libc", EntryPoint = "posix_spawnattr_setsigmask")]
        public static partial int AttrSetSigMask(void* attributes, void* signals);

        [LibraryImport("libc", EntryPoint = "posix_spawnattr_setsigdefault")]
        public static partial int AttrSetSigDefault(void* attributes, void* signals);

        [LibraryImport("libc", EntryPoint = "sigemptyset")]
        public static partial int SigEmptySet(void* signals);

        [LibraryImport("libc", EntryPoint = "sigfillset")]
        public static partial int SigFillSet(void* signals);

        [LibraryImport("libc", EntryPoint = "pipe2", SetLastError = true)]
        public static partial int Pipe2(int* fds, int flags);

        [LibraryImport("libc", EntryPoint = "waitpid", SetLastError = true)]
        public static partial int WaitPid(int pid, out int status, int options);
    }
}
