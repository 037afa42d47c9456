using RunCommand.Server.Hosting;
using RunCommand.Storage;

namespace RunCommand.Server.Tests;

/// <summary>
/// Leases on background work: one node drives a run; another may take it only once the lease ran out, and the first
/// then loses it. Real SQLite file; each node is its own WorkLeases; time is moved, not waited.
/// </summary>
public sealed class LeaseTests() : SqliteStoreTests("rc-leases-")
{
    private readonly ManualTime _time = new(DateTimeOffset.Parse("2026-01-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));

    [Fact]
    public async Task Hold_WhileOwnerRenews_OtherNodeNeverGetsIt()
    {
        var a = new WorkLeases(Storage.Leases, _time);
        var b = new WorkLeases(Storage.Leases, _time);

        Assert.True(await a.HoldAsync(LeaseKind.FleetRun, "run1", CancellationToken.None));
        for (var i = 0; i < 10; i++)
        {
            _time.Now += WorkLeases.RenewInterval;
            Assert.True(await a.HoldAsync(LeaseKind.FleetRun, "run1", CancellationToken.None));
            Assert.False(await b.HoldAsync(LeaseKind.FleetRun, "run1", CancellationToken.None));
            Assert.False(await b.IsFreeAsync(LeaseKind.FleetRun, "run1", CancellationToken.None));
        }

        // Another kind or key is another lease.
        Assert.True(await b.HoldAsync(LeaseKind.Deployment, "run1", CancellationToken.None));
    }

    [Fact]
    public async Task Hold_OwnerStoppedRenewing_OtherNodeTakesItAfterTheDurationAndOwnerLosesIt()
    {
        var a = new WorkLeases(Storage.Leases, _time);
        var b = new WorkLeases(Storage.Leases, _time);
        Assert.True(await a.HoldAsync(LeaseKind.Deployment, "d1", CancellationToken.None));

        _time.Now += WorkLeases.Duration - TimeSpan.FromSeconds(1);
        Assert.False(await b.HoldAsync(LeaseKind.Deployment, "d1", CancellationToken.None));
        _time.Now += TimeSpan.FromSeconds(1);
        Assert.True(await b.HoldAsync(LeaseKind.Deployment, "d1", CancellationToken.None));

        Assert.False(await a.HoldAsync(LeaseKind.Deployment, "d1", CancellationToken.None));
        Assert.Equal(b.NodeId, (await Storage.Leases.GetAsync(LeaseKind.Deployment, "d1", CancellationToken.None))!.Owner);
    }

    [Fact]
    public async Task Release_ByOwner_FreesAtOnce_ByOtherNode_ChangesNothing()
    {
        var a = new WorkLeases(Storage.Leases, _time);
        var b = new WorkLeases(Storage.Leases, _time);
        Assert.True(await a.HoldAsync(LeaseKind.FleetRun, "r", CancellationToken.None));

        await b.ReleaseAsync(LeaseKind.FleetRun, "r", CancellationToken.None);
        Assert.False(await b.IsFreeAsync(LeaseKind.FleetRun, "r", CancellationToken.None));
        await a.ReleaseAsync(LeaseKind.FleetRun, "r", CancellationToken.None);
        Assert.True(await b.HoldAsync(LeaseKind.FleetRun, "r", CancellationToken.None));
    }
}
