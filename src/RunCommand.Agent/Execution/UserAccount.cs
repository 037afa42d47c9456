using System.Diagnostics;
using System.Globalization;

namespace RunCommand.Agent.Execution;

/// <summary>The passwd entry a script runs as (<c>runAsUser</c>).</summary>
internal sealed record UserAccount(string Name, int Uid, int Gid, string Home, string Shell)
{
    /// <summary>
    /// Looks the user up through NSS (<c>getent passwd</c>, so LDAP/SSSD users work too). Returns null when the
    /// user does not exist or the name is not a plausible user name.
    /// </summary>
    public static async Task<UserAccount?> LookupAsync(string name, CancellationToken cancellationToken)
    {
        if (!IsPlausibleName(name))
        {
            return null;
        }

        var psi = new ProcessStartInfo("getent") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add("passwd");
        psi.ArgumentList.Add(name);
        using var process = Process.Start(psi)!;
        var output = await process.StandardOutput.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        return process.ExitCode == 0 ? Parse(output) : null;
    }

    internal static UserAccount? Parse(string passwdLine)
    {
        var fields = passwdLine.TrimEnd('\n').Split(':');
        return fields.Length >= 7
            && int.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out var uid)
            && int.TryParse(fields[3], NumberStyles.None, CultureInfo.InvariantCulture, out var gid)
            ? new UserAccount(fields[0], uid, gid, fields[5], fields[6].Length > 0 ? fields[6] : "/bin/sh")
            : null;
    }

    private static bool IsPlausibleName(string name) =>
        name.Length is > 0 and <= 64
        && name[0] != '-'
        && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '-' or '$' or '@');
}
