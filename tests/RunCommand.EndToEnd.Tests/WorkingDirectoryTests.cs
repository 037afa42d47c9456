using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>What the directory a server starts in costs it: nothing (systemd starts services in /).</summary>
public sealed class WorkingDirectoryTests
{
    [Fact]
    public async Task Start_InTheRootDirectory_WatchesNoDirectory()
    {
        var dataDir = Directory.CreateTempSubdirectory("rc-cwd-").FullName;
        try
        {
            // ASP.NET's default was an inotify watch on every directory under the content root, the working directory:
            // started in /, the shipped server put 51,171 watches on the whole file system and took 10-50 s to answer.
            await using var server = await ServerProcess.StartAsync(dataDir, workingDirectory: "/");

            var watches = Directory.GetFiles($"/proc/{server.Process.Pid}/fd")
                .Where(fd => new FileInfo(fd).LinkTarget == "anon_inode:inotify")
                .Sum(fd => File.ReadLines($"/proc/{server.Process.Pid}/fdinfo/{Path.GetFileName(fd)}").Count(l => l.StartsWith("inotify", StringComparison.Ordinal)));
            Assert.Equal(0, watches);
            using var http = server.CreateHttpClient();
            Assert.True((await http.GetAsync("/healthz")).IsSuccessStatusCode);
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }
}
