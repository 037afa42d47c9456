using System.Text.Json;
using RunCommand.Contracts.Arm;
using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>
/// Managed identities for the script URI and the output/error blobs: self-hosted, each names a storage credential in the
/// agent's --storage-credentials file; a real agent signs its Blob calls to a real Azurite with it (no SAS anywhere),
/// driven through the runcmd CLI with az's flags, and the Azure SDK checks what was written.
/// </summary>
public sealed class ManagedIdentityBlobTests(BlobStackFixture fixture) : IClassFixture<BlobStackFixture>
{
    private readonly Stack _stack = fixture.Stack;
    private readonly AzuriteProcess _azurite = fixture.Azurite;

    /// <summary>A credentials file (0600) mapping a client id, an object id (as a connection string) and the system-assigned identity to Azurite's account.</summary>
    private string WriteCredentials(string clientId, string objectId)
    {
        var path = Path.Combine(_stack.Dir, $"storage-credentials-{Guid.NewGuid():N}.json");
        var json = JsonSerializer.Serialize(new
        {
            identities = new object[]
            {
                new { clientId, accountName = AzuriteProcess.AccountName, accountKey = AzuriteProcess.AccountKey },
                new { objectId, connectionString = $"DefaultEndpointsProtocol=http;AccountName={AzuriteProcess.AccountName};AccountKey={AzuriteProcess.AccountKey}" },
                new { systemAssigned = true, accountName = AzuriteProcess.AccountName, accountKey = AzuriteProcess.AccountKey },
            },
        });
        File.WriteAllText(path, json);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        return path;
    }

    private async Task<CliRunner> LoggedInAsync()
    {
        var cli = new CliRunner(Path.Combine(_stack.Dir, "cli-" + Guid.NewGuid().ToString("N")));
        await cli.LoginAsync(_stack.Server);
        return cli;
    }

    [Fact]
    public async Task Create_BlobsAndScriptUriWithManagedIdentitiesAndNoSas_AgentUsesItsStorageCredentials()
    {
        var clientId = Guid.NewGuid().ToString();
        var objectId = Guid.NewGuid().ToString();
        var agent = await _stack.StartAgentAsync("mi-blobs", extraArgs: ["--storage-credentials", WriteCredentials(clientId, objectId)]);
        var container = await _azurite.CreateContainerAsync();
        await container.GetBlobClient("script.sh").UploadAsync(BinaryData.FromString("echo \"out $((40+2))\"; echo \"err line\" >&2\n"));
        var cli = await LoggedInAsync();

        var result = await cli.RunAsync("vm", "run-command", "create", "-g", "e2e", "--vm-name", "mi-blobs", "-n", "mi",
            "--script-uri", container.GetBlobClient("script.sh").Uri.ToString(), "--script-uri-managed-identity", "{}",
            "--output-blob-uri", container.GetBlobClient("out.log").Uri.ToString(), "--output-blob-managed-identity", $"clientId={clientId}",
            "--error-blob-uri", container.GetBlobClient("err.log").Uri.ToString(), "--error-blob-mi", $"{{objectId:{objectId}}}");

        Assert.True(result.ExitCode == 0, result.Stdout + result.Stderr);
        Assert.Contains("\"output\": \"out 42\\n\"", result.Stdout, StringComparison.Ordinal);
        Assert.Equal("out 42\n", (await container.GetBlobClient("out.log").DownloadContentAsync()).Value.Content.ToString());
        Assert.Equal("err line\n", (await container.GetBlobClient("err.log").DownloadContentAsync()).Value.Content.ToString());

        // The identities are shown as given (they are names, not secrets); the key is nowhere.
        var shown = await cli.RunAsync("vm", "run-command", "show", "-g", "e2e", "--vm-name", "mi-blobs", "-n", "mi",
            "--query", "[outputBlobManagedIdentity.clientId, errorBlobManagedIdentity.objectId, source.scriptUriManagedIdentity]", "-o", "json");
        Assert.Equal(0, shown.ExitCode);
        using (var json = JsonDocument.Parse(shown.Stdout))
        {
            var values = json.RootElement.EnumerateArray().ToList();
            Assert.Equal(clientId, values[0].GetString());
            Assert.Equal(objectId, values[1].GetString());
            Assert.Equal(JsonValueKind.Object, values[2].ValueKind);
        }

        foreach (var text in new[] { result.Stdout, result.Stderr, shown.Stdout, agent.Process.Output, _stack.Server.Process.Output })
        {
            Assert.DoesNotContain(AzuriteProcess.AccountKey, text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Create_UnknownManagedIdentity_FailsNamingItBeforeTheScriptRuns()
    {
        await _stack.StartAgentAsync("mi-unknown", extraArgs: ["--storage-credentials", WriteCredentials(Guid.NewGuid().ToString(), Guid.NewGuid().ToString())]);
        var container = await _azurite.CreateContainerAsync();
        var cli = await LoggedInAsync();

        var result = await cli.RunAsync("vm", "run-command", "create", "-g", "e2e", "--vm-name", "mi-unknown", "-n", "mi",
            "--script", "echo ran", "--output-blob-uri", container.GetBlobClient("out.log").Uri.ToString(),
            "--output-blob-managed-identity", "clientId=nobody-here");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("\"executionMessage\": \"outputBlobManagedIdentity clientId=nobody-here is not configured on this agent (add it to the file of the agent's --storage-credentials option)\"",
            result.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("\"output\": \"ran", result.Stdout, StringComparison.Ordinal);
        Assert.False(await container.GetBlobClient("out.log").ExistsAsync());

        // Control: without an identity (and no SAS) the agent calls anonymously and Azurite refuses, so the signed calls
        // of the test above are what made its blobs writable.
        var anonymous = await cli.RunAsync("vm", "run-command", "create", "-g", "e2e", "--vm-name", "mi-unknown", "-n", "anon",
            "--script", "echo ran", "--output-blob-uri", container.GetBlobClient("out.log").Uri.ToString());
        Assert.Equal(1, anonymous.ExitCode);
        Assert.Contains("Could not create the output blob: HTTP 40", anonymous.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Agent_CredentialsFileReadableByOthers_RefusesToStartWithoutQuotingIt()
    {
        var path = WriteCredentials(Guid.NewGuid().ToString(), Guid.NewGuid().ToString());
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        var process = ChildProcess.StartDotnet("agent bad-credentials", Repo.AgentDll,
            ["--server", _stack.Server.Url, "--vm-name", "mi-bad", "--state-dir", Path.Combine(_stack.Dir, "agents", "mi-bad"),
             "--enroll-token-file", _stack.Server.EnrollTokenFile, "--storage-credentials", path]);
        await using (process)
        {
            Assert.Equal(2, await process.WaitForExitAsync(TimeSpan.FromSeconds(60)));
            Assert.Contains("chmod 600", process.Output, StringComparison.Ordinal);
            Assert.DoesNotContain(AzuriteProcess.AccountKey, process.Output, StringComparison.Ordinal);
        }
    }
}
