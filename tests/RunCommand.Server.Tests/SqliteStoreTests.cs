using Microsoft.Data.Sqlite;
using RunCommand.Storage;
using RunCommand.Storage.Sqlite;

namespace RunCommand.Server.Tests;

/// <summary>
/// Base of the tests that build server components ("nodes") over one real, migrated SQLite database file in a temp
/// dir of their own: every node a test makes shares <see cref="Storage"/>, as nodes share one database.
/// </summary>
public abstract class SqliteStoreTests(string prefix) : IAsyncLifetime
{
    /// <summary>The test's own temp dir (deleted after it), holding the database file.</summary>
    protected string Root { get; } = Directory.CreateTempSubdirectory(prefix).FullName;

    protected string DatabaseFile => Path.Combine(Root, "shared.db");

    protected RunCommandStorage Storage { get; private set; } = null!;

    public virtual async Task InitializeAsync()
    {
        Storage = new RunCommandStorage(new SqliteBackend(DatabaseFile, new InProcessChangeFeed()));
        await Storage.MigrateAsync(CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        await Storage.DisposeAsync();
        SqliteConnection.ClearAllPools();
        // A component under test may still finish background work it started on its own (AgentAssertionReplay's
        // purge runs fire-and-forget), recreating the database's -wal/-shm files while the dir is deleted: try again.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                Directory.Delete(Root, recursive: true);
                return;
            }
            catch (IOException) when (attempt < 20)
            {
                await Task.Delay(100);
            }
        }
    }
}
