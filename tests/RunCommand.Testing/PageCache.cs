using System.Diagnostics;
using System.Globalization;

namespace RunCommand.Testing;

/// <summary>What the kernel holds of a file in its page cache, as util-linux's <c>fincore</c> counts it.</summary>
public static class PageCache
{
    /// <summary>Bytes of the file at <paramref name="path"/> resident in the page cache.</summary>
    public static long CachedBytes(string path)
    {
        var psi = new ProcessStartInfo("fincore") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { "--bytes", "--noheadings", "--output", "RES", path })
        {
            psi.ArgumentList.Add(arg);
        }

        using var process = Process.Start(psi)!;
        var output = process.StandardOutput.ReadToEnd();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0 || !long.TryParse(output.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var bytes))
        {
            throw new InvalidOperationException($"fincore {path} exited {process.ExitCode}: {output}{error}");
        }

        return bytes;
    }
}
