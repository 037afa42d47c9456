namespace RunCommand.Storage.Tests;

/// <summary>Principals, tokens, roles, enrollment tokens and the activity log on any backend.</summary>
public abstract class IdentityStoreContract<TBackends> : StoreContract<TBackends>
    where TBackends : IBackendFactory, new()
{

    private static PrincipalRecord Principal(string name) =>
        new() { Id = Guid.NewGuid().ToString(), Name = name, Kind = PrincipalKind.User, Created = Now };

    [Fact]
    public async Task CreatePrincipalAsync_NameTakenInAnyCase_ReturnsFalse()
    {
        Assert.True(await Identity.CreatePrincipalAsync(Principal("Alice"), default));
        Assert.False(await Identity.CreatePrincipalAsync(Principal("alice"), default));
        Assert.Equal("Alice", (await Identity.FindPrincipalAsync("ALICE", default))!.Name);
    }

    [Fact]
    public async Task DeletePrincipalAsync_WithTokensAndAssignments_RemovesThemAll()
    {
        var bob = Principal("bob");
        await Identity.CreatePrincipalAsync(bob, default);
        await Identity.IssueApiTokenAsync(new ApiTokenRecord { Id = "t1", PrincipalId = bob.Id, Created = Now }, [9, 9], default);
        await Identity.CreateRoleAssignmentAsync(new RoleAssignmentRecord { Id = "a1", PrincipalId = bob.Id, RoleDefinitionId = "r", Scope = "/", Created = Now }, default);

        Assert.True(await Identity.DeletePrincipalAsync(bob.Id, default));

        Assert.Null(await Identity.FindApiTokenAsync([9, 9], default));
        Assert.Empty(await Identity.ListRoleAssignmentsAsync(bob.Id, default));
    }

    [Fact]
    public async Task RevokeApiTokenAsync_Twice_KeepsTheFirstTime()
    {
        var carol = Principal("carol");
        await Identity.CreatePrincipalAsync(carol, default);
        await Identity.IssueApiTokenAsync(new ApiTokenRecord { Id = "t2", PrincipalId = carol.Id, Created = Now, Expires = Now.AddDays(1) }, [7], default);

        Assert.True(await Identity.RevokeApiTokenAsync("t2", Now.AddHours(1), default));
        Assert.True(await Identity.RevokeApiTokenAsync("t2", Now.AddHours(2), default));

        var (token, principal) = (await Identity.FindApiTokenAsync([7], default))!.Value;
        Assert.Equal(Now.AddHours(1), token.Revoked);
        Assert.Equal(Now.AddDays(1), token.Expires);
        Assert.Equal("carol", principal.Name);
    }

    [Fact]
    public async Task ConsumeEnrollmentTokenAsync_LastUse_IsGivenOnce()
    {
        var vm = new VmKey("00000000-0000-0000-0000-000000000001", "Group", "vm");
        await Identity.IssueEnrollmentTokenAsync(new EnrollmentTokenRecord
        {
            Id = "e1", SubscriptionId = vm.SubscriptionId, ResourceGroup = "group", Created = Now, MaxUses = 1,
        }, [5], default);

        Assert.Equal(EnrollmentTokenUse.WrongResourceGroup, await Identity.ConsumeEnrollmentTokenAsync([5], vm with { ResourceGroup = "other" }, Now, default));
        var uses = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Identity.ConsumeEnrollmentTokenAsync([5], vm, Now, default)));
        Assert.Single(uses, u => u == EnrollmentTokenUse.Accepted);
        Assert.All(uses.Where(u => u != EnrollmentTokenUse.Accepted), u => Assert.Equal(EnrollmentTokenUse.UsedUp, u));
    }

    [Fact]
    public async Task Audit_UpdateOrDeleteBySql_IsRefused()
    {
        await ActivityLog.AppendAuditAsync(new AuditRecord
        {
            Id = "x", Time = Now, Caller = "alice", Action = "a/write", ResourceId = "/subscriptions/s/resourceGroups/RG/x",
            ResourceGroup = "RG", HttpMethod = "PUT", StatusCode = 201,
        }, default);
        Assert.Single(await ActivityLog.ListAuditAsync(new AuditQuery { ResourceGroup = "rg", Caller = "ALICE", From = Now }, default));
        Assert.Empty(await ActivityLog.ListAuditAsync(new AuditQuery { From = Now.AddSeconds(1) }, default));

        foreach (var sql in new[] { "UPDATE audit SET caller = 'mallory'", "DELETE FROM audit" })
        {
            var e = await Assert.ThrowsAnyAsync<System.Data.Common.DbException>(() => Backends.ExecuteSqlAsync(sql));
            Assert.Contains("append-only", e.Message, StringComparison.Ordinal);
        }
    }
}
