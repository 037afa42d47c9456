namespace RunCommand.Testing;

/// <summary>
/// What <c>packaging/build.sh</c> ships, in <c>dist/</c>. CI builds it once before the tests; a test that needs a build
/// that is missing or older than its sources builds it here (one test at a time, under a lock), never skips.
/// </summary>
public static class Dist
{
    private static readonly SemaphoreSlim InProcess = new(1, 1);

    public static string Root => Path.Combine(Repo.Root, "dist");

    /// <summary>The NativeAOT agent for linux-x64, built by the project's own build.</summary>
    public static Task<string> NativeAgentAsync() =>
        EnsureAsync(Path.Combine(Root, "linux-x64", "runcmd-agent"), "agent-linux-x64", ["src/RunCommand.Agent", "src/RunCommand.Contracts", "src/Native"]);

    /// <summary>
    /// The shipped server (self-contained, ReadyToRun) and the NativeAOT <c>runcmd</c> beside it in <c>dist/server/</c>:
    /// returns the server's path.
    /// </summary>
    public static async Task<string> ShippedServerAsync()
    {
        var dll = await EnsureAsync(Path.Combine(Root, "server", "RunCommand.Server.dll"), "server",
            [.. Directory.EnumerateDirectories(Path.Combine(Repo.Root, "src"))
                .Select(Path.GetFileName)
                .Where(project => project != "RunCommand.Agent")
                .Select(project => $"src/{project}")]);
        return Path.Combine(Path.GetDirectoryName(dll)!, "RunCommand.Server");
    }

    /// <summary>
    /// The .deb packages (agent amd64 and arm64, server amd64), with everything they hold; builds whatever is missing
    /// (the NativeAOT agents, the server) on first use.
    /// </summary>
    public static Task<string> PackagesAsync() =>
        EnsureAsync(Path.Combine(Root, $"runcmd-server_{Version}_amd64.deb"), "all",
            ["src", "deploy", "packaging"]);

    /// <summary>The version packaging/build.sh stamps (Directory.Build.props).</summary>
    public static string Version =>
        System.Text.RegularExpressions.Regex.Match(File.ReadAllText(Path.Combine(Repo.Root, "Directory.Build.props")),
            "<Version>([^<]+)</Version>").Groups[1].Value;

    private static async Task<string> EnsureAsync(string artifact, string target, string[] sources)
    {
        await InProcess.WaitAsync();
        try
        {
            Directory.CreateDirectory(Root);
            // Test assemblies run in parallel processes: a file lock makes the second wait and then find it fresh.
            using var crossProcess = await LockAsync(Path.Combine(Root, ".build.lock"));
            if (File.Exists(artifact) && File.GetLastWriteTimeUtc(artifact) >= NewestSource(sources))
            {
                return artifact;
            }

            Console.Error.WriteLine($"== {Path.GetRelativePath(Repo.Root, artifact)} is missing or older than its sources: packaging/build.sh {target} (a few minutes)");
            await using var build = ChildProcess.Start("packaging", Path.Combine(Repo.Root, "packaging", "build.sh"), target == "all" ? [] : [target]);
            var exit = await build.WaitForExitAsync(TimeSpan.FromMinutes(40));
            return exit == 0 && File.Exists(artifact)
                ? artifact
                : throw new InvalidOperationException($"packaging/build.sh {target} failed ({exit}):\n{build.Output}");
        }
        finally
        {
            InProcess.Release();
        }
    }

    private static DateTime NewestSource(string[] sources)
    {
        var newest = DateTime.MinValue;
        foreach (var source in sources)
        {
            foreach (var file in Directory.EnumerateFiles(Path.Combine(Repo.Root, source), "*", SearchOption.AllDirectories))
            {
                if (file.Contains("/obj/", StringComparison.Ordinal) || file.Contains("/bin/", StringComparison.Ordinal)
                    || file.Contains("/node_modules/", StringComparison.Ordinal))
                {
                    continue;
                }

                var time = File.GetLastWriteTimeUtc(file);
                newest = time > newest ? time : newest;
            }
        }

        return newest;
    }

    private static async Task<FileStream> LockAsync(string path)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(20);
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(500));
            }
        }
    }
}
