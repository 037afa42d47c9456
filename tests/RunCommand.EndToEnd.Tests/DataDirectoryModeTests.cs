using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>The server's data directory and database files are its user's alone, even when the directory was made looser beforehand.</summary>
public sealed class DataDirectoryModeTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rc-modes-").FullName;

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        Directory.Delete(_dir, recursive: true);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Start_DataDirMadeWorldReadable_ForcesItTo0700AndCreatesTheDatabase0600()
    {
        var dataDir = Path.Combine(_dir, "server");
        Directory.CreateDirectory(dataDir);
        File.SetUnixFileMode(dataDir, (UnixFileMode)0b111_101_101);

        await using (await ServerProcess.StartAsync(dataDir))
        {
            // While it runs: the database, its -wal and -shm (the server wrote its tokens' hashes at start).
            Assert.Equal((UnixFileMode)0b111_000_000, File.GetUnixFileMode(dataDir));
            var databaseFiles = Directory.GetFiles(dataDir, "runcommand.db*");
            Assert.Contains(databaseFiles, f => f.EndsWith("runcommand.db", StringComparison.Ordinal));
            Assert.All(databaseFiles, f => Assert.Equal((UnixFileMode)0b110_000_000, File.GetUnixFileMode(f)));

            // Output files go in a directory of their own beside the database (docs/storage.md, "Output files").
            Assert.Equal((UnixFileMode)0b111_000_000, File.GetUnixFileMode(Path.Combine(dataDir, "runcommand.db-output")));
        }
    }
}
