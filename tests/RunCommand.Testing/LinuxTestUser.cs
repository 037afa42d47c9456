using System.Diagnostics;
using System.Security.Cryptography;

namespace RunCommand.Testing;

/// <summary>
/// A real local user (useradd -m, password set through chpasswd's stdin), removed with userdel -r on dispose.
/// Needs root: the run-as tests run the agent as root, as in production; they fail (never skip) without it.
/// </summary>
public sealed class LinuxTestUser : IAsyncDisposable
{
    private LinuxTestUser(string name, string password)
    {
        Name = name;
        Password = password;
    }

    public string Name { get; }

    public string Password { get; }

    public static async Task<LinuxTestUser> CreateAsync()
    {
        if (Environment.UserName != "root")
        {
            throw new InvalidOperationException("run-as tests need root (useradd, setpriv, PAM with /etc/shadow)");
        }

        var name = "rct" + RandomNumberGenerator.GetHexString(10, lowercase: true);
        var password = "Pw-" + RandomNumberGenerator.GetHexString(16, lowercase: true);
        await RunAsync("useradd", null, "--create-home", "--shell", "/bin/bash", name);
        await RunAsync("chpasswd", $"{name}:{password}\n");
        return new LinuxTestUser(name, password);
    }

    /// <summary>A numeric field of <c>id</c> for this user (e.g. "-u", "-G").</summary>
    public async Task<string> IdAsync(string flag) => (await RunAsync("id", null, flag, Name)).Trim();

    public string Home => $"/home/{Name}";

    public async ValueTask DisposeAsync()
    {
        // -f: a process a failed test left behind must not keep the user (and its home) around.
        await RunAsync("userdel", null, allowFailure: true, "-f", "-r", Name);
    }

    private static Task<string> RunAsync(string file, string? stdin, params string[] args) => RunAsync(file, stdin, false, args);

    private static async Task<string> RunAsync(string file, string? stdin, bool allowFailure, params string[] args)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            psi.ArgumentList.Add(arg);
        }

        using var process = Process.Start(psi)!;
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
        }

        process.StandardInput.Close();
        var output = process.StandardOutput.ReadToEndAsync();
        var error = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0 && !allowFailure)
        {
            throw new InvalidOperationException($"{file} failed with exit code {process.ExitCode}: {error}");
        }

        return await output;
    }
}
