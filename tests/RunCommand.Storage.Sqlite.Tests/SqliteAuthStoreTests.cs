using Microsoft.Data.Sqlite;

namespace RunCommand.Storage.Sqlite.Tests;

public sealed class SqliteAuthStoreTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Now = new(2026, 11, 26, 4, 0, 0, TimeSpan.Zero);
    private readonly string _dir = Directory.CreateTempSubdirectory("rc-authstore-").FullName;
    private SqliteRunCommandStore _store = null!;

    private string DbPath => Path.Combine(_dir, "db.sqlite");

    public async Task InitializeAsync()
    {
        _store = new SqliteRunCommandStore(DbPath, new InProcessChangeFeed());
        await _store.InitializeAsync(default);
    }

    public Task DisposeAsync()
    {
        SqliteConnection.ClearAllPools();
        Directory.Delete(_dir, recursive: true);
        return Task.CompletedTask;
    }

    private static PrincipalRecord Principal(string name) =>
        new() { Id = Guid.NewGuid().ToString(), Name = name, Kind = PrincipalKinds.User, Created = Now };

    [Fact]
    public async Task CreatePrincipalAsync_NameTakenInAnyCase_ReturnsFalse()
    {
        Assert.True(await _store.CreatePrincipalAsync(Principal("Alice"), default));
        Assert.False(await _store.CreatePrincipalAsync(Principal("alice"), default));
        Assert.Equal("Alice", (await _store.FindPrincipalAsync("ALICE", default))!.Name);
    }

    [Fact]
    public async Task DeletePrincipalAsync_WithTokensAndAssignments_RemovesThemAll()
    {
        var bob = Principal("bob");
        await _store.CreatePrincipalAsync(bob, default);
        await _store.IssueApiTokenAsync(new ApiTokenRecord { Id = "t1", PrincipalId = bob.Id, Created = Now }, [9, 9], default);
        await _store.CreateRoleAssignmentAsync(new RoleAssignmentRecord { Id = "a1", PrincipalId = bob.Id, RoleDefinitionId = "r", Scope = "/", Created = Now }, default);

        Assert.True(await _store.DeletePrincipalAsync(bob.Id, default));

        Assert.Null(await _store.FindApiTokenAsync([9, 9], default));
        Assert.Empty(await _store.ListRoleAssignmentsAsync(bob.Id, default));
    }

    [Fact]
    public async Task RevokeApiTokenAsync_Twice_KeepsTheFirstTime()
    {
        var carol = Principal("carol");
        await _store.CreatePrincipalAsync(carol, default);
        await _store.IssueApiTokenAsync(new ApiTokenRecord { Id = "t2", PrincipalId = carol.Id, Created = Now, Expires = Now.AddDays(1) }, [7], default);

        Assert.True(await _store.RevokeApiTokenAsync("t2", Now.AddHours(1), default));
        Assert.True(await _store.RevokeApiTokenAsync("t2", Now.AddHours(2), default));

        var (token, principal) = (await _store.FindApiTokenAsync([7], default))!.Value;
        Assert.Equal(Now.AddHours(1), token.Revoked);
        Assert.Equal(Now.AddDays(1), token.Expires);
        Assert.Equal("carol", principal.Name);
    }

    [Fact]
    public async Task ConsumeEnrollmentTokenAsync_LastUse_IsGivenOnce()
    {
        var vm = new VmKey("00000000-0000-0000-0000-000000000001", "Group", "vm");
        await _store.IssueEnrollmentTokenAsync(new EnrollmentTokenRecord
        {
            Id = "e1", SubscriptionId = vm.SubscriptionId, ResourceGroup = "group", Created = Now, MaxUses = 1,
        }, [5], default);

        Assert.Equal(EnrollmentTokenUse.WrongResourceGroup, await _store.ConsumeEnrollmentTokenAsync([5], vm with { ResourceGroup = "other" }, Now, default));
        var uses = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => _store.ConsumeEnrollmentTokenAsync([5], vm, Now, default)));
        Assert.Single(uses, u => u == EnrollmentTokenUse.Accepted);
        Assert.All(uses.Where(u => u != EnrollmentTokenUse.Accepted), u => Assert.Equal(EnrollmentTokenUse.UsedUp, u));
    }

    [Fact]
    public async Task Audit_UpdateOrDeleteBySql_IsRefused()
    {
        await _store.AppendAuditAsync(new AuditRecord
        {
            Id = "x", Time = Now, Caller = "alice", Action = "a/write", ResourceId = "/subscriptions/s/resourceGroups/RG/x",
            ResourceGroup = "RG", HttpMethod = "PUT", StatusCode = 201,
        }, default);
        Assert.Single(await _store.ListAuditAsync(new AuditQuery { ResourceGroup = "rg", Caller = "ALICE", From = Now }, default));
        Assert.Empty(await _store.ListAuditAsync(new AuditQuery { From = Now.AddSeconds(1) }, default));

        await using var connection = new SqliteConnection($"Data Source={DbPath}");
        await connection.OpenAsync();
        foreach (var sql in new[] { "UPDATE audit SET caller = 'mallory'", "DELETE FROM audit" })
        {
            await using var command = connection.CreateCommand();
            command.CommandText = sql;
            var e = await Assert.ThrowsAsync<SqliteException>(() => command.ExecuteNonQueryAsync());
            Assert.Contains("append-only", e.Message, StringComparison.Ordinal);
        }
    }
}
