using System.Data.Common;

namespace RunCommand.Storage.Tests;

/// <summary>
/// Group commit (<c>SqlBackend.GroupCommit.cs</c>): concurrent writes share a transaction, yet each caller sees only
/// its own outcome: a unit that throws, or whose statement the database refuses, is rolled back alone and its error
/// goes to its caller; the others commit and their topics are published.
/// </summary>
public abstract class GroupCommitContract<TBackends> : StoreContract<TBackends>
    where TBackends : IBackendFactory, new()
{
    private static AuditRecord Entry(string id) => new()
    {
        Id = id, Time = Now, Action = "test/write", ResourceId = "/x", HttpMethod = "PUT", StatusCode = 200,
    };

    private static Func<IRows, Task<int>> Append(string id, int result) => async rows =>
    {
        await rows.InsertAuditAsync(Entry(id), default);
        rows.Notify("topic:" + id);
        return result;
    };

    [Fact]
    public async Task WriteAsync_ReadAfterWritesOfTheSameUnit_SeesThemAndARefusedOneFailsOnlyThatUnit()
    {
        await using var backend = await Backends.OpenAsync(Changes);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var first = backend.WriteAsync(async rows =>
        {
            await gate.Task;
            return await Append("first", 0)(rows);
        }, default);

        // Statements that answer nothing may travel with the next one (PostgreSQL batches them): a read after them
        // still sees them, in order, and a refused one fails its own unit there, before the unit goes on.
        var seen = backend.WriteAsync(async rows =>
        {
            await rows.InsertAuditAsync(Entry("w1"), default);
            await rows.InsertAuditAsync(Entry("w2"), default);
            return (await rows.ListAuditAsync(new AuditQuery(), default)).Select(e => e.Id).Order(StringComparer.Ordinal).ToList();
        }, default);
        var reachedAfterRefusal = false;
        var refused = backend.WriteAsync(async rows =>
        {
            await rows.InsertAuditAsync(Entry("r1"), default);
            await rows.InsertAuditAsync(Entry("r2") with { Action = null! }, default);
            await rows.ListAuditAsync(new AuditQuery(), default);
            reachedAfterRefusal = true;
            return 0;
        }, default);
        var last = backend.WriteAsync(Append("last", 1), default);
        gate.SetResult();

        Assert.Equal(0, await first);
        Assert.Equal(["first", "w1", "w2"], await seen);
        await Assert.ThrowsAnyAsync<DbException>(() => refused);
        Assert.False(reachedAfterRefusal);
        Assert.Equal(1, await last);
        var stored = (await ActivityLog.ListAuditAsync(new AuditQuery(), default)).Select(e => e.Id).Order(StringComparer.Ordinal);
        Assert.Equal(["first", "last", "w1", "w2"], stored);
    }

    [Fact]
    public async Task WriteAsync_OneUnitOfABatchFails_OnlyItsCallerGetsTheErrorAndTheOthersCommit()
    {
        await using var backend = await Backends.OpenAsync(Changes);
        var thrownWoken = Changes.NextChangeAsync("topic:thrown");
        var committedWoken = Changes.NextChangeAsync("topic:ok0");

        // The first unit holds the writer until every other unit is queued behind it, so they are committed in batches.
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var first = backend.WriteAsync(async rows =>
        {
            await gate.Task;
            return await Append("first", -1)(rows);
        }, default);
        var committed = Enumerable.Range(0, 10).Select(i => backend.WriteAsync(Append($"ok{i}", i), default)).ToList();
        var thrown = backend.WriteAsync<int>(async rows =>
        {
            await Append("thrown", 0)(rows);
            throw new InvalidOperationException("this unit failed");
        }, default);
        var refused = backend.WriteAsync(async rows =>
        {
            // The schema refuses an entry without an action: a database error in the middle of a batch.
            await rows.InsertAuditAsync(Entry("refused") with { Action = null! }, default);
            return 0;
        }, default);
        var thrownAtOnce = backend.WriteAsync<int>(_ => throw new InvalidOperationException("failed before any statement"), default);
        committed.AddRange(Enumerable.Range(10, 10).Select(i => backend.WriteAsync(Append($"ok{i}", i), default)));
        gate.SetResult();

        Assert.Equal(-1, await first);
        Assert.Equal(Enumerable.Range(0, 20), await Task.WhenAll(committed));
        Assert.Equal("this unit failed", (await Assert.ThrowsAsync<InvalidOperationException>(() => thrown)).Message);
        await Assert.ThrowsAnyAsync<DbException>(() => refused);
        Assert.Equal("failed before any statement", (await Assert.ThrowsAsync<InvalidOperationException>(() => thrownAtOnce)).Message);

        var stored = (await ActivityLog.ListAuditAsync(new AuditQuery(), default)).Select(e => e.Id);
        string[] expected = ["first", .. Enumerable.Range(0, 20).Select(i => $"ok{i}")];
        Assert.Equal(expected.Order(StringComparer.Ordinal), stored.Order(StringComparer.Ordinal));
        Assert.True(committedWoken.IsCompleted);
        Assert.False(thrownWoken.IsCompleted);
    }

    [Fact]
    public async Task WriteAsync_RefusedWriteSentWithALaterUnit_FailsOnlyItsOwnUnitAndTheLaterOnesRunAgainWithoutIt()
    {
        await using var backend = await Backends.OpenAsync(Changes);
        var refusedWoken = Changes.NextChangeAsync("topic:refused-last");
        var keptWoken = Changes.NextChangeAsync("topic:kept");
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var first = backend.WriteAsync(async rows =>
        {
            await gate.Task;
            return await Append("first", 0)(rows);
        }, default);

        // Units that only write send nothing themselves (PostgreSQL): their writes and RELEASE go with a later unit's
        // first read, or at the batch's end. A refused one must fail its own unit only, wherever it surfaces.
        var kept = backend.WriteAsync(Append("kept", 1), default);
        var refused = backend.WriteAsync(async rows =>
        {
            await rows.InsertAuditAsync(Entry("refused-a"), default);
            await rows.InsertAuditAsync(Entry("refused-b") with { Action = null! }, default);
            rows.Notify("topic:refused");
            return 0;
        }, default);
        var alsoKept = backend.WriteAsync(Append("also-kept", 2), default);
        var thrownAtOnce = backend.WriteAsync<int>(_ => throw new InvalidOperationException("failed before any statement"), default);
        var reader = backend.WriteAsync(async rows =>
        {
            await rows.InsertAuditAsync(Entry("reader"), default);
            return (await rows.ListAuditAsync(new AuditQuery(), default)).Select(e => e.Id).Order(StringComparer.Ordinal).ToList();
        }, default);
        var afterReader = backend.WriteAsync(Append("after-reader", 3), default);
        var refusedLast = backend.WriteAsync(async rows =>
        {
            await rows.InsertAuditAsync(Entry("refused-last") with { Action = null! }, default);
            rows.Notify("topic:refused-last");
            return 0;
        }, default);
        gate.SetResult();

        Assert.Equal(0, await first);
        Assert.Equal(1, await kept);
        await Assert.ThrowsAnyAsync<DbException>(() => refused);
        Assert.Equal(2, await alsoKept);
        Assert.Equal("failed before any statement", (await Assert.ThrowsAsync<InvalidOperationException>(() => thrownAtOnce)).Message);
        Assert.Equal(["also-kept", "first", "kept", "reader"], await reader);
        Assert.Equal(3, await afterReader);
        await Assert.ThrowsAnyAsync<DbException>(() => refusedLast);

        var stored = (await ActivityLog.ListAuditAsync(new AuditQuery(), default)).Select(e => e.Id).Order(StringComparer.Ordinal);
        Assert.Equal(["after-reader", "also-kept", "first", "kept", "reader"], stored);
        Assert.True(keptWoken.IsCompleted);
        Assert.False(refusedWoken.IsCompleted);
    }
}
