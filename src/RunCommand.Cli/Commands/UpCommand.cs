using System.CommandLine;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using RunCommand.Cli.Config;
using RunCommand.Client;

namespace RunCommand.Cli.Commands;

/// <summary>
/// <c>runcmd up</c>: a whole installation on this machine in one command. Starts the server, logs in with its admin
/// token, starts one agent for this machine, waits until the agent is connected, and tells the user what to type next.
/// Ctrl-C (or SIGTERM) stops the agent, then the server.
/// </summary>
internal static class UpCommand
{
    public const string ServerDllVariable = "RUNCMD_SERVER_DLL";
    public const string AgentDllVariable = "RUNCMD_AGENT_DLL";

    private const int SigTerm = 15;
    private static readonly TimeSpan StartupTimeout = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(10);

    /// <summary>How long, once a child has exited, its last lines may take to come through its output pipes.</summary>
    private static readonly TimeSpan OutputDrain = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan StartupPollInterval = TimeSpan.FromMilliseconds(250);
    private static readonly Lock ConsoleLock = new();

    public static Command Create()
    {
        var vmName = new Option<string>("--vm-name")
        {
            Description = "Name this machine gets as a VM. Default: the host name.",
            DefaultValueFactory = _ => Environment.MachineName,
        };
        var group = new Option<string>("--resource-group", "-g")
        {
            Description = "Resource group of the VM.",
            DefaultValueFactory = _ => "default",
        };
        var dataDir = new Option<string>("--data-dir")
        {
            Description = "Where the server keeps its database and tokens, and the agent its state.",
            DefaultValueFactory = _ => ConfigStore.DefaultDirectory,
        };
        var urls = new Option<string>("--urls")
        {
            Description = "URL the server listens on.",
            DefaultValueFactory = _ => "http://127.0.0.1:5080",
        };
        var command = new Command("up", "Start a server and an agent for this machine, log in, and keep them running until Ctrl-C.")
        {
            vmName, group, dataDir, urls,
        };
        command.SetAction((result, cancellationToken) => RunAsync(
            result.GetValue(vmName)!, result.GetValue(group)!, Path.GetFullPath(result.GetValue(dataDir)!), result.GetValue(urls)!, cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(string vmName, string resourceGroup, string dataDir, string urls, CancellationToken cancellationToken)
    {
        var serverDll = ProgramPath(ServerDllVariable, "server", "RunCommand.Server");
        var agentDll = ProgramPath(AgentDllVariable, "agent", "RunCommand.Agent");
        var serverUrl = ClientUrl(urls);
        if (await IsListeningAsync(serverUrl, cancellationToken))
        {
            throw new CliException(
                $"something is already listening on {serverUrl.Authority} (a server already running?): stop it, or pass --urls with another port",
                ExitCodes.Failure);
        }

        CreatePrivateDirectory(dataDir);
        Process? server = null;
        Process? agent = null;
        try
        {
            server = Start("server", serverDll, ["--urls", urls, "--data-dir", dataDir]);
            var config = await LoginWhenReadyAsync(server, serverUrl, dataDir, cancellationToken);
            Console.Error.WriteLine($"[up] server ready at {config.Server}; logged in (config: {ConfigStore.DefaultPath})");

            // Over https the agent trusts what the CLI trusts: the self-signed certificate the server wrote.
            string[] trust = config.CaCert is { } caCert ? ["--ca-cert", caCert] : [];
            agent = Start("agent", agentDll,
            [
                "--server", config.Server,
                "--vm-name", vmName,
                "--resource-group", resourceGroup,
                "--state-dir", Path.Combine(dataDir, "agent"),
                "--enroll-token-file", Path.Combine(dataDir, "enroll.token"),
                .. trust,
            ]);
            using (var client = Session.CreateClient(config.Server, config.Token, config.CaCert))
            {
                await WaitForAgentAsync(client, new VmRef(config.DefaultSubscription!, resourceGroup, vmName), server, agent, cancellationToken);
            }

            lock (ConsoleLock)
            {
                Console.WriteLine();
                Console.WriteLine($"RunCommand is up: server {config.Server}, VM '{vmName}' in resource group '{resourceGroup}' with its agent connected.");
                Console.WriteLine("In another terminal, run a script on it:");
                Console.WriteLine();
                Console.WriteLine($"  ./runcmd vm run-command create -g {resourceGroup} --vm-name {vmName} -n hello --script 'echo Hello World!'");
                Console.WriteLine($"  ./runcmd vm run-command list -g {resourceGroup} --vm-name {vmName} -o table");
                Console.WriteLine();
                Console.WriteLine($"Or open the web portal at {config.Server.TrimEnd('/')}/portal/ and sign in with the token in {Path.Combine(dataDir, "admin.token")}.");
                Console.WriteLine();
                Console.WriteLine(IgnoresInterrupt()
                    ? $"Ctrl-C does not reach this runcmd (it started with SIGINT ignored, as a background job does): stop it with kill {Environment.ProcessId}."
                    : "Press Ctrl-C to stop the agent and the server.");
            }

            var exited = await Task.WhenAny(server.WaitForExitAsync(cancellationToken), agent.WaitForExitAsync(cancellationToken));
            if (!cancellationToken.IsCancellationRequested)
            {
                var which = exited.IsCompleted && server.HasExited ? ("server", server) : ("agent", agent);
                throw new CliException($"the {which.Item1} exited unexpectedly with code {which.Item2.ExitCode}; see its output above", ExitCodes.Failure);
            }

            return ExitCodes.Success;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return ExitCodes.Success;
        }
        finally
        {
            // Agent first, so it can report what it was doing to a server that is still there.
            await StopAsync("agent", agent);
            await StopAsync("server", server);
        }
    }

    /// <summary>
    /// Whether this process ignores SIGINT: a shell starts a background job so, and .NET keeps that, so Ctrl-C (and
    /// kill -INT) would do nothing while SIGTERM still stops it.
    /// </summary>
    private static bool IgnoresInterrupt()
    {
        try
        {
            var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal));
            return line is not null
                && ulong.TryParse(line.AsSpan("SigIgn:".Length).Trim(), System.Globalization.NumberStyles.HexNumber, null, out var ignored)
                && (ignored & (1UL << (2 - 1))) != 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static string ProgramPath(string variable, string role, string project)
    {
        var path = Environment.GetEnvironmentVariable(variable);
        if (string.IsNullOrEmpty(path))
        {
            throw new CliException($"{variable} is not set: start runcmd through the ./runcmd launcher at the repository root", ExitCodes.Failure);
        }

        return File.Exists(path)
            ? path
            : throw new CliException($"the {role} program is not built at {path} (is src/{project} part of this checkout?)", ExitCodes.Failure);
    }

    /// <summary>The first of Kestrel's --urls, with a wildcard host replaced by the loopback address.</summary>
    internal static Uri ClientUrl(string urls)
    {
        var first = urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? "";
        var wildcard = first.Replace("://+", "://127.0.0.1", StringComparison.Ordinal)
            .Replace("://*", "://127.0.0.1", StringComparison.Ordinal)
            .Replace("://0.0.0.0", "://127.0.0.1", StringComparison.Ordinal)
            .Replace("://[::]", "://[::1]", StringComparison.Ordinal);
        return Uri.TryCreate(wildcard, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)
            ? new Uri(uri.GetLeftPart(UriPartial.Authority))
            : throw CliException.Usage($"--urls: '{urls}' is not an http(s) URL");
    }

    private static async Task<bool> IsListeningAsync(Uri url, CancellationToken cancellationToken)
    {
        using var tcp = new TcpClient();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(2));
        try
        {
            await tcp.ConnectAsync(url.DnsSafeHost, url.Port, timeout.Token);
            return true;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    private static void CreatePrivateDirectory(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
        }
        else
        {
            Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    /// <summary>
    /// Starts <c>dotnet DLL args</c> and forwards its output line by line with a <c>[role]</c> prefix. The child gets
    /// its own session (via setsid when present) so a Ctrl-C in the terminal reaches only runcmd, which then stops
    /// the children in order.
    /// </summary>
    private static Process Start(string role, string dll, IReadOnlyList<string> arguments)
    {
        var useSetsid = File.Exists("/usr/bin/setsid");
        var info = new ProcessStartInfo(useSetsid ? "/usr/bin/setsid" : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (useSetsid)
        {
            info.ArgumentList.Add("dotnet");
        }

        info.ArgumentList.Add(dll);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) => Forward(role, e.Data, Console.Out);
        process.ErrorDataReceived += (_, e) => Forward(role, e.Data, Console.Error);
        if (!process.Start())
        {
            throw new CliException($"could not start the {role}", ExitCodes.Failure);
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static void Forward(string role, string? line, TextWriter writer)
    {
        if (line is null)
        {
            return;
        }

        lock (ConsoleLock)
        {
            writer.WriteLine($"[{role}] {line}");
        }
    }

    /// <summary>Waits for the server to write admin.token and accept it, then saves the login.</summary>
    private static async Task<CliConfig> LoginWhenReadyAsync(Process server, Uri serverUrl, string dataDir, CancellationToken cancellationToken)
    {
        var tokenPath = Path.Combine(dataDir, "admin.token");
        var deadline = DateTimeOffset.UtcNow + StartupTimeout;
        var lastProblem = $"{tokenPath} was not written";
        while (true)
        {
            if (server.HasExited)
            {
                throw new CliException($"the server exited with code {server.ExitCode} before it was ready; see its output above", ExitCodes.Failure);
            }

            if (File.Exists(tokenPath) && (await File.ReadAllTextAsync(tokenPath, cancellationToken)).Trim() is { Length: > 0 } token)
            {
                try
                {
                    return await LoginCommand.LoginAsync(serverUrl.ToString().TrimEnd('/'), token, FindServerCertificate(serverUrl, dataDir), cancellationToken);
                }
                catch (Exception e) when (e is ServerUnreachableException or ArmRequestException)
                {
                    lastProblem = e.Message;
                }
            }

            if (DateTimeOffset.UtcNow >= deadline)
            {
                throw new CliException($"the server was not ready within {StartupTimeout.TotalSeconds:0} seconds: {lastProblem}", ExitCodes.Failure);
            }

            await Task.Delay(StartupPollInterval, cancellationToken);
        }
    }

    /// <summary>For an https server, the self-signed certificate it wrote into its data directory.</summary>
    private static string? FindServerCertificate(Uri serverUrl, string dataDir)
    {
        if (serverUrl.Scheme != Uri.UriSchemeHttps)
        {
            return null;
        }

        return new[] { "server.crt", "tls.crt", "server.pem", "cert.pem" }
            .Select(name => Path.Combine(dataDir, name))
            .FirstOrDefault(File.Exists);
    }

    private static async Task WaitForAgentAsync(RunCommandClient client, VmRef vm, Process server, Process agent, CancellationToken cancellationToken)
    {
        var deadline = DateTimeOffset.UtcNow + StartupTimeout;
        var lastStatus = "not enrolled yet";
        while (true)
        {
            if (agent.HasExited || server.HasExited)
            {
                var (role, process) = agent.HasExited ? ("agent", agent) : ("server", server);
                throw new CliException($"the {role} exited with code {process.ExitCode} before the agent connected; see its output above", ExitCodes.Failure);
            }

            try
            {
                var status = (await client.GetVmAsync(vm, cancellationToken)).Properties.AgentInstanceView.Status;
                if (status == "Connected")
                {
                    return;
                }

                lastStatus = status;
            }
            catch (ArmRequestException e) when (e.StatusCode == HttpStatusCode.NotFound)
            {
                lastStatus = "not enrolled yet";
            }

            if (DateTimeOffset.UtcNow >= deadline)
            {
                throw new CliException($"the agent did not connect within {StartupTimeout.TotalSeconds:0} seconds (VM status: {lastStatus})", ExitCodes.Failure);
            }

            await Task.Delay(StartupPollInterval, cancellationToken);
        }
    }

    /// <summary>SIGTERM, a grace period, then SIGKILL; never throws.</summary>
    private static async Task StopAsync(string role, Process? process)
    {
        if (process is null)
        {
            return;
        }

        try
        {
            if (!process.HasExited)
            {
                Console.Error.WriteLine($"[up] stopping the {role} (pid {process.Id})");
                if (OperatingSystem.IsWindows() || Kill(process.Id, SigTerm) != 0)
                {
                    process.Kill(entireProcessTree: true);
                }

                if (!await ExitedWithinAsync(process, StopGrace))
                {
                    Console.Error.WriteLine($"[up] the {role} did not stop within {StopGrace.TotalSeconds:0} seconds; killing it");
                    process.Kill(entireProcessTree: true);
                    await ExitedWithinAsync(process, StopGrace);
                }
            }
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // Already gone.
        }
        finally
        {
            process.Dispose();
        }
    }

    /// <summary>
    /// True once the process has exited within <paramref name="timeout"/>; then its output is forwarded to the end,
    /// for <see cref="OutputDrain"/> at most. Process.WaitForExitAsync alone also waits for the end of the output, which
    /// never comes while a process the child started still holds the pipe: an exited child would look hung.
    /// </summary>
    private static async Task<bool> ExitedWithinAsync(Process process, TimeSpan timeout)
    {
        var exited = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        process.Exited += (_, _) => exited.TrySetResult();
        if (process.HasExited)
        {
            exited.TrySetResult();
        }

        try
        {
            await exited.Task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
            return false;
        }

        using var drain = new CancellationTokenSource(OutputDrain);
        try
        {
            await process.WaitForExitAsync(drain.Token);
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine($"[up] pid {process.Id} exited; a process it started still holds its output open");
        }

        return true;
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    private static extern int Kill(int pid, int signal);
}
