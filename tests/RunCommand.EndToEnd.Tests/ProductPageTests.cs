using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>
/// The product page's (ProductPage/seed-managed-run-command-linux.md, a copy) Azure CLI examples, read from the page and run verbatim
/// with <c>az</c> replaced by runcmd, and its REST examples with their api-version and body (one source, a Linux
/// script, and the location adapted), against a real server and an agent enrolled as myVM in myRG.
/// </summary>
public sealed class ProductPageTests(StackFixture fixture) : IClassFixture<StackFixture>
{
    private static readonly string Page = Path.Combine(Repo.Root, "tests", "RunCommand.EndToEnd.Tests", "ProductPage", "seed-managed-run-command-linux.md");

    [Fact]
    public async Task AzureCliExamples_RunVerbatim_EachDoesWhatThePageSays()
    {
        var page = await ReadPageAsync();
        var examples = page.Split('\n').Where(l => l.StartsWith("az vm run-command ", StringComparison.Ordinal)).ToList();
        Assert.Equal(4, examples.Count);
        await using var agent = await AgentProcess.StartAsync(fixture.Stack.Server, "myVM", "myRG", Path.Combine(fixture.Stack.Dir, "agents", "page-myVM"));
        var config = Path.Combine(fixture.Stack.Dir, "cli-" + Guid.NewGuid().ToString("N"));
        await new CliRunner(config).LoginAsync(fixture.Stack.Server);
        await Wait.UntilAsync(async () => (await RunAsync("vm list -g myRG --query \"[0].agentInstanceView.status\" -o tsv", config)).Stdout == "Connected\n",
            TimeSpan.FromSeconds(30), "myVM to connect");

        var created = await RunAsync(examples[0][3..], config);
        var listed = await RunAsync(examples[1][3..], config);
        var shown = await RunAsync(examples[2][3..], config);
        var deleted = await RunAsync(examples[3][3..], config);
        var after = await RunAsync("vm run-command list --vm-name \"myVM\" --resource-group \"myRG\"", config);

        Assert.True(created.ExitCode == 0, created.Stderr);
        Assert.Equal("Hello World!\n", JsonNode.Parse(created.Stdout)!["instanceView"]!["output"]!.GetValue<string>());
        Assert.True(listed.ExitCode == 0, listed.Stderr);
        Assert.Equal("myRunCommand", JsonNode.Parse(listed.Stdout)![0]!["name"]!.GetValue<string>());
        Assert.True(shown.ExitCode == 0, shown.Stderr);
        var view = JsonNode.Parse(shown.Stdout)!["instanceView"]!;
        Assert.Equal("Succeeded", view["executionState"]!.GetValue<string>());
        Assert.Equal(0, view["exitCode"]!.GetValue<int>());
        Assert.NotNull(view["startTime"]);
        Assert.NotNull(view["endTime"]);
        Assert.True(deleted.ExitCode == 0, deleted.Stderr);
        Assert.Equal("[]\n", after.Stdout);
    }

    [Fact]
    public async Task RestExamples_PageBodyAndPaths_CreateListShowDelete()
    {
        var server = fixture.Stack.Server;
        await using var agent = await AgentProcess.StartAsync(server, "restVM", "myRG", Path.Combine(fixture.Stack.Dir, "agents", "page-restVM"));
        var page = await ReadPageAsync();
        var body = JsonNode.Parse(ExampleBody(page))!.AsObject();
        var properties = body["properties"]!.AsObject();
        // Adapted: the location, one source (a Linux script using the parameters), and no placeholders for a run-as
        // user and append blobs this machine does not have.
        body["location"] = "local";
        properties["source"] = new JsonObject { ["script"] = "echo Hello World! $param1 $param2 ${#secret1}" };
        foreach (var placeholder in new[] { "runAsUser", "runAsPassword", "outputBlobUri", "errorBlobUri" })
        {
            properties.Remove(placeholder);
        }

        using var http = new HttpClient { BaseAddress = new Uri(server.Url) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", server.AdminToken);
        var vm = $"/subscriptions/{server.SubscriptionId}/resourceGroups/myRG/providers/Microsoft.Compute/virtualMachines/restVM";
        await Wait.UntilAsync(async () => (await http.GetAsync($"{vm}?api-version=2019-12-01")).IsSuccessStatusCode, TimeSpan.FromSeconds(30), "restVM to enroll");

        using var put = await http.PutAsync($"{vm}/runcommands/pageCommand?api-version=2019-12-01", new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
        Assert.True(put.StatusCode is HttpStatusCode.Created or HttpStatusCode.OK, await put.Content.ReadAsStringAsync());
        JsonNode? shown = null;
        await Wait.UntilAsync(async () =>
        {
            shown = JsonNode.Parse(await http.GetStringAsync($"{vm}/runcommands/pageCommand?$expand=instanceView&api-version=2019-12-01"));
            return shown!["properties"]!["instanceView"]?["executionState"]?.GetValue<string>() is "Succeeded" or "Failed";
        }, TimeSpan.FromSeconds(60), "the page's run command to finish");
        var listed = JsonNode.Parse(await http.GetStringAsync($"{vm}/runcommands?api-version=2019-12-01"))!;
        using var delete = await http.DeleteAsync($"{vm}/runcommands/pageCommand?api-version=2019-12-01");

        var instanceView = shown!["properties"]!["instanceView"]!;
        Assert.Equal("Succeeded", instanceView["executionState"]!.GetValue<string>());
        Assert.Equal("Hello World! value1 value2 6\n", instanceView["output"]!.GetValue<string>());
        Assert.Null(shown["properties"]!["protectedParameters"]);
        Assert.Equal(3600, shown["properties"]!["timeoutInSeconds"]!.GetValue<int>());
        Assert.Contains(listed["value"]!.AsArray(), item => item!["name"]!.GetValue<string>() == "pageCommand");
        Assert.True(delete.StatusCode is HttpStatusCode.OK or HttpStatusCode.Accepted or HttpStatusCode.NoContent, delete.StatusCode.ToString());
    }

    private static async Task<string> ReadPageAsync()
    {
        return (await File.ReadAllTextAsync(Page)).ReplaceLineEndings("\n");
    }

    /// <summary>The REST section's PUT body: the first ```json block after "## REST API".</summary>
    private static string ExampleBody(string page)
    {
        var rest = page[page.IndexOf("## REST API", StringComparison.Ordinal)..];
        var start = rest.IndexOf("```json\n", StringComparison.Ordinal) + "```json\n".Length;
        return rest[start..rest.IndexOf("```", start, StringComparison.Ordinal)];
    }

    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string azArguments, string configDir)
    {
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add($"exec dotnet '{Repo.CliDll}' {azArguments}");
        psi.Environment["RUNCMD_CONFIG_DIR"] = configDir;
        psi.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(psi)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }
}
