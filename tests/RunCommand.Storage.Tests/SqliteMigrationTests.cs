using System.Security.Cryptography;
using System.Text;
using Microsoft.Data.Sqlite;
using RunCommand.Storage.Sqlite;

namespace RunCommand.Storage.Tests;

/// <summary>What only the embedded backend has: data directories of earlier releases, and the database file's mode.</summary>
public sealed class SqliteMigrationTests : IAsyncLifetime
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private readonly string _dir = Directory.CreateTempSubdirectory("rc-sqlite-").FullName;

    private string DatabaseFile => Path.Combine(_dir, "runcommand.db");

    // IAsyncLifetime, not IAsyncDisposable: xunit 2 never calls the latter on a test class.
    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
        return Task.CompletedTask;
    }

    /// <summary>
    /// A file made before retention has auto_vacuum NONE, which only a whole VACUUM (outside any transaction) changes:
    /// migrating converts it once, keeping its rows, so incremental vacuum can give deleted output back.
    /// </summary>
    [Fact]
    public async Task Migrate_FileWithoutAutoVacuum_IsConvertedToIncrementalAndKeepsItsRows()
    {
        await using (var connection = new SqliteConnection($"Data Source={DatabaseFile};Pooling=False"))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = "PRAGMA journal_mode=WAL; CREATE TABLE keep(v TEXT); INSERT INTO keep VALUES('kept');";
            await command.ExecuteNonQueryAsync();
        }

        await using var storage = new RunCommandStorage(new SqliteBackend(DatabaseFile, new InProcessChangeFeed()));
        await storage.MigrateAsync(default);

        await using var check = new SqliteConnection($"Data Source={DatabaseFile};Pooling=False");
        await check.OpenAsync();
        await using var read = check.CreateCommand();
        read.CommandText = "PRAGMA auto_vacuum";
        Assert.Equal(2L, await read.ExecuteScalarAsync());
        read.CommandText = "SELECT v FROM keep";
        Assert.Equal("kept", await read.ExecuteScalarAsync());
        Assert.True((await storage.CheckReadinessAsync(default)).Ready);
    }

    /// <summary>
    /// Fixtures/previous-release is the data directory of the release before versioned migrations (main at 026edfe):
    /// a VM "fixture-vm" in group "fixture" with run commands hello, params (with a protected parameter) and fails,
    /// a command document, a user alice with a token and a Reader assignment, and a finished fleet run (its run command fleet-fixture-fleet).
    /// </summary>
    [Fact]
    public async Task Migrate_DataDirectoryOfThePreviousRelease_OpensAndKeepsEverything()
    {
        foreach (var file in Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Fixtures", "previous-release")))
        {
            File.Copy(file, Path.Combine(_dir, Path.GetFileName(file)));
        }

        var subscription = File.ReadAllText(Path.Combine(_dir, "subscription.id")).Trim();
        var adminToken = File.ReadAllText(Path.Combine(_dir, "admin.token")).Trim();
        await using var storage = new RunCommandStorage(new SqliteBackend(DatabaseFile, new InProcessChangeFeed()));

        Assert.False((await storage.CheckReadinessAsync(default)).Ready);
        await storage.MigrateAsync(default);
        await storage.MigrateAsync(default);

        Assert.True((await storage.CheckReadinessAsync(default)).Ready);
        var vm = Assert.Single(await storage.Machines.ListVmsAsync(subscription, "fixture", default));
        Assert.Equal("fixture-vm", vm.Vm.VmName);
        var commands = await storage.RunCommands.ListRunCommandsAsync(vm.Vm, null, 25, default);
        Assert.Equal(["fails", "fleet-fixture-fleet", "hello", "params"], commands.Select(c => c.Command.Name));
        var hello = commands.Single(c => c.Command.Name == "hello");
        Assert.Equal(ExecutionState.Succeeded, hello.Execution.State);
        Assert.Equal("Hello fixture\n", Encoding.UTF8.GetString(await storage.RunCommands.ReadOutputAsync(hello.Execution.ExecutionId, OutputStream.Stdout, 0, 1000, default)));
        var fails = commands.Single(c => c.Command.Name == "fails");
        Assert.Equal((ExecutionState.Failed, 3), (fails.Execution.State, fails.Execution.ExitCode));
        Assert.NotNull(commands.Single(c => c.Command.Name == "params").SealedSecrets);
        Assert.Equal(["echo doc $1"], (await storage.CommandDocuments.GetCommandDocumentAsync("FIXTURE-DOC", default))!.Document.Script);
        var alice = (await storage.Identity.FindPrincipalAsync("alice@example.com", default))!;
        Assert.Equal(PrincipalKind.User, alice.Kind);
        Assert.Single(await storage.Identity.ListApiTokensAsync(alice.Id, default));
        Assert.Single(await storage.Identity.ListRoleAssignmentsAsync(alice.Id, default));
        Assert.Equal(SHA256.HashData(Encoding.UTF8.GetBytes(adminToken)), await storage.Identity.GetTokenHashAsync("admin", default));
        var fleet = Assert.Single(await storage.FleetRuns.ListFleetRunsAsync(subscription, "fixture", default));
        Assert.Equal(FleetRunState.Succeeded, fleet.State);

        // And it keeps working: the agent's next report and a new run command land in the migrated schema.
        Task<WriteOutcome> PutAsync(string name, string executionId, string operationId) => storage.RunCommands.PutRunCommandAsync(new RunCommandWrite
        {
            Command = new RunCommandKey(vm.Vm, name),
            Location = "local",
            Spec = new RunCommandSpec { Script = "true" },
            Fingerprint = "f",
            MaxRunCommandsPerVm = 5,
        }, executionId, operationId, DateTimeOffset.UtcNow, default);

        Assert.Equal(WriteOutcomeKind.Created, (await PutAsync("after-upgrade", "e-new", "o-new")).Kind);
        // The VM's kept count of run commands (migration 0006) holds the four it had: a sixth is over a limit of 5.
        Assert.Equal(WriteOutcomeKind.LimitReached, (await PutAsync("sixth", "e-sixth", "o-sixth")).Kind);
        Assert.Equal("e-new", Assert.Single((await storage.AgentWork.LeaseGoalStateAsync(vm.Vm, default)).Work).Execution.ExecutionId);
    }

    [Fact]
    public async Task Migrate_DatabaseFromBeforeScaleSetsAndAgentKeys_AddsTheColumnsAndKeepsItsVms()
    {
        await using (var connection = new SqliteConnection($"Data Source={DatabaseFile}"))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = """
                CREATE TABLE vms(key TEXT PRIMARY KEY, subscription TEXT NOT NULL, resource_group TEXT NOT NULL, name TEXT NOT NULL, location TEXT NOT NULL,
                    vm_id TEXT NOT NULL, tags TEXT, agent_token_hash BLOB UNIQUE, last_contact TEXT, hostname TEXT, agent_version TEXT, created TEXT NOT NULL,
                    goal_version INTEGER NOT NULL DEFAULT 1);
                INSERT INTO vms(key, subscription, resource_group, name, location, vm_id, agent_token_hash, created)
                VALUES('k', 's', 'g', 'old', 'local', 'id', x'0102', '2026-01-01T00:00:00.0000000Z');
                """;
            await command.ExecuteNonQueryAsync();
        }

        SqliteConnection.ClearAllPools();
        await using var storage = new RunCommandStorage(new SqliteBackend(DatabaseFile, new InProcessChangeFeed()));
        await storage.MigrateAsync(default);

        var vm = Assert.Single(await storage.Machines.ListVmsAsync("s", null, default));
        Assert.Null(vm.Vm.ScaleSetName);
        Assert.Equal("old", (await storage.Machines.FindVmByAgentTokenAsync([1, 2], default))!.Vm.VmName);
    }

    [Fact]
    public async Task Migrate_NewDatabase_IsCreatedReadableByItsOwnerOnly()
    {
        await using var storage = new RunCommandStorage(new SqliteBackend(DatabaseFile, new InProcessChangeFeed()));

        await storage.MigrateAsync(default);
        await storage.Identity.SetTokenHashAsync("admin", [1], default);

        foreach (var file in Directory.GetFiles(_dir, "runcommand.db*"))
        {
            Assert.Equal(OwnerOnly, File.GetUnixFileMode(file));
        }
    }

    [Fact]
    public async Task Migrate_ExistingDatabaseWithLooserModes_IsTightenedTo0600()
    {
        await using (var first = new RunCommandStorage(new SqliteBackend(DatabaseFile, new InProcessChangeFeed())))
        {
            await first.MigrateAsync(default);
        }

        SqliteConnection.ClearAllPools();
        File.SetUnixFileMode(DatabaseFile, OwnerOnly | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        await using var storage = new RunCommandStorage(new SqliteBackend(DatabaseFile, new InProcessChangeFeed()));

        await storage.MigrateAsync(default);

        Assert.Equal(OwnerOnly, File.GetUnixFileMode(DatabaseFile));
    }
}
