using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using RunCommand.Client;
using RunCommand.Contracts.Agents;
using RunCommand.Contracts.Arm;
using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>
/// The raw output upload of the agent protocol, spoken directly to a real server (SQLite, or PostgreSQL under
/// <c>RUNCMD_TEST_STORE=postgres</c>): a retried chunk is not doubled, a gap is refused, bad requests are refused
/// plainly, another machine's execution is not found, and what arrives is kept byte for byte.
/// </summary>
public sealed class OutputUploadTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rc-upload-").FullName;
    private ServerProcess _server = null!;
    private RunCommandClient _admin = null!;

    public async Task InitializeAsync()
    {
        _server = await ServerProcess.StartAsync(Path.Combine(_dir, "server"));
        _admin = new RunCommandClient(new RunCommandClientOptions { Server = new Uri(_server.Url), Token = _server.AdminToken });
    }

    public async Task DisposeAsync()
    {
        _admin.Dispose();
        await _server.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Upload_RetriedOverlappingAndGapped_KeepsEachByteOnceAndRefusesTheGap()
    {
        var (agent, target, executionId) = await ExecutionOfNewVmAsync("upload-vm");
        using var _ = agent;
        // 9 MiB + 3 bytes in three uploads: row seams (1 MiB), a partial row, and an upload that overlaps the end.
        var data = new byte[(9 << 20) + 3];
        Random.Shared.NextBytes(data);

        var first = await UploadAsync(agent, executionId, "stdout", 0, data.AsMemory(0, 5 << 20));
        var retried = await UploadAsync(agent, executionId, "stdout", 0, data.AsMemory(0, 5 << 20));
        var overlapping = await UploadAsync(agent, executionId, "stdout", 3 << 20, data.AsMemory(3 << 20, 4 << 20));
        var gap = await UploadAsync(agent, executionId, "stdout", (9 << 20) + 1, data.AsMemory((9 << 20) + 1));
        var rest = await UploadAsync(agent, executionId, "stdout", (7 << 20) - 5, data.AsMemory((7 << 20) - 5));
        var stderr = await UploadAsync(agent, executionId, "stderr", 0, "oops\n"u8.ToArray());

        Assert.Equal((HttpStatusCode.OK, 5L << 20), (first.Status, first.Ack.StdoutLength));
        Assert.True(first.Ack.RawOutput);
        Assert.Equal((HttpStatusCode.OK, 5L << 20), (retried.Status, retried.Ack.StdoutLength));
        Assert.Equal((HttpStatusCode.OK, 7L << 20), (overlapping.Status, overlapping.Ack.StdoutLength));
        Assert.Equal((HttpStatusCode.Conflict, 7L << 20), (gap.Status, gap.Ack.StdoutLength));
        Assert.Equal((HttpStatusCode.OK, (long)data.Length), (rest.Status, rest.Ack.StdoutLength));
        Assert.Equal((HttpStatusCode.OK, 5L), (stderr.Status, stderr.Ack.StderrLength));

        using var report = await agent.PostAsJsonAsync($"/agent/v1/executions/{executionId}/report",
            new ExecutionReport { State = "Succeeded", ExitCode = 0 });
        report.EnsureSuccessStatusCode();
        Assert.Equal(data, await Stack.ReadAllStdoutAsync(_admin, target));
        var view = (await _admin.GetAsync(target, expandInstanceView: true)).Properties!.InstanceView!;
        Assert.Equal(ExecutionStates.Succeeded, view.ExecutionState);
        Assert.Equal("oops\n", view.Error);
    }

    [Fact]
    public async Task Upload_SeveralWriteBatchesInOneRequest_KeepsEveryByteInOrder()
    {
        // The server stores an upload 4 MiB (one write batch) at a time while it reads the next batch: the largest
        // upload (8 MiB, two full batches), then one ending in a partial row, then a few bytes.
        var (agent, target, executionId) = await ExecutionOfNewVmAsync("long-vm");
        using var _ = agent;
        var data = new byte[(15 << 20) + 12345 + 777];
        Random.Shared.NextBytes(data);
        var (second, third) = (8 << 20, (15 << 20) + 12345);

        var uploads = new[]
        {
            await UploadAsync(agent, executionId, "stdout", 0, data.AsMemory(0, second)),
            await UploadAsync(agent, executionId, "stdout", second, data.AsMemory(second, third - second)),
            await UploadAsync(agent, executionId, "stdout", third, data.AsMemory(third)),
        };

        Assert.Equal(
            [(HttpStatusCode.OK, (long)second), (HttpStatusCode.OK, (long)third), (HttpStatusCode.OK, (long)data.Length)],
            uploads.Select(u => (u.Status, u.Ack.StdoutLength)));
        using var report = await agent.PostAsJsonAsync($"/agent/v1/executions/{executionId}/report",
            new ExecutionReport { State = "Succeeded", ExitCode = 0 });
        report.EnsureSuccessStatusCode();
        Assert.Equal(data, await Stack.ReadAllStdoutAsync(_admin, target));
    }

    [Fact]
    public async Task Upload_BadStreamOrOffset_IsRefusedAndAnotherVmsExecutionIsNotFound()
    {
        var (agent, _, executionId) = await ExecutionOfNewVmAsync("refuse-vm");
        using var _ = agent;
        using var other = _server.CreateHttpClient(await EnrollAsync("other-vm"));

        using var badStream = await PutAsync(agent, $"/agent/v1/executions/{executionId}/output/stdin?offset=0", new byte[] { 1 });
        using var noOffset = await PutAsync(agent, $"/agent/v1/executions/{executionId}/output/stdout", new byte[] { 1 });
        using var negative = await PutAsync(agent, $"/agent/v1/executions/{executionId}/output/stdout?offset=-1", new byte[] { 1 });
        using var notMine = await PutAsync(other, $"/agent/v1/executions/{executionId}/output/stdout?offset=0", new byte[] { 1 });
        using var unknown = await PutAsync(agent, "/agent/v1/executions/no-such-execution/output/stdout?offset=0", new byte[] { 1 });

        Assert.Equal(HttpStatusCode.BadRequest, badStream.StatusCode);
        var message = (await badStream.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetProperty("message").GetString();
        Assert.Contains("use 'stdout' or 'stderr'", message, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.BadRequest, noOffset.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, negative.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, notMine.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        var held = await agent.PostAsJsonAsync($"/agent/v1/executions/{executionId}/report", new ExecutionReport { State = "Running" });
        Assert.Equal(0, (await held.Content.ReadFromJsonAsync<ReportAck>())!.StdoutLength);
    }

    /// <summary>Enrolls a VM by API (no agent process), creates a run command on it and takes its execution from the goal state.</summary>
    private async Task<(HttpClient Agent, RunCommandRef Target, string ExecutionId)> ExecutionOfNewVmAsync(string vm)
    {
        var agent = _server.CreateHttpClient(await EnrollAsync(vm));
        var target = new RunCommandRef(_server.SubscriptionId, "up", vm, "cmd");
        await _admin.CreateOrUpdateAsync(target, Stack.Script("echo never run"));
        var goal = await agent.GetFromJsonAsync<GoalState>("/agent/v1/goalstate?version=-1&waitSeconds=0");
        return (agent, target, Assert.Single(goal!.Executions).ExecutionId);
    }

    private async Task<string> EnrollAsync(string vm)
    {
        using var enroll = _server.CreateHttpClient(File.ReadAllText(_server.EnrollTokenFile).Trim());
        using var response = await enroll.PostAsJsonAsync("/agent/v1/enroll", new EnrollRequest { ResourceGroup = "up", VmName = vm });
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<EnrollResponse>())!.AgentToken!;
    }

    private static async Task<(HttpStatusCode Status, ReportAck Ack)> UploadAsync(HttpClient agent, string executionId, string stream, long offset, ReadOnlyMemory<byte> data)
    {
        using var response = await PutAsync(agent, OutputUpload.Path(executionId, stream, offset), data);
        return (response.StatusCode, (await response.Content.ReadFromJsonAsync<ReportAck>())!);
    }

    private static async Task<HttpResponseMessage> PutAsync(HttpClient agent, string path, ReadOnlyMemory<byte> data)
    {
        var content = new ReadOnlyMemoryContent(data);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        return await agent.PutAsync(path.StartsWith('/') ? path : "/" + path, content);
    }
}
