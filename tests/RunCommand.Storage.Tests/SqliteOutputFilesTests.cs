using System.Text;
using Microsoft.Data.Sqlite;
using RunCommand.Contracts;
using RunCommand.Storage.Sqlite;
using RunCommand.Testing;

namespace RunCommand.Storage.Tests;

/// <summary>
/// The embedded backend keeps output bytes in files beside the database (docs/storage.md, "Output files"): the database
/// holds each stream's length, which bounds every read, so bytes of a write that did not commit are never read; a drop
/// removes the files only once it commits; rows a database from before them holds move to files at start.
/// </summary>
public sealed class SqliteOutputFilesTests : IAsyncLifetime
{
    private static readonly DateTimeOffset Now = new(2026, 12, 2, 5, 0, 0, TimeSpan.Zero);
    private readonly VmKey _vm = new("00000000-0000-0000-0000-000000000001", "Group", "Vm1");
    private readonly SqliteBackends _file = new();
    private SqliteBackend _backend = null!;
    private RunCommandStorage _storage = null!;

    private string OutputDirectory => OutputFileDirectory.DirectoryOf(_file.DatabaseFile);

    public async Task InitializeAsync() => await OpenAsync();

    public async Task DisposeAsync()
    {
        await _storage.DisposeAsync();
        await _file.DisposeAsync();
    }

    private async Task OpenAsync()
    {
        _backend = new SqliteBackend(_file.DatabaseFile, new InProcessChangeFeed());
        _storage = new RunCommandStorage(_backend);
        await _storage.MigrateAsync(default);
    }

    private async Task<string> StartAsync(string name)
    {
        await _storage.Machines.EnrollAgentAsync(_vm, "local", new AgentCredential([1, 2, 3], null), "host", "1.0", null, Now, default);
        var write = new RunCommandWrite
        {
            Command = new RunCommandKey(_vm, name), Location = "local", Spec = new RunCommandSpec { Script = "x" }, Fingerprint = name, MaxRunCommandsPerVm = 1000,
        };
        var outcome = await _storage.RunCommands.PutRunCommandAsync(write, Guid.NewGuid().ToString(), Guid.NewGuid().ToString(), Now, default);
        await _storage.AgentWork.LeaseGoalStateAsync(_vm, default);
        return outcome.Record!.Execution.ExecutionId;
    }

    private Task ReportAsync(string executionId, long offset, byte[] data, ExecutionState state = ExecutionState.Running) =>
        _storage.AgentWork.RecordReportAsync(_vm, new ReportWrite
        {
            ExecutionId = executionId, State = state, StartTime = Now, EndTime = state.IsTerminal() ? Now : null, StdoutOffset = offset, StdoutData = data,
        }, Now, default);

    private Task<byte[]> ReadAsync(string executionId, int maxBytes = 64 << 20) =>
        _storage.RunCommands.ReadOutputAsync(executionId, OutputStream.Stdout, 0, maxBytes, default);

    private async Task<long> CountOutputRowsAsync() => (long)(await _file.ScalarAsync("SELECT count(*) FROM output"))!;

    [Fact]
    public async Task Output_IsWrittenToOwnerOnlyFiles_NotToTheDatabase_AndReadsBackByteExact()
    {
        var id = await StartAsync("big");
        var data = new byte[8 << 20];
        Random.Shared.NextBytes(data);
        await _storage.Retention.CompactAsync(default);
        var databaseBefore = new FileInfo(_file.DatabaseFile).Length;

        for (var offset = 0; offset < data.Length; offset += 1 << 20)
        {
            await ReportAsync(id, offset, data[offset..(offset + (1 << 20))]);
        }

        await _storage.Retention.CompactAsync(default);
        Assert.Equal(data, await ReadAsync(id));
        Assert.Equal(data[5_000_000..5_004_096], await _storage.RunCommands.ReadOutputAsync(id, OutputStream.Stdout, 5_000_000, 4096, default));
        Assert.Equal(0, await CountOutputRowsAsync());
        Assert.True(new FileInfo(_file.DatabaseFile).Length - databaseBefore < 1 << 20, "the output went into the database file");

        var stdout = _backend.Output.PathOf(id, OutputStream.Stdout);
        Assert.Equal(data.Length, new FileInfo(stdout).Length);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(stdout));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(OutputDirectory));
        Assert.DoesNotContain(id, string.Join(' ', Directory.EnumerateFiles(OutputDirectory)));
    }

    [Fact]
    public async Task WriteThatRollsBack_IsNeverRead_AndTheNextAppendTakesItsPlace()
    {
        var id = await StartAsync("rollback");
        await ReportAsync(id, 0, "kept "u8.ToArray());

        // A unit that writes past the length and then fails: its transaction rolls back, the file keeps the bytes.
        await Assert.ThrowsAsync<InvalidOperationException>(() => _backend.WriteAsync<int>(async rows =>
        {
            await rows.InsertOutputAsync(id, OutputStream.Stdout, 5, "never committed"u8.ToArray(), default);
            throw new InvalidOperationException("the unit fails after its output write");
        }, default));
        Assert.True(new FileInfo(_backend.Output.PathOf(id, OutputStream.Stdout)).Length > 5);

        Assert.Equal("kept ", Encoding.UTF8.GetString(await ReadAsync(id)));
        var tails = await _storage.RunCommands.GetExecutionsAsync([id], 4096, default);
        Assert.Equal("kept ", Encoding.UTF8.GetString(tails[id].StdoutTail));

        await ReportAsync(id, 5, "and this"u8.ToArray(), ExecutionState.Succeeded);
        Assert.Equal("kept and this", Encoding.UTF8.GetString(await ReadAsync(id)));
        Assert.Equal("kept and this", Encoding.UTF8.GetString((await _storage.RunCommands.GetExecutionsAsync([id], 4096, default))[id].StdoutTail));
    }

    [Fact]
    public async Task DroppedOutput_ItsFilesGoOnceTheDropCommits_NotWhenItRollsBack()
    {
        var id = await StartAsync("dropped");
        await ReportAsync(id, 0, "bytes"u8.ToArray(), ExecutionState.Succeeded);
        var stdout = _backend.Output.PathOf(id, OutputStream.Stdout);

        await Assert.ThrowsAsync<InvalidOperationException>(() => _backend.WriteAsync<int>(async rows =>
        {
            await rows.DeleteOutputAsync(id, default);
            throw new InvalidOperationException("the unit fails after its drop");
        }, default));
        await _storage.Retention.CompactAsync(default);
        Assert.True(File.Exists(stdout));
        Assert.Equal("bytes", Encoding.UTF8.GetString(await ReadAsync(id)));

        // No compaction here: the commit's notification alone has the files removed.
        await _storage.RunCommands.DeleteRunCommandAsync(new RunCommandKey(_vm, "dropped"), Guid.NewGuid().ToString(), Now, default);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (File.Exists(stdout) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        Assert.False(File.Exists(stdout), "the dropped output's file is still there");
        Assert.Equal(0L, (long)(await _file.ScalarAsync("SELECT count(*) FROM output_dropped"))!);
    }

    [Fact]
    public async Task RowsOfADatabaseFromBefore_MoveToFilesAtStart_AndReadBackWhole()
    {
        var id = await StartAsync("legacy");
        await _storage.DisposeAsync();

        // What a release before output files left: the stream as rows of the output table, its length on the execution.
        var first = new byte[300_000];
        var second = new byte[123_457];
        Random.Shared.NextBytes(first);
        Random.Shared.NextBytes(second);
        await using (var connection = new SqliteConnection($"Data Source={_file.DatabaseFile};Pooling=False"))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = """
                INSERT INTO output(execution_id, stream, start_offset, end_offset, data) VALUES(@id, 0, 0, @a, @first), (@id, 0, @a, @b, @second);
                UPDATE executions SET stdout_len = @b WHERE id = @id;
                """;
            command.Parameters.AddWithValue("@id", id);
            command.Parameters.AddWithValue("@a", first.Length);
            command.Parameters.AddWithValue("@b", first.Length + second.Length);
            command.Parameters.AddWithValue("@first", first);
            command.Parameters.AddWithValue("@second", second);
            await command.ExecuteNonQueryAsync();
        }

        await OpenAsync();

        var read = await ReadAsync(id);
        Assert.Equal(first.Concat(second), read);
        Assert.Equal(0, await CountOutputRowsAsync());
        Assert.Equal(first.Length + second.Length, new FileInfo(_backend.Output.PathOf(id, OutputStream.Stdout)).Length);
    }

    [Fact]
    public void OutputFiles_StreamPastTheKeptTail_LeavesOnlyTheTailCachedAndEveryByteKept()
    {
        // fullSync: each write is on the disk before the next, so every page behind the tail is clean and goes at once.
        var directory = Path.Combine(Path.GetDirectoryName(_file.DatabaseFile)!, "trail-output");
        var files = new OutputFileDirectory(directory, fullSync: true);
        files.Prepare();
        var bytes = new byte[48 << 20];
        Random.Shared.NextBytes(bytes);
        for (var at = 0; at < bytes.Length; at += 4 << 20)
        {
            files.Write("e1", OutputStream.Stdout, at, bytes.AsSpan(at, 4 << 20));
        }

        files.Write("e1", OutputStream.Stderr, 0, bytes.AsSpan(0, 8 << 20));

        Assert.Equal(PageCacheTrail.KeptBytes, PageCache.CachedBytes(files.PathOf("e1", OutputStream.Stdout)));
        Assert.Equal(8 << 20, PageCache.CachedBytes(files.PathOf("e1", OutputStream.Stderr)));
        Assert.Equal(bytes, files.Read("e1", OutputStream.Stdout, 0, bytes.Length));
    }
}
