using RunCommand.Testing;

namespace RunCommand.Storage.Tests;

/// <summary>The test PostgreSQL's clean-up of directories that earlier test runs left behind.</summary>
public sealed class PostgresLeftoverTests : IDisposable
{
    private readonly string _temp = Directory.CreateTempSubdirectory("rc-leftovers-").FullName;

    [Fact]
    public void RemoveLeftovers_OldStoppedServerGoes_RunningRecentAndOtherDirectoriesStay()
    {
        var old = Make("rc-postgres-old", hoursAgo: 3, running: false);
        var running = Make("rc-postgres-running", hoursAgo: 3, running: true);
        var recent = Make("rc-postgres-recent", hoursAgo: 0, running: false);
        var other = Make("rc-sqlite-old", hoursAgo: 3, running: false);

        PostgresServer.RemoveLeftovers(_temp, PostgresServer.LeftoverAge);

        Assert.False(Directory.Exists(old));
        Assert.True(Directory.Exists(running));
        Assert.True(Directory.Exists(recent));
        Assert.True(Directory.Exists(other));
    }

    public void Dispose() => Directory.Delete(_temp, recursive: true);

    private string Make(string name, int hoursAgo, bool running)
    {
        var dir = Path.Combine(_temp, name);
        var data = Path.Combine(dir, "data");
        Directory.CreateDirectory(data);
        File.WriteAllText(Path.Combine(data, "PG_VERSION"), "15\n");
        if (running)
        {
            File.WriteAllText(Path.Combine(data, "postmaster.pid"), "1\n");
        }

        Directory.SetLastWriteTimeUtc(dir, DateTime.UtcNow.AddHours(-hoursAgo));
        return dir;
    }
}
