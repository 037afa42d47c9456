using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>What packaging/build.sh ships: the .deb layouts, their maintainer scripts, the systemd units, the glibc floors.</summary>
public sealed class PackagingTests : IAsyncLifetime
{
    // Every extracted package is about 300 MB on disk; a test's scope removes what it extracted.
    private readonly TestScope _scope = new("rc-deb-");

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => _scope.DisposeAsync().AsTask();

    [Fact]
    public async Task AgentDebs_Contents_BinaryUnitAndConfigInPlace()
    {
        await Dist.PackagesAsync();
        foreach (var arch in new[] { "amd64", "arm64" })
        {
            var deb = Path.Combine(Dist.Root, $"runcmd-agent_{Dist.Version}_{arch}.deb");
            var contents = await RunAsync("dpkg-deb", "--contents", deb);
            Assert.Matches(@"-rwxr-xr-x root/root .* \./usr/bin/runcmd-agent\n", contents);
            Assert.Contains("./lib/systemd/system/runcmd-agent.service", contents, StringComparison.Ordinal);
            Assert.Contains("./etc/runcmd/agent.conf", contents, StringComparison.Ordinal);
            Assert.Contains($"Architecture: {arch}", await RunAsync("dpkg-deb", "--field", deb), StringComparison.Ordinal);
            var dir = Extract(deb);
            Assert.Equal("/etc/runcmd/agent.conf", (await File.ReadAllTextAsync(Path.Combine(dir, "DEBIAN", "conffiles"))).Trim());
            var elf = await RunAsync("file", "-b", Path.Combine(dir, "usr/bin/runcmd-agent"));
            Assert.Contains(arch == "amd64" ? "x86-64" : "aarch64", elf, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task ServerDeb_Contents_ServerCliAndEveryAgentBuild()
    {
        await Dist.PackagesAsync();
        var deb = Path.Combine(Dist.Root, $"runcmd-server_{Dist.Version}_amd64.deb");
        var contents = await RunAsync("dpkg-deb", "--contents", deb);
        foreach (var path in new[]
        {
            "./usr/lib/runcmd/server/RunCommand.Server", "./usr/lib/runcmd/server/runcmd", "./lib/systemd/system/runcmd-server.service",
            "./etc/runcmd/server.conf", "./usr/lib/runcmd/agent/linux-x64/runcmd-agent", "./usr/lib/runcmd/agent/linux-arm64/runcmd-agent",
            "./usr/lib/runcmd/agent/linux-x64-compat/runcmd-agent", "./usr/lib/runcmd/agent/linux-arm64-compat/runcmd-agent",
            "./usr/bin/runcmd-server -> ../lib/runcmd/server/RunCommand.Server", "./usr/bin/runcmd -> ../lib/runcmd/server/runcmd",
        })
        {
            Assert.Contains(path, contents, StringComparison.Ordinal);
        }

        // The packaged server reads its packaged config: the agent builds it hands out are where server.conf says.
        var dir = Extract(deb);
        var config = await File.ReadAllTextAsync(Path.Combine(dir, "etc/runcmd/server.conf"));
        Assert.Contains("agent-binaries-dir = /usr/lib/runcmd/agent", config, StringComparison.Ordinal);
        Assert.Contains("--agent-binaries-dir", await RunAsync(Path.Combine(dir, "usr/lib/runcmd/server/RunCommand.Server"), "--help"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task MaintainerScripts_Parse()
    {
        await Dist.PackagesAsync();
        foreach (var deb in Directory.GetFiles(Dist.Root, "*.deb"))
        {
            var dir = Extract(deb);
            foreach (var script in new[] { "postinst", "prerm" })
            {
                await RunAsync("sh", "-n", Path.Combine(dir, "DEBIAN", script));
            }
        }
    }

    [Fact]
    public async Task Units_SystemdAnalyzeVerify_AcceptsThemWithThePackagedBinaries()
    {
        await Dist.PackagesAsync();
        foreach (var (package, unit) in new[] { ("runcmd-agent_{0}_amd64.deb", "runcmd-agent.service"), ("runcmd-server_{0}_amd64.deb", "runcmd-server.service") })
        {
            var dir = Extract(Path.Combine(Dist.Root, string.Format(System.Globalization.CultureInfo.InvariantCulture, package, Dist.Version)));
            // Verify checks that ExecStart exists: point it at the binary as the package installs it (under the test root).
            var text = await File.ReadAllTextAsync(Path.Combine(dir, "lib/systemd/system", unit));
            var rooted = System.Text.RegularExpressions.Regex.Replace(text, "^ExecStart=/", $"ExecStart={dir}/", System.Text.RegularExpressions.RegexOptions.Multiline);
            var copy = Path.Combine(dir, unit);
            await File.WriteAllTextAsync(copy, rooted);
            var output = await RunAsync("systemd-analyze", "verify", copy);
            Assert.True(output.Trim().Length == 0, $"systemd-analyze verify {unit}:\n{output}");
        }
    }

    [Fact]
    public async Task GlibcFloors_NoBuildAboveItsAllowedFloor()
    {
        await Dist.PackagesAsync();
        var output = await RunAsync(Path.Combine(Repo.Root, "packaging", "glibc-floor.sh"), "--check", Dist.Root);
        foreach (var build in new[] { "linux-x64", "linux-arm64", "linux-x64-compat", "linux-arm64-compat", "server" })
        {
            Assert.Matches($"glibc floor: {build} 2\\.[0-9]+ ", output);
        }
    }

    private string Extract(string deb)
    {
        var dir = Directory.CreateDirectory(Path.Combine(_scope.Dir, Path.GetFileNameWithoutExtension(deb))).FullName;
        RunAsync("dpkg-deb", "-x", deb, dir).GetAwaiter().GetResult();
        RunAsync("dpkg-deb", "-e", deb, Path.Combine(dir, "DEBIAN")).GetAwaiter().GetResult();
        return dir;
    }

    /// <summary>Runs a program; its output (stdout and stderr); fails the test on a non-zero exit.</summary>
    private static async Task<string> RunAsync(string program, params string[] args)
    {
        var path = program.Contains('/', StringComparison.Ordinal) ? program : ProgramPath(program);
        await using var process = ChildProcess.Start(program, path, args);
        var exit = await process.WaitForExitAsync(TimeSpan.FromMinutes(2));
        Assert.True(exit == 0, $"{program} {string.Join(' ', args)} exited {exit}:\n{process.Output}");
        return process.Output;
    }

    private static string ProgramPath(string name) =>
        new[] { "/usr/bin", "/bin", "/usr/sbin", "/sbin" }.Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists)
        ?? throw new InvalidOperationException($"{name} is not installed (.ci/run installs it)");
}
