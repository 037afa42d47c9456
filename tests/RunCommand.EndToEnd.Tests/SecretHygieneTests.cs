using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Web;
using RunCommand.Contracts.Arm;
using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>
/// A command carrying a unique value of every kind of secret (named and nameless protected parameter, run-as password, script SAS,
/// the agent's storage credential of a managed identity,
/// output blob SAS) runs; then every place a secret could leak is searched: the server's database files, the
/// server's and agent's logs, the agent's state dir, every API response, and every process's command line.
/// </summary>
public sealed class SecretHygieneTests(BlobStackFixture fixture) : IClassFixture<BlobStackFixture>
{
    private readonly Stack _stack = fixture.Stack;

    [Fact]
    public async Task Run_WithEverySecretKind_LeavesNoSecretAnywhere()
    {
        // The agent's storage credential (for the error blob's managed identity) is a secret too: only its 0600 file holds it.
        var credentials = Path.Combine(_stack.Dir, "secrets-storage-credentials.json");
        File.WriteAllText(credentials, $$"""{"identities":[{"clientId":"hygiene","accountName":"{{AzuriteProcess.AccountName}}","accountKey":"{{AzuriteProcess.AccountKey}}"}]}""");
        File.SetUnixFileMode(credentials, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var agent = await _stack.StartAgentAsync("secrets", extraArgs: ["--storage-credentials", credentials]);
        await using var user = await LinuxTestUser.CreateAsync();
        var protectedValue = "pp-" + Guid.NewGuid().ToString("N");
        var positionalValue = "pos-" + Guid.NewGuid().ToString("N");
        var scriptSas = "sig-" + Guid.NewGuid().ToString("N");
        var script = "printf %s \"$PSECRET\" | sha256sum | cut -c1-16; printf %s \"$1\" | sha256sum | cut -c1-16; id -un; echo to-error-blob >&2; sleep 2\n";
        await using var scripts = new ScriptHttpServer((_, _) => ScriptAnswer.Text(script));
        var container = await fixture.Azurite.CreateContainerAsync();
        var outputBlob = AzuriteProcess.SasUri(container.GetBlobClient("out.log"), AzuriteProcess.AppendBlobPermissions);
        var blobSig = HttpUtility.ParseQueryString(outputBlob.Query)["sig"]!;
        var secrets = new[] { protectedValue, positionalValue, user.Password, scriptSas, blobSig, Uri.EscapeDataString(blobSig), AzuriteProcess.AccountKey, Uri.EscapeDataString(AzuriteProcess.AccountKey) };
        var target = _stack.Command("secrets", "all-secrets");
        var resource = new RunCommandResource
        {
            Location = "local",
            Properties = new RunCommandProperties
            {
                Source = new RunCommandSource { ScriptUri = scripts.Url("/script.sh?sv=2024&sig=" + scriptSas) },
                ProtectedParameters = [new RunCommandParameter { Name = "PSECRET", Value = protectedValue }, new RunCommandParameter { Name = "", Value = positionalValue }],
                RunAsUser = user.Name,
                RunAsPassword = user.Password,
                OutputBlobUri = outputBlob.ToString(),
                ErrorBlobUri = container.GetBlobClient("err.log").Uri.ToString(),
                ErrorBlobManagedIdentity = new RunCommandManagedIdentity { ClientId = "hygiene" },
            },
        };

        using var http = _stack.Server.CreateHttpClient();
        var url = RunCommand.Client.RunCommandClient.RunCommandPath(target);
        var responses = new List<string>();
        using var put = await http.PutAsJsonAsync(url, resource, RunCommand.Contracts.ContractsJsonContext.Default.RunCommandResource);
        responses.Add(await put.Content.ReadAsStringAsync() + put.Headers);
        var operationUrl = put.Headers.GetValues("Azure-AsyncOperation").Single();

        // While the script runs, no process anywhere carries a secret on its command line.
        await _stack.WaitForStateAsync(target, v => v.ExecutionState == ExecutionStates.Running, TimeSpan.FromSeconds(30), "the script to run");
        var processes = Directory.EnumerateDirectories("/proc").Where(d => int.TryParse(Path.GetFileName(d), out _)).ToList();
        foreach (var process in processes)
        {
            var text = TryRead(Path.Combine(process, "cmdline"));
            Assert.DoesNotContain(secrets, s => text.Contains(s, StringComparison.Ordinal));
        }

        // A nameless protected value is set inside the script's shell: in no process's environment either.
        Assert.DoesNotContain(processes, p => TryRead(Path.Combine(p, "environ")).Contains(positionalValue, StringComparison.Ordinal));

        // Control: the same scan does find the protected value where it belongs, in the script's environment.
        Assert.Contains(processes, p => TryRead(Path.Combine(p, "environ")).Contains("PSECRET=" + protectedValue, StringComparison.Ordinal));

        // Followed as any ARM client does, until it is no longer InProgress (a waiting poll also answers at the start).
        string operation;
        do
        {
            operation = await http.GetStringAsync(operationUrl + "&waitSeconds=30");
            responses.Add(operation);
        }
        while (System.Text.Json.JsonDocument.Parse(operation).RootElement.GetProperty("status").GetString() == OperationStatus.InProgress);

        responses.Add(await http.GetStringAsync(operationUrl));
        responses.Add(await http.GetStringAsync(url + "&$expand=instanceView"));
        responses.Add(await http.GetStringAsync(RunCommand.Client.RunCommandClient.RunCommandPath(target, "/logs") + "&stdoutOffset=0&stderrOffset=0"));
        responses.Add(await http.GetStringAsync(url.Replace("/runCommands/all-secrets", "/runCommands", StringComparison.Ordinal) + "&$expand=instanceView"));

        // The secrets did reach the script: it saw the protected value (by its hash) and ran as the user.
        var view = (await _stack.Client.GetAsync(target, expandInstanceView: true)).Properties!.InstanceView!;
        Assert.True(view.ExecutionState == ExecutionStates.Succeeded, view.ExecutionMessage + view.Error);
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(protectedValue)))[..16];
        var positionalHash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(positionalValue)))[..16];
        Assert.Equal($"{hash}\n{positionalHash}\n{user.Name}\n", view.Output);
        Assert.Contains("sig=" + scriptSas, scripts.Requests.Single(), StringComparison.Ordinal);
        Assert.Equal("to-error-blob\n", (await container.GetBlobClient("err.log").DownloadContentAsync()).Value.Content.ToString());

        var places = new Dictionary<string, byte[]>
        {
            ["server log"] = Encoding.UTF8.GetBytes(_stack.Server.Process.Output),
            ["agent log"] = Encoding.UTF8.GetBytes(agent.Process.Output),
        };
        for (var i = 0; i < responses.Count; i++)
        {
            places[$"response {i}"] = Encoding.UTF8.GetBytes(responses[i]);
        }

        foreach (var file in Directory.EnumerateFiles(_stack.Server.DataDir, "*", SearchOption.AllDirectories)
            .Concat(Directory.EnumerateFiles(agent.StateDir, "*", SearchOption.AllDirectories)))
        {
            places[file] = File.ReadAllBytes(file);
        }

        Assert.Contains(places.Keys, k => k.EndsWith("runcommand.db", StringComparison.Ordinal));
        foreach (var (place, bytes) in places)
        {
            foreach (var secret in secrets)
            {
                Assert.True(bytes.AsSpan().IndexOf(Encoding.UTF8.GetBytes(secret)) < 0, $"a secret ({secret[..Math.Min(4, secret.Length)]}...) was found in {place}");
            }
        }
    }

    private static string TryRead(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }
}
