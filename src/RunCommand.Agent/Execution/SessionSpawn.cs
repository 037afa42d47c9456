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
    private readonly TaskCompletionSource<int> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private SessionSpawn(int pid, SafeFileHandle? standardInput)
    {
        Pid = pid;
        StandardInput = standardInput;
    }

    public int Pid { get; }

    /// <summary>The write end of the child's stdin (null without a pipe); the caller writes and disposes it.</summary>
    public SafeFileHandle? StandardInput { get; }

    /// <summary>Completes with the child's wait status once it has ended (and been reaped).</summary>
    public Task<int> Exited => _exited.Task;

    /// <summary>Completes when the child has ended; cancelled by <paramref name="cancellationToken"/>.</summary>
    public Task WaitForExitAsync(CancellationToken cancellationToken) => _exited.Task.WaitAsync(cancellationToken);

    /// <summary>
    /// Starts <paramref name="path"/> with <paramref name="arguments"/> (argv[0] included) and exactly
    /// <paramref name="environment"/>, in a new session. Throws <see cref="IOException"/> when it cannot start.
    /// </summary>
    public static unsafe SessionSpawn Start(string path, IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string> environment, bool pipeStandardInput)
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

    /// <summary>
    /// Starts the child as <see cref="Start"/> does, but created inside the cgroup v2 directory <paramref name="cgroup"/>
    /// (<c>clone3</c> with <c>CLONE_INTO_CGROUP</c>, Linux 5.7): no migration follows, where joining a cgroup from the
    /// shell (<c>echo $$ &gt; cgroup.procs</c>) waits for an RCU grace period, 8-18 ms (docs/performance.md, item 38).
    /// Null when this kernel (or a seccomp filter) does not offer it: the caller starts the child the other way and
    /// joins the cgroup from the wrapper.
    /// </summary>
    public static unsafe SessionSpawn? StartInCgroup(string path, IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string> environment,
        bool pipeStandardInput, string cgroup)
    {
        if (IntoCgroupUnavailable || Calls.Value is not { } calls)
        {
            return null;
        }

        var argv = new NativeStrings(arguments);
        var envp = new NativeStrings([.. environment.Select(e => $"{e.Key}={e.Value}")]);
        var pathBytes = Encoding.UTF8.GetBytes(path + "\0");
        var cgroupFd = Posix.Open(cgroup, Posix.ORdOnly | Posix.ODirectory | Native.OCloExec);
        var pipe = stackalloc int[2] { -1, -1 };
        var errors = stackalloc int[2] { -1, -1 };
        var all = NativeMemory.AllocZeroed(Native.OpaqueBytes);
        var none = NativeMemory.AllocZeroed(Native.OpaqueBytes);
        var saved = NativeMemory.AllocZeroed(Native.OpaqueBytes);
        try
        {
            if (cgroupFd < 0)
            {
                throw new IOException($"Cannot open the execution's cgroup {cgroup} (errno {Marshal.GetLastPInvokeError()}).");
            }

            if ((pipeStandardInput && Native.Pipe2(pipe, Native.OCloExec) != 0) || Native.Pipe2(errors, Native.OCloExec) != 0)
            {
                throw new IOException($"Cannot make a pipe for the script (errno {Marshal.GetLastPInvokeError()}).");
            }

            _ = Native.SigFillSet(all);
            _ = Native.SigEmptySet(none);
            var args = new CloneArgs { Flags = Native.CloneVfork | Native.CloneIntoCgroup, ExitSignal = Native.SigChld, Cgroup = (ulong)cgroupFd };
            long pid;
            int cloneErrno;
            fixed (byte* file = pathBytes)
            {
                // Every signal blocked first, so no handler of the agent's runtime ever runs in the child; the child puts
                // every disposition back to the default before it unblocks them and execs (as posix_spawn does).
                _ = Native.SigProcMask(Native.SigBlock, all, saved);
                pid = calls.Clone(&args, file, argv.Pointers, envp.Pointers, pipe[0], errors[1], none);
                cloneErrno = Marshal.GetLastSystemError();
                _ = Native.SigProcMask(Native.SigSetMask, saved, null);
            }

            if (pid < 0)
            {
                // No clone3 (Linux before 5.3, or a seccomp filter) or no CLONE_INTO_CGROUP (before 5.7): never again.
                // Any other refusal (the cgroup's own rules): this once. Either way the wrapper joins from the shell.
                IntoCgroupUnavailable |= cloneErrno is Native.ENoSys or Native.EInval or Native.E2Big;
                return null;
            }

            // CLONE_VFORK: the child has exec'd, or failed to and left its errno on the pipe (exec closed the pipe otherwise).
            _ = Posix.Close(errors[1]);
            errors[1] = -1;
            var failure = 0;
            if (Native.Read(errors[0], &failure, sizeof(int)) == sizeof(int))
            {
                _ = Native.WaitPid((int)pid, out _, 0);
                throw new IOException($"Cannot start {path}: {Marshal.GetPInvokeErrorMessage(failure)} (errno {failure}).");
            }

            SafeFileHandle? input = null;
            if (pipeStandardInput)
            {
                _ = Posix.Close(pipe[0]);
                pipe[0] = -1;
                input = new SafeFileHandle(pipe[1], ownsHandle: true);
                pipe[1] = -1;
            }

            var spawned = new SessionSpawn((int)pid, input);
            spawned.StartReaper();
            return spawned;
        }
        finally
        {
            foreach (var fd in new[] { pipe[0], pipe[1], errors[0], errors[1], cgroupFd })
            {
                if (fd >= 0)
                {
                    _ = Posix.Close(fd);
                }
            }

            NativeMemory.Free(all);
            NativeMemory.Free(none);
            NativeMemory.Free(saved);
            argv.Dispose();
            envp.Dispose();
        }
    }

    /// <summary>Set once clone3 into a cgroup was refused as unsupported: later spawns go the other way at once.</summary>
    private static volatile bool IntoCgroupUnavailable;

    private static readonly Lazy<ChildCalls?> Calls = new(ChildCalls.Load);

    /// <summary>struct clone_args of Linux 5.7 (CLONE_ARGS_SIZE_VER2, 88 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct CloneArgs
    {
        public ulong Flags;
        public ulong PidFd;
        public ulong ChildTid;
        public ulong ParentTid;
        public ulong ExitSignal;
        public ulong Stack;
        public ulong StackSize;
        public ulong Tls;
        public ulong SetTid;
        public ulong SetTidSize;
        public ulong Cgroup;
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
                var reaped = Native.WaitPid(Pid, out var status, 0);
                if (reaped == Pid)
                {
                    _exited.TrySetResult(status);
                    return;
                }

                if (reaped < 0 && Marshal.GetLastPInvokeError() != Native.EIntr)
                {
                    // Not our child any more (ECHILD: someone else reaped it): it has ended all the same.
                    _exited.TrySetResult(-1);
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
        private readonly byte*[] _strings;

        public NativeStrings(IReadOnlyList<string> values)
        {
            _strings = new byte*[values.Count];
            Pointers = (byte**)NativeMemory.AllocZeroed((nuint)(values.Count + 1), (nuint)sizeof(byte*));
            for (var i = 0; i < values.Count; i++)
            {
                var bytes = Encoding.UTF8.GetBytes(values[i]);
                var native = (byte*)NativeMemory.Alloc((nuint)bytes.Length + 1);
                bytes.CopyTo(new Span<byte>(native, bytes.Length));
                native[bytes.Length] = 0;
                _strings[i] = native;
                Pointers[i] = native;
            }
        }

        public byte** Pointers { get; }

        public void Dispose()
        {
            foreach (var native in _strings)
            {
                // Environment values may be secrets (named protected parameters): wiped before they are freed.
                if (native is not null)
                {
                    var length = 0;
                    while (native[length] != 0)
                    {
                        length++;
                    }

                    new Span<byte>(native, length).Clear();
                    NativeMemory.Free(native);
                }
            }

            NativeMemory.Free(Pointers);
        }
    }

    /// <summary>
    /// libc's functions as raw pointers, resolved before any fork: between <c>clone3</c> and <c>execve</c> the child (a
    /// copy of one thread of the agent) may call nothing that binds a symbol, allocates, or lets the runtime in (a GC
    /// half begun in the parent would never end in the child, which the parent waits for). Each call here is such a
    /// plain call (<c>SuppressGCTransition</c>).
    /// </summary>
    private sealed unsafe class ChildCalls
    {
        private const long SysClone3 = 435;
        private const nint SigDfl = 0;

        private delegate* unmanaged[SuppressGCTransition]<long, CloneArgs*, nuint, long> _syscall;
        private delegate* unmanaged[SuppressGCTransition]<int, nint, nint> _signal;
        private delegate* unmanaged[SuppressGCTransition]<int, void*, void*, int> _sigprocmask;
        private delegate* unmanaged[SuppressGCTransition]<int> _setsid;
        private delegate* unmanaged[SuppressGCTransition]<int, int, int> _dup2;
        private delegate* unmanaged[SuppressGCTransition]<byte*, byte**, byte**, int> _execve;
        private delegate* unmanaged[SuppressGCTransition]<int, void*, nuint, nint> _write;
        private delegate* unmanaged[SuppressGCTransition]<int, void> _exit;
        private delegate* unmanaged[SuppressGCTransition]<int*> _errno;

        public static ChildCalls? Load()
        {
            if (!NativeLibrary.TryLoad("libc.so.6", out var libc))
            {
                return null;
            }

            nint Get(string name) => NativeLibrary.TryGetExport(libc, name, out var address) ? address : 0;
            var calls = new ChildCalls
            {
                _syscall = (delegate* unmanaged[SuppressGCTransition]<long, CloneArgs*, nuint, long>)Get("syscall"),
                _signal = (delegate* unmanaged[SuppressGCTransition]<int, nint, nint>)Get("signal"),
                _sigprocmask = (delegate* unmanaged[SuppressGCTransition]<int, void*, void*, int>)Get("sigprocmask"),
                _setsid = (delegate* unmanaged[SuppressGCTransition]<int>)Get("setsid"),
                _dup2 = (delegate* unmanaged[SuppressGCTransition]<int, int, int>)Get("dup2"),
                _execve = (delegate* unmanaged[SuppressGCTransition]<byte*, byte**, byte**, int>)Get("execve"),
                _write = (delegate* unmanaged[SuppressGCTransition]<int, void*, nuint, nint>)Get("write"),
                _exit = (delegate* unmanaged[SuppressGCTransition]<int, void>)Get("_exit"),
                _errno = (delegate* unmanaged[SuppressGCTransition]<int*>)Get("__errno_location"),
            };
            return calls._syscall is null || calls._signal is null || calls._sigprocmask is null || calls._setsid is null || calls._dup2 is null
                || calls._execve is null || calls._write is null || calls._exit is null || calls._errno is null
                ? null
                : calls;
        }

        /// <summary>
        /// clone3 as vfork into the cgroup; the parent gets the pid once the child has exec'd (or -1 and errno). The child
        /// puts every signal's disposition back to the default, leads a new session, takes the pipe as stdin, unblocks
        /// every signal and execs; if that fails, it leaves its errno on <paramref name="errorFd"/> and exits 127.
        /// </summary>
        public long Clone(CloneArgs* args, byte* path, byte** argv, byte** envp, int stdinFd, int errorFd, void* emptyMask)
        {
            var pid = _syscall(SysClone3, args, (nuint)sizeof(CloneArgs));
            if (pid != 0)
            {
                return pid;
            }

            for (var signal = 1; signal < 65; signal++)
            {
                _ = _signal(signal, SigDfl);
            }

            _ = _setsid();
            if (stdinFd >= 0)
            {
                _ = _dup2(stdinFd, 0);
            }

            _ = _sigprocmask(Native.SigSetMask, emptyMask, null);
            _ = _execve(path, argv, envp);
            var error = *_errno();
            _ = _write(errorFd, &error, sizeof(int));
            _exit(127);
            return 0;
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
        public const int EIntr = 4;
        public const int E2Big = 7;
        public const int EInval = 22;
        public const int ENoSys = 38;
        public const int SigChld = 17;
        public const int SigBlock = 0;
        public const int SigSetMask = 2;
        public const ulong CloneVfork = 0x4000;
        public const ulong CloneIntoCgroup = 0x200000000;

        [LibraryImport("libc", EntryPoint = "read", SetLastError = true)]
        public static partial nint Read(int fd, void* buffer, nuint count);

        [LibraryImport("libc", EntryPoint = "sigprocmask")]
        public static partial int SigProcMask(int how, void* set, void* old);

        [LibraryImport("libc", EntryPoint = "posix_spawn")]
        public static partial int PosixSpawn(int* pid, byte* path, void* fileActions, void* attributes, byte** argv, byte** envp);

        [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_init")]
        public static partial int FileActionsInit(void* actions);

        [LibraryImport("libc", EntryPoint = "posix_spawn_file_actions_destroy")]
        public static partial int FileActionsDestroy(void* actions);

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
