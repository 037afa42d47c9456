using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Azure;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.ResourceManager;
using Azure.ResourceManager.Compute;
using Azure.ResourceManager.Compute.Models;
using RunCommand.Client;
using RunCommand.Contracts.Agents;
using RunCommand.Contracts.Arm;
using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>
/// Several control-plane nodes on one real PostgreSQL (issue 8 items 3 and 4): any node serves any client and any
/// agent; a node killed with -9 loses nothing: its agents move, its fleet runs and deployments are taken over.
/// </summary>
public sealed class MultiNodeTests : IAsyncLifetime
{
    private readonly TestScope _scope = new("rc-nodes-");
    private PostgresServer _postgres = null!;
    private string _database = null!;

    public async Task InitializeAsync()
    {
        _postgres = await PostgresServer.SharedAsync();
        _database = await _postgres.CreateDatabaseAsync("nodes");
    }

    public async Task DisposeAsync()
    {
        await _scope.DisposeAsync();
        await _postgres.DropDatabaseAsync(_database);
    }

    /// <summary>Starts a node on the shared database; later nodes get a copy of the first node's secrets key.</summary>
    private async Task<ServerProcess> StartNodeAsync(string name, ServerProcess? first = null, bool https = false, int? port = null, string presenceWindow = "00:00:10")
    {
        var dataDir = Path.Combine(_scope.Dir, name);
        Directory.CreateDirectory(dataDir);
        if (first is not null)
        {
            File.Copy(Path.Combine(first.DataDir, "secrets.key"), Path.Combine(dataDir, "secrets.key"));
            File.SetUnixFileMode(Path.Combine(dataDir, "secrets.key"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        var node = await ServerProcess.StartAsync(dataDir, https, ["--postgres", _database, "--RunCommand:AgentPresenceWindow", presenceWindow], port);
        _scope.Track(node);

        return node;
    }

    private static RunCommandClient Client(ServerProcess node, string adminToken) => new(new RunCommandClientOptions
    {
        Server = new Uri(node.Url),
        Token = adminToken,
        CaCertificatePath = node.IsHttps ? node.CaCertFile : null,
    });

    [Fact]
    public async Task TwoNodes_CommandCreatedOnB_RunsOnAgentOfA_AndCliAndSdkWorkThroughEither()
    {
        var nodeA = await StartNodeAsync("a", https: true);
        var nodeB = await StartNodeAsync("b", nodeA, https: true);
        var admin = nodeA.AdminToken;
        // One subscription, one admin: node B minted neither.
        Assert.Equal(nodeA.SubscriptionId, nodeB.SubscriptionId);
        Assert.False(File.Exists(Path.Combine(nodeB.DataDir, "admin.token")));
        var agent = await AgentProcess.StartAsync(nodeA, "cross", "nodes", Path.Combine(_scope.Dir, "agent-cross"), serverUrls: nodeA.Url);
        _scope.Track(agent);
        using var clientB = Client(nodeB, admin);
        var target = new RunCommandRef(nodeA.SubscriptionId, "nodes", "cross", "hello");

        var clock = Stopwatch.StartNew();
        var put = await clientB.CreateOrUpdateAsync(target, Stack.Script("echo hello from $(hostname)"));
        await clientB.WaitForOperationAsync(put.OperationUrl!);
        var view = (await clientB.GetAsync(target, expandInstanceView: true)).Properties!.InstanceView!;

        Assert.Equal(ExecutionStates.Succeeded, view.ExecutionState);
        Assert.Equal($"hello from {Environment.MachineName}\n", view.Output);
        // The PUT on B reached the agent's poll on A through NOTIFY, not the safety pass (10 s).
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(8), $"PUT on B to terminal state took {clock.Elapsed.TotalSeconds:0.0} s");

        // The CLI, logged in to either node with the first node's admin token.
        foreach (var node in new[] { nodeA, nodeB })
        {
            var cli = new CliRunner(Path.Combine(_scope.Dir, "cli-" + Path.GetFileName(node.DataDir)));
            var login = await cli.RunAsync("login", "--server", node.Url, "--token-file", Path.Combine(nodeA.DataDir, "admin.token"), "--ca-cert", node.CaCertFile);
            Assert.True(login.ExitCode == 0, login.Stdout + login.Stderr);
            var name = "cli-" + Path.GetFileName(node.DataDir);
            var created = await cli.RunAsync("vm", "run-command", "create", "-g", "nodes", "--vm-name", "cross", "-n", name, "--script", $"echo {name}");
            Assert.True(created.ExitCode == 0, created.Stdout + created.Stderr);
            Assert.Contains($"\"output\": \"{name}\\n\"", created.Stdout, StringComparison.Ordinal);
        }

        // The official Azure SDK against either node.
        foreach (var node in new[] { nodeA, nodeB })
        {
            var arm = new ArmClient(new StaticToken(admin), node.SubscriptionId, new ArmClientOptions
            {
                Environment = new ArmEnvironment(new Uri(node.Url), node.Url),
                Transport = new HttpClientTransport(node.CreateHttpClient(token: null)),
            });
            var commands = arm.GetVirtualMachineResource(Azure.ResourceManager.Compute.VirtualMachineResource.CreateResourceIdentifier(node.SubscriptionId, "nodes", "cross")).GetVirtualMachineRunCommands();
            var name = "sdk-" + Path.GetFileName(node.DataDir);
            var operation = await commands.CreateOrUpdateAsync(WaitUntil.Completed, name, new VirtualMachineRunCommandData(new AzureLocation("local"))
            {
                Source = new VirtualMachineRunCommandScriptSource { Script = $"echo {name}" },
            });
            Assert.Equal("Succeeded", operation.Value.Data.ProvisioningState);
            var shown = await commands.GetAsync(name, expand: "instanceView");
            Assert.Equal($"{name}\n", shown.Value.Data.InstanceView.Output);
        }
    }

    [Fact]
    public async Task TwoNodes_CapturedAgentAssertion_IsRefusedOnEitherNode()
    {
        var nodeA = await StartNodeAsync("a");
        var nodeB = await StartNodeAsync("b", nodeA);
        var key = AgentAssertion.NewKey();
        using var ownedKey = key;
        using (var enroll = nodeA.CreateHttpClient(File.ReadAllText(nodeA.EnrollTokenFile).Trim()))
        {
            using var enrolled = await enroll.PostAsJsonAsync("/agent/v1/enroll",
                new EnrollRequest { ResourceGroup = "nodes", VmName = "replayed", PublicKey = Convert.ToBase64String(key.ExportSubjectPublicKeyInfo()) });
            enrolled.EnsureSuccessStatusCode();
        }

        var resourceId = $"/subscriptions/{nodeA.SubscriptionId}/resourceGroups/nodes/providers/Microsoft.Compute/virtualMachines/replayed";
        async Task<HttpStatusCode> PollAsync(ServerProcess node, string assertion)
        {
            using var agent = node.CreateHttpClient(assertion);
            using var response = await agent.GetAsync("/agent/v1/goalstate?version=-1&waitSeconds=0");
            return response.StatusCode;
        }

        // Used on A, then replayed on A and on B; used on B, then replayed on A.
        var first = AgentAssertion.Create(key, resourceId, DateTimeOffset.UtcNow);
        Assert.Equal(HttpStatusCode.OK, await PollAsync(nodeA, first));
        Assert.Equal(HttpStatusCode.Unauthorized, await PollAsync(nodeA, first));
        Assert.Equal(HttpStatusCode.Unauthorized, await PollAsync(nodeB, first));
        var second = AgentAssertion.Create(key, resourceId, DateTimeOffset.UtcNow);
        Assert.Equal(HttpStatusCode.OK, await PollAsync(nodeB, second));
        Assert.Equal(HttpStatusCode.Unauthorized, await PollAsync(nodeA, second));
        Assert.Equal(HttpStatusCode.OK, await PollAsync(nodeA, AgentAssertion.Create(key, resourceId, DateTimeOffset.UtcNow)));
    }

    /// <summary>Enrolls <paramref name="vmName"/> with <paramref name="key"/> through <paramref name="node"/>; its resource id.</summary>
    private static async Task<string> EnrollKeyAsync(ServerProcess node, string vmName, System.Security.Cryptography.ECDsa key)
    {
        using var enroll = node.CreateHttpClient(File.ReadAllText(node.EnrollTokenFile).Trim());
        using var enrolled = await enroll.PostAsJsonAsync("/agent/v1/enroll",
            new EnrollRequest { ResourceGroup = "nodes", VmName = vmName, PublicKey = Convert.ToBase64String(key.ExportSubjectPublicKeyInfo()) });
        enrolled.EnsureSuccessStatusCode();
        return (await enrolled.Content.ReadFromJsonAsync<EnrollResponse>())!.VmResourceId;
    }

    /// <summary>A goal-state poll (answered at once) through <paramref name="node"/> with a fresh assertion signed by <paramref name="key"/>.</summary>
    private static async Task<HttpStatusCode> PollAsync(ServerProcess node, System.Security.Cryptography.ECDsa key, string resourceId)
    {
        using var agent = node.CreateHttpClient(AgentAssertion.Create(key, resourceId, DateTimeOffset.UtcNow));
        using var response = await agent.GetAsync("/agent/v1/goalstate?version=-1&waitSeconds=0");
        return response.StatusCode;
    }

    /// <summary>A request that is not a poll (its assertion checked at once): the ack of forgetting an execution it never had.</summary>
    private static async Task<HttpStatusCode> AckAsync(ServerProcess node, System.Security.Cryptography.ECDsa key, string resourceId)
    {
        using var agent = node.CreateHttpClient(AgentAssertion.Create(key, resourceId, DateTimeOffset.UtcNow));
        using var response = await agent.DeleteAsync("/agent/v1/executions/never-had");
        return response.StatusCode;
    }

    [Fact]
    public async Task TwoNodes_AgentRevokedThroughA_IsRefusedThroughBAlthoughBKeptItsKey()
    {
        var nodeA = await StartNodeAsync("a");
        var nodeB = await StartNodeAsync("b", nodeA);
        using var key = AgentAssertion.NewKey();
        var resourceId = await EnrollKeyAsync(nodeA, "revoked", key);
        // B reads the machine and keeps its key.
        Assert.Equal(HttpStatusCode.OK, await PollAsync(nodeB, key, resourceId));
        Assert.Equal(HttpStatusCode.NotFound, await AckAsync(nodeB, key, resourceId));

        using (var admin = Client(nodeA, nodeA.AdminToken))
        {
            await admin.RevokeAgentAsync(new VmRef(nodeA.SubscriptionId, "nodes", "revoked"));
        }

        // B still holds the key: the signature verifies with it, and the recorded use finds the machine without it.
        Assert.Equal(HttpStatusCode.Unauthorized, await PollAsync(nodeB, key, resourceId));
        Assert.Equal(HttpStatusCode.Unauthorized, await AckAsync(nodeB, key, resourceId));
        Assert.Equal(HttpStatusCode.Unauthorized, await PollAsync(nodeA, key, resourceId));
    }

    [Fact]
    public async Task TwoNodes_PollWaitingOnB_MachineEnrolledAgainThroughAAndGivenWork_OldKeyGetsNoWorkNewKeyDoes()
    {
        var nodeA = await StartNodeAsync("a");
        var nodeB = await StartNodeAsync("b", nodeA);
        using var oldKey = AgentAssertion.NewKey();
        using var newKey = AgentAssertion.NewKey();
        var resourceId = await EnrollKeyAsync(nodeA, "rekeyed-waiting", oldKey);
        using var first = nodeB.CreateHttpClient(AgentAssertion.Create(oldKey, resourceId, DateTimeOffset.UtcNow));
        var known = (await first.GetFromJsonAsync<GoalState>("/agent/v1/goalstate?version=-1&waitSeconds=0"))!.Version;

        // The old key's poll waits on B (its assertion accepted there); the machine is enrolled again with a new key and
        // given work through A: the change wakes B's poll through PostgreSQL, and B must not hand the work to the old key.
        using var waitingAgent = nodeB.CreateHttpClient(AgentAssertion.Create(oldKey, resourceId, DateTimeOffset.UtcNow));
        var waiting = waitingAgent.GetAsync($"/agent/v1/goalstate?version={known}&waitSeconds=30");
        using var scraper = nodeB.CreateHttpClient(nodeA.AdminToken);
        await Wait.UntilAsync(async () => PrometheusText.Parse(await scraper.GetStringAsync("/metrics")).GetValueOrDefault("runcmd_agents_connected") >= 1,
            TimeSpan.FromSeconds(30), "B to hold the old key's poll");
        Assert.Equal(resourceId, await EnrollKeyAsync(nodeA, "rekeyed-waiting", newKey));
        using (var admin = Client(nodeA, nodeA.AdminToken))
        {
            await admin.CreateOrUpdateAsync(new RunCommandRef(nodeA.SubscriptionId, "nodes", "rekeyed-waiting", "after-rekey"), Stack.Script("echo no"));
        }

        using var answer = await waiting.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(HttpStatusCode.Unauthorized, answer.StatusCode);
        using var newAgent = nodeB.CreateHttpClient(AgentAssertion.Create(newKey, resourceId, DateTimeOffset.UtcNow));
        var goal = await newAgent.GetFromJsonAsync<GoalState>("/agent/v1/goalstate?version=-1&waitSeconds=0");
        Assert.Equal("after-rekey", Assert.Single(goal!.Executions).RunCommandName);
    }

    [Fact]
    public async Task TwoNodes_AgentEnrolledAgainWithNewKeyThroughA_OldKeyRefusedAndNewKeyAcceptedThroughB()
    {
        var nodeA = await StartNodeAsync("a");
        var nodeB = await StartNodeAsync("b", nodeA);
        using var oldKey = AgentAssertion.NewKey();
        using var newKey = AgentAssertion.NewKey();
        var resourceId = await EnrollKeyAsync(nodeA, "rekeyed", oldKey);
        Assert.Equal(HttpStatusCode.OK, await PollAsync(nodeB, oldKey, resourceId));

        Assert.Equal(resourceId, await EnrollKeyAsync(nodeA, "rekeyed", newKey));

        // B kept the old key: its assertions still verify there and are refused by the store; the new key's do not verify
        // with it, so B reads the machine again and accepts them.
        Assert.Equal(HttpStatusCode.Unauthorized, await PollAsync(nodeB, oldKey, resourceId));
        Assert.Equal(HttpStatusCode.Unauthorized, await AckAsync(nodeB, oldKey, resourceId));
        Assert.Equal(HttpStatusCode.OK, await PollAsync(nodeB, newKey, resourceId));
        Assert.Equal(HttpStatusCode.NotFound, await AckAsync(nodeB, newKey, resourceId));
        Assert.Equal(HttpStatusCode.Unauthorized, await PollAsync(nodeB, oldKey, resourceId));

        // An assertion of the new key is still accepted once, on either node.
        var assertion = AgentAssertion.Create(newKey, resourceId, DateTimeOffset.UtcNow);
        foreach (var (node, expected) in new[] { (nodeB, HttpStatusCode.OK), (nodeB, HttpStatusCode.Unauthorized), (nodeA, HttpStatusCode.Unauthorized) })
        {
            using var agent = node.CreateHttpClient(assertion);
            using var response = await agent.GetAsync("/agent/v1/goalstate?version=-1&waitSeconds=0");
            Assert.Equal(expected, response.StatusCode);
        }
    }

    [Fact]
    public async Task TwoNodes_AgentStoppedWithSigterm_ShowsDisconnectedThroughEitherNodeAtOnce()
    {
        // A presence window of 10 minutes: without its sign-off the stopped agent would show Connected all test long.
        var nodeA = await StartNodeAsync("a", presenceWindow: "00:10:00");
        var nodeB = await StartNodeAsync("b", nodeA, presenceWindow: "00:10:00");
        var agent = await AgentProcess.StartAsync(nodeA, "leaving", "nodes", Path.Combine(_scope.Dir, "agent-leaving"), serverUrls: nodeA.Url);
        _scope.Track(agent);
        var clis = new[] { nodeA, nodeB }.Select(node => (Node: node, Cli: new CliRunner(Path.Combine(_scope.Dir, "cli-" + Path.GetFileName(node.DataDir))))).ToList();
        foreach (var (node, cli) in clis)
        {
            var login = await cli.RunAsync("login", "--server", node.Url, "--token-file", Path.Combine(nodeA.DataDir, "admin.token"));
            Assert.True(login.ExitCode == 0, login.Stdout + login.Stderr);
        }

        async Task<string> StatusAsync(CliRunner cli)
        {
            var shown = await cli.RunAsync("vm", "show", "-g", "nodes", "-n", "leaving", "--query", "agentInstanceView.status", "-o", "tsv");
            Assert.True(shown.ExitCode == 0, shown.Stdout + shown.Stderr);
            return shown.Stdout.Trim();
        }

        foreach (var (_, cli) in clis)
        {
            await Wait.UntilAsync(async () => await StatusAsync(cli) == "Connected", TimeSpan.FromSeconds(30), "the agent to show Connected");
        }

        await agent.Process.StopAsync();
        Assert.Equal(0, await agent.Process.WaitForExitAsync(TimeSpan.FromSeconds(5)));
        Assert.Contains("Signed off", agent.Process.Output, StringComparison.Ordinal);
        foreach (var (_, cli) in clis)
        {
            await Wait.UntilAsync(async () => await StatusAsync(cli) == "Disconnected", TimeSpan.FromSeconds(30), "the stopped agent to show Disconnected");
            var list = await cli.RunAsync("vm", "list", "-g", "nodes", "-o", "table");
            Assert.True(list.ExitCode == 0, list.Stdout + list.Stderr);
            Assert.Contains("Disconnected", list.Stdout, StringComparison.Ordinal);
        }

        // Started again, it is Connected again through either node, before any window could matter.
        var back = await AgentProcess.StartAsync(nodeA, "leaving", "nodes", Path.Combine(_scope.Dir, "agent-leaving"), serverUrls: nodeB.Url);
        _scope.Track(back);
        foreach (var (_, cli) in clis)
        {
            await Wait.UntilAsync(async () => await StatusAsync(cli) == "Connected", TimeSpan.FromSeconds(30), "the restarted agent to show Connected");
        }
    }

    [Fact]
    public async Task KillNodeA_WithScriptsFleetRunAndDeploymentInFlight_EverythingFinishesOnBOnce()
    {
        const int machines = 20;
        var nodeA = await StartNodeAsync("a");
        var admin = nodeA.AdminToken;
        var work = Path.Combine(_scope.Dir, "work");
        Directory.CreateDirectory(work);
        var gate = Path.Combine(work, "gate");
        // Node B's address is known before it starts: the agents list it and reach it once A is gone.
        var portB = ServerProcess.FreePort();
        var urlB = $"http://127.0.0.1:{portB}";
        var agents = await Task.WhenAll(Enumerable.Range(0, machines).Select(async i =>
        {
            var agent = await AgentProcess.StartAsync(nodeA, $"m{i}", "fleet", Path.Combine(_scope.Dir, "agents", $"m{i}"), serverUrls: $"{nodeA.Url},{urlB}");
            _scope.Track(agent);

            return agent;
        }));
        using var clientA = Client(nodeA, admin);
        var subscription = nodeA.SubscriptionId;

        // 20 scripts, one per machine: each counts its runs, prints a line, waits for the gate, then prints 200 more
        // lines and exits with its own code.
        var scripts = Enumerable.Range(0, machines).ToDictionary(i => new RunCommandRef(subscription, "fleet", $"m{i}", "job"), i =>
            $"echo run >> {work}/job-{i}.count; echo start {i}; {Gate.WaitFor(gate, 0.5)}; "
            + $"for n in $(seq 1 200); do echo \"job {i} line $n\"; done; echo err {i} >&2; exit {i % 4}");
        foreach (var (target, script) in scripts)
        {
            await clientA.CreateOrUpdateAsync(target, Stack.Script(script));
        }

        // A 20-target fleet run, 5 at a time, each target counting its runs.
        var fleet = new FleetRunRef(subscription, "fleet", "wave");
        await clientA.CreateFleetRunAsync(fleet, new FleetRunResource
        {
            Location = "local",
            Properties = new FleetRunProperties
            {
                Targets = new FleetTargets { ResourceGroup = "fleet" },
                Source = new RunCommandSource { Script = $"echo run >> {work}/fleet.count; {Gate.WaitFor(gate, 0.5)}; echo wave" },
                MaxConcurrency = "5",
            },
        });

        // A 3-step deployment on m0: first waits for the gate, second and third follow.
        var template = JsonDocument.Parse("""
            {"resources":[
               {"type":"Microsoft.Compute/virtualMachines/runCommands","name":"m0/step1","location":"local",
                "properties":{"source":{"script":"echo run >> 'WORK/step1.count'; WAIT_FOR_GATE; echo one"}}},
               {"type":"Microsoft.Compute/virtualMachines/runCommands","name":"m0/step2","location":"local",
                "dependsOn":["[resourceId('Microsoft.Compute/virtualMachines/runCommands', 'm0', 'step1')]"],
                "properties":{"source":{"script":"echo run >> 'WORK/step2.count'; echo two"}}},
               {"type":"Microsoft.Compute/virtualMachines/runCommands","name":"m0/step3","location":"local",
                "dependsOn":["[resourceId('Microsoft.Compute/virtualMachines/runCommands', 'm0', 'step2')]"],
                "properties":{"source":{"script":"echo run >> 'WORK/step3.count'; echo three"}}}]}
            """.Replace("WORK", work, StringComparison.Ordinal).Replace("WAIT_FOR_GATE", Gate.WaitFor(gate, 0.5), StringComparison.Ordinal)).RootElement.Clone();
        await clientA.CreateDeploymentAsync(subscription, "fleet", "three", template, JsonDocument.Parse("{}").RootElement.Clone());

        // Everything in flight on A: the scripts, 5 fleet targets and the first step run.
        foreach (var target in scripts.Keys)
        {
            await Wait.UntilAsync(async () => (await clientA.GetAsync(target, expandInstanceView: true)).Properties!.InstanceView!.ExecutionState == ExecutionStates.Running,
                TimeSpan.FromSeconds(120), $"{target.VmName}'s job to run");
        }

        await Wait.UntilAsync(async () => (await clientA.GetFleetRunAsync(fleet)).Properties!.InstanceView!.Counts[ExecutionStates.Running] == 5,
            TimeSpan.FromSeconds(120), "5 fleet targets to run");
        await DeploymentTests.WaitForRunningAsync(clientA, new RunCommandRef(subscription, "fleet", "m0", "step1"));

        var nodeB = await StartNodeAsync("b", nodeA, port: portB);
        await nodeA.Process.KillHardAsync();
        var killed = Stopwatch.StartNew();
        await File.WriteAllTextAsync(gate, "");
        using var clientB = Client(nodeB, admin);

        var fleetView = await Wait.UntilAsync(async () =>
        {
            var current = await clientB.GetFleetRunAsync(fleet, waitSeconds: 10);
            return FleetRunStates.IsTerminal(current.Properties!.ProvisioningState!) ? current : null;
        }, TimeSpan.FromMinutes(4), "the fleet run to finish on node B");
        var deployment = await Wait.UntilAsync(async () =>
        {
            var d = await clientB.GetDeploymentAsync(subscription, "fleet", "three");
            return d.Properties!.ProvisioningState is "Succeeded" or "Failed" or "Canceled" ? d : null;
        }, TimeSpan.FromMinutes(2), "the deployment to finish on node B");
        var finishedAfter = killed.Elapsed;

        foreach (var (target, i) in scripts.Keys.Select((t, i) => (t, i)))
        {
            var view = await Wait.UntilAsync(async () =>
            {
                var instance = (await clientB.GetAsync(target, expandInstanceView: true)).Properties!.InstanceView!;
                return ExecutionStates.IsTerminal(instance.ExecutionState!) ? instance : null;
            }, TimeSpan.FromMinutes(2), $"{target.VmName}'s job to end");
            Assert.Equal(i % 4 == 0 ? ExecutionStates.Succeeded : ExecutionStates.Failed, view.ExecutionState);
            Assert.Equal(i % 4, view.ExitCode);
            var stdout = Encoding(await Stack.ReadAllStdoutAsync(clientB, target));
            Assert.Equal($"start {i}\n" + string.Concat(Enumerable.Range(1, 200).Select(n => $"job {i} line {n}\n")), stdout);
            Assert.Equal($"err {i}\n", view.Error);
            Assert.Equal(["run"], File.ReadAllLines(Path.Combine(work, $"job-{i}.count")));
        }

        Assert.Equal(FleetRunStates.Succeeded, fleetView.Properties!.ProvisioningState);
        Assert.Equal(machines, fleetView.Properties.InstanceView!.Counts[ExecutionStates.Succeeded]);
        Assert.Equal(machines, File.ReadAllLines(Path.Combine(work, "fleet.count")).Length);
        Assert.Equal("Succeeded", deployment.Properties!.ProvisioningState);
        foreach (var step in new[] { "step1", "step2", "step3" })
        {
            Assert.Equal(["run"], File.ReadAllLines(Path.Combine(work, $"{step}.count")));
        }

        Console.WriteLine($"node A killed: fleet run and deployment finished on node B after {finishedAfter.TotalSeconds:0.0} s");
    }

    private static string Encoding(byte[] bytes) => System.Text.Encoding.UTF8.GetString(bytes);

    private sealed class StaticToken(string token) : TokenCredential
    {
        public override AccessToken GetToken(TokenRequestContext requestContext, CancellationToken cancellationToken) => new(token, DateTimeOffset.MaxValue);

        public override ValueTask<AccessToken> GetTokenAsync(TokenRequestContext requestContext, CancellationToken cancellationToken) => new(GetToken(requestContext, cancellationToken));
    }
}
