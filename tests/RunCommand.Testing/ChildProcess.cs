using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace RunCommand.Testing;

/// <summary>
/// A program the test started: output captured (for assertions and for the test log), stopped by its own PID
/// only (SIGTERM, or SIGKILL to simulate a crash).
/// </summary>
public sealed partial class ChildProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly string _name;
    private int _disposed;

    private ChildProcess(string name, Process process)
    {
        _name = name;
        _process = process;
    }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public static ChildProcess StartDotnet(string name, string dll, IEnumerable<string> args, IDictionary<string, string>? environment = null, string? workingDirectory = null) =>
        Start(name, "dotnet", [dll, .. args], environment, workingDirectory);

    /// <summary>
    /// Starts any program (by path) with the given arguments, output captured. It starts as a terminal's foreground
    /// job does, with SIGINT and SIGQUIT at their default handling (through coreutils' <c>env --default-signal</c>), so
    /// <see cref="Interrupt"/> is the Ctrl-C a person presses. A test runner started in the background by a
    /// non-interactive shell (as CI starts it) has both ignored, and .NET passes that on to what it starts; a .NET
    /// program then keeps ignoring them, as a background job should, and a Ctrl-C test would wait forever.
    /// </summary>
    public static ChildProcess Start(string name, string program, IEnumerable<string> args, IDictionary<string, string>? environment = null, string? workingDirectory = null)
    {
        var psi = new ProcessStartInfo("env")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Repo.Root,
        };
        psi.ArgumentList.Add("--default-signal=INT,QUIT");
        psi.ArgumentList.Add(program);
        foreach (var arg in args)
        {
            psi.ArgumentList.Add(arg);
        }

        psi.Environment["DOTNET_NOLOGO"] = "1";
        if (environment is not null)
        {
            foreach (var (key, value) in environment)
            {
                psi.Environment[key] = value;
            }
        }

        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        var child = new ChildProcess(name, process);
        process.OutputDataReceived += (_, e) => child.Append(e.Data);
        process.ErrorDataReceived += (_, e) => child.Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    /// <summary>
    /// Waits until <paramref name="ready"/> holds, as <see cref="Wait.UntilAsync(Func{Task{bool}}, TimeSpan, string)"/>
    /// does. If the process exits first, or the wait times out, it is stopped and disposed (no caller holds it yet) and
    /// what it printed goes into the error, since that says where it stood.
    /// </summary>
    public async Task WaitUntilStartedAsync(Func<Task<bool>> ready, TimeSpan timeout, string what)
    {
        try
        {
            await Wait.UntilAsync(async () =>
            {
                if (HasExited)
                {
                    // Its last lines may still be on their way through the pipes: this waits for their end too.
                    await _process.WaitForExitAsync();
                    await DisposeAsync();
                    throw new InvalidOperationException($"The {_name} exited at start:\n{Output}");
                }

                return await ready();
            }, timeout, what);
        }
        catch (TimeoutException e)
        {
            await DisposeAsync();
            throw new TimeoutException($"{e.Message}\nThe {_name}'s output:\n{Output}", e);
        }
    }

    /// <summary>Simulates a crash: SIGKILL to this process only (its scripts, in their own sessions, live on).</summary>
    public async Task KillHardAsync()
    {
        if (!_process.HasExited)
        {
            _ = SysKill(_process.Id, 9);
        }

        await _process.WaitForExitAsync();
    }

    /// <summary>Asks the process to stop (SIGTERM) and waits; kills it if it does not stop in time.</summary>
    public async Task StopAsync(TimeSpan? grace = null)
    {
        if (_process.HasExited)
        {
            return;
        }

        _ = SysKill(_process.Id, 15);
        using var timeout = new CancellationTokenSource(grace ?? TimeSpan.FromSeconds(10));
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            await KillHardAsync();
        }
    }

    /// <summary>Sends SIGINT, as Ctrl-C in a terminal does.</summary>
    public void Interrupt() => _ = SysKill(_process.Id, 2);

    /// <summary>Sends SIGTERM and returns, for a test that watches how the process stops (<see cref="StopAsync"/> waits).</summary>
    public void Terminate() => _ = SysKill(_process.Id, 15);

    /// <summary>SIGSTOP: the process stays, answering nothing, until <see cref="Resume"/>.</summary>
    public void Pause() => _ = SysKill(_process.Id, 19);

    /// <summary>SIGCONT after <see cref="Pause"/>.</summary>
    public void Resume() => _ = SysKill(_process.Id, 18);

    /// <summary>The exit code; a <see cref="TimeoutException"/> with the output so far when it runs longer.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            var state = _process.HasExited ? "had exited, but a child of it still held its output open," : "was still running";
            throw new TimeoutException($"{_name} (pid {_process.Id}) {state} after {timeout.TotalSeconds:0.#} s ({Processes.Describe(_process.Id)}); its output:\n{Output}");
        }

        return _process.ExitCode;
    }

    /// <summary>Stops the process (<see cref="StopAsync"/>); a second call does nothing.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await StopAsync();
        _process.Dispose();
    }

    public override string ToString() => $"{_name} (pid {Pid})";

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SysKill(int pid, int signal);
}
