using System.Security.Cryptography;
using System.Text;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;
using Azure.Storage.Sas;
using RunCommand.Contracts.Arm;
using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>outputBlobUri/errorBlobUri: a real agent writes append blobs in a real Azurite, checked with the Azure SDK.</summary>
public sealed class OutputBlobTests(BlobStackFixture fixture) : IClassFixture<BlobStackFixture>
{
    private const int ChunkBytes = 1024 * 1024;
    private const int Chunks = 20;

    private readonly Stack _stack = fixture.Stack;
    private readonly AzuriteProcess _azurite = fixture.Azurite;

    private static RunCommandResource WithBlobs(string script, Uri? output, Uri? error)
    {
        var resource = Stack.Script(script);
        return resource with
        {
            Properties = resource.Properties! with { OutputBlobUri = output?.ToString(), ErrorBlobUri = error?.ToString() },
        };
    }

    /// <summary>What chunk <paramref name="i"/> of the 20 MiB script prints: its line repeated, cut at 1 MiB.</summary>
    private static byte[] ExpectedStdout()
    {
        using var all = new MemoryStream();
        for (var i = 1; i <= Chunks; i++)
        {
            var line = Encoding.ASCII.GetBytes($"chunk {i} abcdefghijklmnopqrstuvwxyz0123456789\n");
            var chunk = new byte[ChunkBytes];
            for (var at = 0; at < ChunkBytes; at += line.Length)
            {
                line.AsSpan(0, Math.Min(line.Length, ChunkBytes - at)).CopyTo(chunk.AsSpan(at));
            }

            all.Write(chunk);
        }

        return all.ToArray();
    }

    private static async Task<long> LengthOrZeroAsync(BlobClient blob)
    {
        try
        {
            return (await blob.GetPropertiesAsync()).Value.ContentLength;
        }
        catch (Azure.RequestFailedException e) when (e.Status == 404)
        {
            return 0;
        }
    }

    private static async Task<byte[]> DownloadAsync(BlobClient blob) => (await blob.DownloadContentAsync()).Value.Content.ToArray();

    [Fact]
    public async Task Run_TwentyMiBOverTenSeconds_BlobsHoldExactOutputAndGrowWhileRunning()
    {
        const string vm = "blob-stream";
        await _stack.StartAgentAsync(vm);
        var container = await _azurite.CreateContainerAsync();
        var outBlob = container.GetBlobClient("out.log");
        var errBlob = container.GetBlobClient("err.log");
        var script = $$"""
            for i in $(seq 1 {{Chunks}}); do
              yes "chunk $i abcdefghijklmnopqrstuvwxyz0123456789" 2>/dev/null | head -c {{ChunkBytes}}
              echo "err $i" >&2
              sleep 0.5
            done
            """;
        var target = _stack.Command(vm, "big");

        var operation = await _stack.StartAsync(target, WithBlobs(script,
            AzuriteProcess.SasUri(outBlob, AzuriteProcess.AppendBlobPermissions), AzuriteProcess.SasUri(errBlob, AzuriteProcess.AppendBlobPermissions)));
        var total = (long)Chunks * ChunkBytes;
        var intermediate = new HashSet<long>();
        await Wait.UntilAsync(async () =>
        {
            var length = await LengthOrZeroAsync(outBlob);
            if (length > 0 && length < total)
            {
                intermediate.Add(length);
            }

            return intermediate.Count >= 2;
        }, TimeSpan.FromSeconds(60), "the output blob to show two different lengths while the script runs");
        await _stack.Client.WaitForOperationAsync(operation);

        // Read right after the terminal state: the agent flushes the blobs before reporting it.
        var view = (await _stack.Client.GetAsync(target, expandInstanceView: true)).Properties!.InstanceView!;
        var blobBytes = await DownloadAsync(outBlob);
        Assert.Equal(ExecutionStates.Succeeded, view.ExecutionState);
        Assert.Null(view.ExecutionMessage is { } m && m.Contains("blob", StringComparison.Ordinal) ? m : null);
        Assert.Equal(BlobType.Append, (await outBlob.GetPropertiesAsync()).Value.BlobType);
        var expected = ExpectedStdout();
        Assert.Equal(SHA256.HashData(expected), SHA256.HashData(blobBytes));
        Assert.Equal(SHA256.HashData(await _stack.ReadAllStdoutAsync(target)), SHA256.HashData(blobBytes));
        var expectedErr = string.Concat(Enumerable.Range(1, Chunks).Select(i => $"err {i}\n"));
        Assert.Equal(expectedErr, Encoding.ASCII.GetString(await DownloadAsync(errBlob)));
    }

    [Fact]
    public async Task Run_ScriptUriOfBlobWithReadOnlySas_DownloadsAndRunsIt()
    {
        await _stack.StartAgentAsync("blobscript");
        var container = await _azurite.CreateContainerAsync();
        var scriptBlob = container.GetBlobClient("scripts/hello.sh");
        // A script saved on Windows: a UTF-8 BOM and CRLF line ends, which the agent strips.
        await scriptBlob.UploadAsync(new BinaryData(Encoding.UTF8.GetPreamble().Concat(Encoding.UTF8.GetBytes("echo from-blob\r\necho \"$1\"\r\n")).ToArray()));
        var readOnly = AzuriteProcess.SasUri(scriptBlob, BlobSasPermissions.Read);
        var resource = Stack.Script("unused", parameters: [new RunCommandParameter { Name = "", Value = "arg" }]);
        resource = resource with { Properties = resource.Properties! with { Source = new RunCommandSource { ScriptUri = readOnly.ToString() } } };

        var result = await _stack.RunAsync(_stack.Command("blobscript", "from-blob"), resource);

        var view = result.Properties!.InstanceView!;
        Assert.True(view.ExecutionState == ExecutionStates.Succeeded, view.ExecutionMessage + view.Error);
        Assert.Equal("from-blob\narg\n", view.Output);
        Assert.DoesNotContain("sig=", result.Properties.Source!.ScriptUri, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Get_RunCommandWithSasBlobUris_NeverShowsTheSignature()
    {
        const string vm = "blob-secret";
        await _stack.StartAgentAsync(vm);
        var container = await _azurite.CreateContainerAsync();
        var outBlob = container.GetBlobClient("out.log");
        var errBlob = container.GetBlobClient("err.log");
        var outSas = AzuriteProcess.SasUri(outBlob, AzuriteProcess.AppendBlobPermissions);
        var target = _stack.Command(vm, "secret");

        await _stack.RunAsync(target, WithBlobs("echo out; echo err >&2", outSas, AzuriteProcess.SasUri(errBlob, AzuriteProcess.AppendBlobPermissions)));

        using var http = _stack.Server.CreateHttpClient();
        var path = $"/subscriptions/{_stack.Server.SubscriptionId}/resourceGroups/e2e/providers/Microsoft.Compute/virtualMachines/{vm}/runCommands";
        var one = await http.GetStringAsync($"{path}/secret?api-version=2023-09-01&$expand=instanceView");
        var list = await http.GetStringAsync($"{path}?api-version=2023-09-01&$expand=instanceView");
        Assert.DoesNotContain("sig=", one, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("sig=", list, StringComparison.OrdinalIgnoreCase);
        var shown = (await _stack.Client.GetAsync(target)).Properties!;
        Assert.Equal(outBlob.Uri.ToString(), shown.OutputBlobUri);
        Assert.Equal(errBlob.Uri.ToString(), shown.ErrorBlobUri);
        // The agent had the full URLs: the blobs hold the output.
        Assert.Equal("out\n", Encoding.ASCII.GetString(await DownloadAsync(outBlob)));
        Assert.Equal("err\n", Encoding.ASCII.GetString(await DownloadAsync(errBlob)));
    }

    [Fact]
    public async Task Run_ReadOnlySasForOutputBlob_FailsBeforeTheScriptRuns()
    {
        const string vm = "blob-readonly";
        await _stack.StartAgentAsync(vm);
        var container = await _azurite.CreateContainerAsync();
        var outBlob = container.GetBlobClient("out.log");
        var marker = Path.Combine(_stack.Dir, "ran-" + Guid.NewGuid().ToString("N"));
        var target = _stack.Command(vm, "readonly");

        var result = await _stack.RunAsync(target, WithBlobs($"touch {marker}; echo ran", AzuriteProcess.SasUri(outBlob, BlobSasPermissions.Read), null));

        var view = result.Properties!.InstanceView!;
        Assert.Equal(ExecutionStates.Failed, view.ExecutionState);
        Assert.Null(view.ExitCode);
        Assert.Contains("output blob", view.ExecutionMessage, StringComparison.Ordinal);
        Assert.Contains("HTTP 403", view.ExecutionMessage, StringComparison.Ordinal);
        Assert.Contains($"127.0.0.1:{_azurite.ServiceUri.Port}", view.ExecutionMessage, StringComparison.Ordinal);
        Assert.DoesNotContain("sig=", view.ExecutionMessage, StringComparison.OrdinalIgnoreCase);
        Assert.False(File.Exists(marker), "the script ran although its output blob could not be created");
        Assert.False(await outBlob.ExistsAsync());
    }

    [Fact]
    public async Task Run_UnreachableErrorBlobHost_FailsNamingTheErrorBlobAndHost()
    {
        const string vm = "blob-unreachable";
        await _stack.StartAgentAsync(vm);
        var marker = Path.Combine(_stack.Dir, "ran-" + Guid.NewGuid().ToString("N"));
        var port = ServerProcess.FreePort();
        var target = _stack.Command(vm, "unreachable");

        var result = await _stack.RunAsync(target, WithBlobs($"touch {marker}", null, new Uri($"http://127.0.0.1:{port}/devstoreaccount1/c/err.log?sv=2021-08-06&sig=secret")));

        var view = result.Properties!.InstanceView!;
        Assert.Equal(ExecutionStates.Failed, view.ExecutionState);
        Assert.Contains("error blob", view.ExecutionMessage, StringComparison.Ordinal);
        Assert.Contains($"127.0.0.1:{port}", view.ExecutionMessage, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", view.ExecutionMessage, StringComparison.Ordinal);
        Assert.False(File.Exists(marker), "the script ran although its error blob could not be created");
    }

    [Fact]
    public async Task Run_ExistingBlockBlobAtOutputUri_IsReplacedByAnAppendBlob()
    {
        const string vm = "blob-replace";
        await _stack.StartAgentAsync(vm);
        var container = await _azurite.CreateContainerAsync();
        var outBlob = container.GetBlobClient("out.log");
        await outBlob.UploadAsync(BinaryData.FromString("old block blob content\n"));
        Assert.Equal(BlobType.Block, (await outBlob.GetPropertiesAsync()).Value.BlobType);

        var result = await _stack.RunAsync(_stack.Command(vm, "replace"), WithBlobs("echo fresh", AzuriteProcess.SasUri(outBlob, AzuriteProcess.AppendBlobPermissions), null));

        Assert.Equal(ExecutionStates.Succeeded, result.Properties!.InstanceView!.ExecutionState);
        Assert.Equal(BlobType.Append, (await outBlob.GetPropertiesAsync()).Value.BlobType);
        Assert.Equal("fresh\n", Encoding.ASCII.GetString(await DownloadAsync(outBlob)));
    }

    [Fact]
    public async Task Run_OutputBlobBecomesUnwritableMidRun_KeepsTrueOutcomeAndNotesTheBlobInTheMessage()
    {
        const string vm = "blob-broken";
        await _stack.StartAgentAsync(vm);
        var container = await _azurite.CreateContainerAsync();
        var outBlob = container.GetBlobClient("out.log");
        var gate = Path.Combine(_stack.Dir, "gate-" + Guid.NewGuid().ToString("N"));
        var target = _stack.Command(vm, "broken");
        var operation = await _stack.StartAsync(target, WithBlobs(
            $"echo first; {Gate.WaitFor(gate)}; echo second; exit 3",
            AzuriteProcess.SasUri(outBlob, AzuriteProcess.AppendBlobPermissions), null));
        await Wait.UntilAsync(async () => await LengthOrZeroAsync(outBlob) == "first\n".Length, TimeSpan.FromSeconds(30), "the first line to reach the blob");

        // Someone replaces the append blob with a block blob: every further append is refused (HTTP 409).
        await outBlob.UploadAsync(BinaryData.FromString("replaced"), overwrite: true);
        File.WriteAllText(gate, "");
        await _stack.Client.WaitForOperationAsync(operation);

        var view = (await _stack.Client.GetAsync(target, expandInstanceView: true)).Properties!.InstanceView!;
        Assert.Equal(ExecutionStates.Failed, view.ExecutionState);
        Assert.Equal(3, view.ExitCode);
        Assert.StartsWith("Script exited with code 3; output blob append failed: HTTP 409", view.ExecutionMessage, StringComparison.Ordinal);
        Assert.EndsWith($"from host 127.0.0.1:{_azurite.ServiceUri.Port}", view.ExecutionMessage, StringComparison.Ordinal);
        Assert.Equal("first\nsecond\n", view.Output);
    }

    [Fact]
    public async Task KillAgent_WhileScriptWritesBlob_RestartedAgentContinuesTheSameBlobWithoutLossOrRepeat()
    {
        const string vm = "blob-restart";
        var stateDir = Path.Combine(_stack.Dir, "agents", vm);
        var agent = await _stack.StartAgentAsync(vm, stateDir);
        var container = await _azurite.CreateContainerAsync();
        var outBlob = container.GetBlobClient("out.log");
        var gate = Path.Combine(_stack.Dir, "gate-" + Guid.NewGuid().ToString("N"));
        var target = _stack.Command(vm, "restart");
        // Prints before the kill, then while the agent is down, then ends while it is still down.
        var script = $"for i in $(seq 1 5); do echo before $i; done; {Gate.WaitFor(gate)}; for i in $(seq 1 5); do echo after $i; done";

        var operation = await _stack.StartAsync(target, WithBlobs(script, AzuriteProcess.SasUri(outBlob, AzuriteProcess.AppendBlobPermissions), null));
        var before = string.Concat(Enumerable.Range(1, 5).Select(i => $"before {i}\n"));
        await Wait.UntilAsync(async () => await LengthOrZeroAsync(outBlob) == before.Length, TimeSpan.FromSeconds(30), "the first lines to reach the blob");
        var created = (await outBlob.GetPropertiesAsync()).Value.CreatedOn;
        await agent.Process.KillHardAsync();
        File.WriteAllText(gate, "");
        await Wait.UntilAsync(() => Directory.EnumerateFiles(Path.Combine(stateDir, "executions"), "exitcode", SearchOption.AllDirectories).Any(),
            TimeSpan.FromSeconds(20), "the script to end while the agent is down");

        await _stack.StartAgentAsync(vm, stateDir);
        await _stack.Client.WaitForOperationAsync(operation);

        var view = (await _stack.Client.GetAsync(target, expandInstanceView: true)).Properties!.InstanceView!;
        Assert.Equal(ExecutionStates.Succeeded, view.ExecutionState);
        var after = string.Concat(Enumerable.Range(1, 5).Select(i => $"after {i}\n"));
        Assert.Equal(before + after, Encoding.ASCII.GetString(await DownloadAsync(outBlob)));
        Assert.Equal(created, (await outBlob.GetPropertiesAsync()).Value.CreatedOn);
    }
}
