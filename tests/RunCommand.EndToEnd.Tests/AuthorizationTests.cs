using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using RunCommand.Client;
using RunCommand.Contracts.Agents;
using RunCommand.Contracts.Arm;
using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>
/// One server with VMs enrolled by API in resource groups "rga" (vma) and "rgb" (vmb), plus a real agent for VM
/// "vmrun" in "rga". Each test creates its own principals (named after the test), so no test depends on another's.
/// </summary>
public sealed class AuthServerFixture : IAsyncLifetime
{
    public string Dir { get; } = Directory.CreateTempSubdirectory("rc-auth-").FullName;

    public ServerProcess Server { get; private set; } = null!;

    public RunCommandClient Admin { get; private set; } = null!;

    public AgentProcess Agent { get; private set; } = null!;

    public string Subscription => Server.SubscriptionId;

    public async Task InitializeAsync()
    {
        Server = await ServerProcess.StartAsync(Path.Combine(Dir, "server"));
        Admin = ClientFor(Server.AdminToken);
        await EnrollAsync("rga", "vma");
        await EnrollAsync("rgb", "vmb");
        Agent = await AgentProcess.StartAsync(Server, "vmrun", "rga", Path.Combine(Dir, "agent-vmrun"));
    }

    /// <summary>Enrolls a VM without an agent process; returns the agent credential.</summary>
    public async Task<string> EnrollAsync(string group, string vm)
    {
        using var enroll = Server.CreateHttpClient(File.ReadAllText(Server.EnrollTokenFile).Trim());
        var response = await enroll.PostAsJsonAsync("/agent/v1/enroll", new EnrollRequest { ResourceGroup = group, VmName = vm });
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<EnrollResponse>())!.AgentToken!;
    }

    /// <summary>Enrolls a VM with a key pair, without an agent process; returns the key and the resource id it speaks for.</summary>
    public async Task<(ECDsa Key, string ResourceId)> EnrollWithKeyAsync(string group, string vm)
    {
        var key = AgentAssertion.NewKey();
        using var enroll = Server.CreateHttpClient(File.ReadAllText(Server.EnrollTokenFile).Trim());
        var response = await enroll.PostAsJsonAsync("/agent/v1/enroll",
            new EnrollRequest { ResourceGroup = group, VmName = vm, PublicKey = Convert.ToBase64String(key.ExportSubjectPublicKeyInfo()) });
        response.EnsureSuccessStatusCode();
        var enrolled = (await response.Content.ReadFromJsonAsync<EnrollResponse>())!;
        Assert.Null(enrolled.AgentToken);
        return (key, enrolled.VmResourceId);
    }

    public RunCommandClient ClientFor(string token) =>
        new(new RunCommandClientOptions { Server = new Uri(Server.Url), Token = token });

    /// <summary>Creates a user with a token and, when given, a role at a scope; returns the token.</summary>
    public async Task<string> UserAsync(string name, string? role = null, string? scope = null, TimeSpan? lifetime = null)
    {
        await Admin.CreatePrincipalAsync(name, "User", null);
        if (role is not null)
        {
            await Admin.CreateRoleAssignmentAsync(scope ?? $"/subscriptions/{Subscription}", name, role);
        }

        return (await Admin.CreateTokenAsync(name, lifetime, "test")).Token!;
    }

    public string Group(string group) => $"/subscriptions/{Subscription}/resourceGroups/{group}";

    public async Task DisposeAsync()
    {
        await Agent.DisposeAsync();
        Admin.Dispose();
        await Server.DisposeAsync();
        Directory.Delete(Dir, recursive: true);
    }
}

/// <summary>Principals, tokens, RBAC and the activity log against a real server.</summary>
public sealed class AuthorizationTests(AuthServerFixture fixture) : IClassFixture<AuthServerFixture>
{
    private static RunCommandResource Script(string script) => Stack.Script(script);

    private static async Task<HttpStatusCode> StatusOfAsync(Func<Task> call)
    {
        var e = await Assert.ThrowsAsync<ArmRequestException>(call);
        return e.StatusCode;
    }

    private static async Task AssertForbiddenAsync(Func<Task> call, string action)
    {
        var e = await Assert.ThrowsAsync<ArmRequestException>(call);
        Assert.Equal(HttpStatusCode.Forbidden, e.StatusCode);
        Assert.Equal("AuthorizationFailed", e.Error.Code);
        Assert.Contains($"does not have authorization to perform action '{action}' over scope", e.Error.Message, StringComparison.Ordinal);
    }

    private async Task<IReadOnlyList<ActivityLogEvent>> ActivityOfAsync(string caller) =>
        await fixture.Admin.ListActivityLogAsync(fixture.Subscription, $"caller eq '{caller}'");

    [Fact]
    public async Task Reader_ListShowCreateDeleteInvoke_ReadsAnd403sOnWrites()
    {
        var vm = new VmRef(fixture.Subscription, "rga", "vma");
        var existing = new RunCommandRef(fixture.Subscription, "rga", "vma", "reader-visible");
        await fixture.Admin.CreateOrUpdateAsync(existing, Script("echo hi"));
        using var reader = fixture.ClientFor(await fixture.UserAsync("reader1", "Reader", fixture.Group("rga")));

        Assert.Contains(await reader.ListAsync(vm), c => c.Name == "reader-visible");
        Assert.Equal("reader-visible", (await reader.GetAsync(existing)).Name);
        Assert.Equal("vma", (await reader.GetVmAsync(vm)).Name);

        await AssertForbiddenAsync(() => reader.CreateOrUpdateAsync(new RunCommandRef(fixture.Subscription, "rga", "vma", "by-reader"), Script("id")),
            "Microsoft.Compute/virtualMachines/runCommands/write");
        await AssertForbiddenAsync(() => reader.DeleteAsync(existing), "Microsoft.Compute/virtualMachines/runCommands/delete");
        await AssertForbiddenAsync(() => reader.InvokeAsync(vm, new RunCommandInput { CommandId = "RunShellScript", Script = ["id"] }),
            "Microsoft.Compute/virtualMachines/runCommand/action");
        await AssertForbiddenAsync(() => reader.CreateRoleAssignmentAsync(fixture.Group("rga"), "reader1", "Owner"),
            "Microsoft.Authorization/roleAssignments/write");

        // The reader sees only what its scope covers: rga's VMs, not rgb's.
        var vms = await reader.ListVmsAsync(fixture.Subscription, null);
        Assert.Contains(vms, v => v.Name == "vma");
        Assert.DoesNotContain(vms, v => v.Name == "vmb");

        var activity = await ActivityOfAsync("reader1");
        Assert.Contains(activity, e => e.Status.Value == "Denied" && e.Authorization.Action == "Microsoft.Compute/virtualMachines/runCommands/write");
        Assert.Contains(activity, e => e.Status.Value == "Denied" && e.Authorization.Action == "Microsoft.Compute/virtualMachines/runCommands/delete");
        Assert.Contains(activity, e => e.Status.Value == "Denied" && e.Authorization.Action == "Microsoft.Compute/virtualMachines/runCommand/action");
        Assert.All(activity, e => Assert.Equal("127.0.0.1", e.HttpRequest?.ClientIpAddress));
    }

    [Fact]
    public async Task VmContributor_OnGroupA_RunsThereAnd403sInB()
    {
        using var contributor = fixture.ClientFor(await fixture.UserAsync("vmc1", "Virtual Machine Contributor", fixture.Group("rga")));
        var target = new RunCommandRef(fixture.Subscription, "rga", "vmrun", "vmc-run");

        var response = await contributor.CreateOrUpdateAsync(target, Script("echo ran-by-vmc"));
        var operation = await contributor.WaitForOperationAsync(response.OperationUrl!);
        Assert.Equal(OperationStatus.Succeeded, operation.Status);
        Assert.Contains("ran-by-vmc", (await contributor.GetAsync(target, expandInstanceView: true)).Properties!.InstanceView!.Output, StringComparison.Ordinal);

        await AssertForbiddenAsync(() => contributor.CreateOrUpdateAsync(new RunCommandRef(fixture.Subscription, "rgb", "vmb", "vmc-run"), Script("id")),
            "Microsoft.Compute/virtualMachines/runCommands/write");
        await AssertForbiddenAsync(() => contributor.InvokeAsync(new VmRef(fixture.Subscription, "rgb", "vmb"), new RunCommandInput { CommandId = "RunShellScript", Script = ["id"] }),
            "Microsoft.Compute/virtualMachines/runCommand/action");

        var activity = await ActivityOfAsync("vmc1");
        Assert.Contains(activity, e => e.Status.Value == "Succeeded" && e.Authorization.Action == "Microsoft.Compute/virtualMachines/runCommands/write"
            && e.ResourceId.EndsWith("/virtualMachines/vmrun/runCommands/vmc-run", StringComparison.Ordinal));
        Assert.Contains(activity, e => e.Status.Value == "Denied" && e.ResourceGroupName == "rgb");
    }

    [Fact]
    public async Task CustomRole_RunCommandsReadOnly_ReadsButCannotWriteOrReadVms()
    {
        var role = await fixture.Admin.PutRoleDefinitionAsync(fixture.Subscription, Guid.NewGuid().ToString(), new RoleDefinitionProperties
        {
            RoleName = "Run Command Reader (test)",
            Permissions = [new RolePermission { Actions = ["Microsoft.Compute/virtualMachines/runCommands/read"] }],
        });
        Assert.Equal("CustomRole", role.Properties.Type);
        var existing = new RunCommandRef(fixture.Subscription, "rgb", "vmb", "custom-visible");
        await fixture.Admin.CreateOrUpdateAsync(existing, Script("echo hi"));
        using var custom = fixture.ClientFor(await fixture.UserAsync("custom1", "Run Command Reader (test)"));

        Assert.Equal("custom-visible", (await custom.GetAsync(existing)).Name);
        Assert.Contains(await custom.ListAsync(existing.Vm), c => c.Name == "custom-visible");
        await AssertForbiddenAsync(() => custom.CreateOrUpdateAsync(existing, Script("echo changed")), "Microsoft.Compute/virtualMachines/runCommands/write");
        await AssertForbiddenAsync(() => custom.DeleteAsync(existing), "Microsoft.Compute/virtualMachines/runCommands/delete");
        await AssertForbiddenAsync(() => custom.GetVmAsync(existing.Vm), "Microsoft.Compute/virtualMachines/read");
        Assert.Empty(await custom.ListVmsAsync(fixture.Subscription, null));
    }

    [Fact]
    public async Task CustomRole_DeploymentsWriteOnly_CannotCreateRunCommandsThroughATemplate()
    {
        await fixture.Admin.PutRoleDefinitionAsync(fixture.Subscription, Guid.NewGuid().ToString(), new RoleDefinitionProperties
        {
            RoleName = "Deployer only (test)",
            Permissions = [new RolePermission { Actions = ["Microsoft.Resources/deployments/*"] }],
        });
        using var deployer = fixture.ClientFor(await fixture.UserAsync("deployer1", "Deployer only (test)", fixture.Group("rga")));
        using var template = System.Text.Json.JsonDocument.Parse("""
            {"resources":[{"type":"Microsoft.Compute/virtualMachines/runCommands","name":"vma/escalate","apiVersion":"2023-07-01",
              "location":"local","properties":{"source":{"script":"echo escalated"}}}]}
            """);

        await AssertForbiddenAsync(() => deployer.CreateDeploymentAsync(fixture.Subscription, "rga", "escalation", template.RootElement, null),
            "Microsoft.Compute/virtualMachines/runCommands/write");
        var missing = await Assert.ThrowsAsync<ArmRequestException>(() => fixture.Admin.GetAsync(new RunCommandRef(fixture.Subscription, "rga", "vma", "escalate")));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task CustomRole_DeploymentsAndVmRunCommandsWrite_CannotCreateScaleSetInstanceRunCommandsThroughATemplate()
    {
        await fixture.Admin.PutRoleDefinitionAsync(fixture.Subscription, Guid.NewGuid().ToString(), new RoleDefinitionProperties
        {
            RoleName = "Deployer of VM run commands (test)",
            Permissions = [new RolePermission { Actions = ["Microsoft.Resources/deployments/*", "Microsoft.Compute/virtualMachines/runCommands/write"] }],
        });
        using var deployer = fixture.ClientFor(await fixture.UserAsync("deployer2", "Deployer of VM run commands (test)", fixture.Group("rga")));
        using var template = System.Text.Json.JsonDocument.Parse("""
            {"resources":[{"type":"Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommands","name":"ssa/0/escalate","apiVersion":"2023-07-01",
              "location":"local","properties":{"source":{"script":"echo escalated"}}}]}
            """);

        await AssertForbiddenAsync(() => deployer.CreateDeploymentAsync(fixture.Subscription, "rga", "ss-escalation", template.RootElement, null),
            "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommands/write");
    }

    [Fact]
    public async Task CustomRole_FleetRunsOnly_CannotRunOnMachinesItMayNotWriteTo()
    {
        await fixture.Admin.PutRoleDefinitionAsync(fixture.Subscription, Guid.NewGuid().ToString(), new RoleDefinitionProperties
        {
            RoleName = "Fleet only (test)",
            Permissions = [new RolePermission { Actions = ["RunCommand.Fleet/*"] }],
        });
        using var fleeter = fixture.ClientFor(await fixture.UserAsync("fleeter1", "Fleet only (test)", fixture.Group("rga")));
        var run = new FleetRunResource
        {
            Location = "local",
            Properties = new FleetRunProperties
            {
                Targets = new FleetTargets { ResourceGroup = "rga" },
                Source = new RunCommandSource { Script = "echo escalated" },
            },
        };

        await AssertForbiddenAsync(() => fleeter.CreateFleetRunAsync(new FleetRunRef(fixture.Subscription, "rga", "escalation"), run),
            "Microsoft.Compute/virtualMachines/runCommands/write");
    }

    [Fact]
    public async Task AdminToken_EveryKindOfCall_Succeeds()
    {
        var vm = new VmRef(fixture.Subscription, "rgb", "vmb");
        Assert.Contains(await fixture.Admin.ListVmsAsync(fixture.Subscription, null), v => v.Name == "vmb");
        await fixture.Admin.CreateOrUpdateAsync(new RunCommandRef(fixture.Subscription, "rgb", "vmb", "admin-cmd"), Script("true"));
        await fixture.Admin.DeleteAsync(new RunCommandRef(fixture.Subscription, "rgb", "vmb", "admin-cmd"));
        await fixture.Admin.InvokeAsync(vm, new RunCommandInput { CommandId = "RunShellScript", Script = ["true"] });
        Assert.Contains(await fixture.Admin.ListRoleDefinitionsAsync(fixture.Subscription), r => r.Properties.RoleName == "Owner");
        Assert.Contains(await fixture.Admin.ListRoleAssignmentsAsync("/", null), a => a.Properties.Scope == "/" && a.Properties.PrincipalId == "00000000-0000-0000-0000-000000000001");
        Assert.Contains(await fixture.Admin.ListActivityLogAsync(fixture.Subscription, "caller eq 'admin'"),
            e => e.Authorization.Action == "Microsoft.Compute/virtualMachines/runCommand/action" && e.Status.Value == "Succeeded");
    }

    [Fact]
    public async Task RunCommandPut_IsInTheActivityLogOnceWithTheStatusAnswered()
    {
        // An accepted PUT's entry is stored in the PUT's own transaction; a refused one by the recorder after the answer.
        var command = new RunCommandRef(fixture.Subscription, "rgb", "vmb", "logged-once");
        var created = await fixture.Admin.CreateOrUpdateAsync(command, Script("true"));
        var unchanged = await fixture.Admin.CreateOrUpdateAsync(command, Script("true"));
        var missing = new RunCommandRef(fixture.Subscription, "rgb", "no-such-vm", "logged-once");
        var refused = await Assert.ThrowsAsync<ArmRequestException>(() => fixture.Admin.CreateOrUpdateAsync(missing, Script("true")));

        var puts = (await fixture.Admin.ListActivityLogAsync(fixture.Subscription, "caller eq 'admin'"))
            .Where(e => e.HttpRequest?.Method == "PUT" && e.ResourceId.EndsWith("/runCommands/logged-once", StringComparison.Ordinal))
            .Select(e => $"{e.ResourceId.Split('/')[8]} {e.Properties?["statusCode"]} {e.Authorization.Action}");
        const string Write = "Microsoft.Compute/virtualMachines/runCommands/write";
        Assert.Equal([$"no-such-vm {(int)refused.StatusCode} {Write}", $"vmb {(int)unchanged.StatusCode} {Write}", $"vmb {(int)created.StatusCode} {Write}"], puts);
        Assert.Equal((HttpStatusCode.Created, HttpStatusCode.OK, HttpStatusCode.NotFound), (created.StatusCode, unchanged.StatusCode, refused.StatusCode));
    }

    [Fact]
    public async Task Token_ExpiredRevokedOrMalformed_Gets401WithArmBodyAndIsLogged()
    {
        var expired = await fixture.UserAsync("expiring1", "Reader", lifetime: TimeSpan.FromSeconds(1));
        var revoked = await fixture.UserAsync("revoked1", "Reader");
        using var revokedClient = fixture.ClientFor(revoked);
        Assert.NotEmpty(await revokedClient.ListVmsAsync(fixture.Subscription, null));
        var token = Assert.Single(await fixture.Admin.ListTokensAsync("revoked1"));
        Assert.Null(token.Token);
        await fixture.Admin.RevokeTokenAsync(token.Id);

        Assert.Equal(HttpStatusCode.Unauthorized, await StatusOfAsync(() => revokedClient.ListVmsAsync(fixture.Subscription, null)));

        using var expiredClient = fixture.ClientFor(expired);
        await Wait.UntilAsync(async () =>
        {
            try
            {
                await expiredClient.ListVmsAsync(fixture.Subscription, null);
                return false;
            }
            catch (ArmRequestException e) when (e.StatusCode == HttpStatusCode.Unauthorized)
            {
                Assert.Equal("ExpiredAuthenticationToken", e.Error.Code);
                return true;
            }
        }, TimeSpan.FromSeconds(20), "the 1 s token to expire");

        using var http = fixture.Server.CreateHttpClient(token: null);
        foreach (var header in new[] { "Bearer not-a-token", "Basic dXNlcjpwYXNz", "Bearer " + revoked + "x" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"/subscriptions/{fixture.Subscription}/providers/Microsoft.Compute/virtualMachines?api-version=2023-07-01");
            request.Headers.TryAddWithoutValidation("Authorization", header);
            using var response = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            Assert.False(string.IsNullOrEmpty(body.RootElement.GetProperty("error").GetProperty("code").GetString()));
        }

        var denied = await fixture.Admin.ListActivityLogAsync(fixture.Subscription, null);
        Assert.Contains(denied, e => e.Caller is null && e.SubStatus?.Value == "Unauthorized");
        // The token of a principal is never recorded, in any form.
        var log = JsonSerializer.Serialize(denied, RunCommand.Contracts.ContractsJsonContext.Default.IReadOnlyListActivityLogEvent);
        Assert.DoesNotContain(revoked, log, StringComparison.Ordinal);
        Assert.DoesNotContain(expired, log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Agent_OtherVmsWork_IsNeitherReadNorReportable()
    {
        var mine = await fixture.EnrollAsync("rgb", "agent-own");
        await fixture.EnrollAsync("rgb", "agent-other");
        var other = new RunCommandRef(fixture.Subscription, "rgb", "agent-other", "secret-work");
        await fixture.Admin.CreateOrUpdateAsync(other, Script("echo other"));
        var executionId = await OtherExecutionIdAsync(other);

        using var agent = fixture.Server.CreateHttpClient(mine);
        var goal = await agent.GetFromJsonAsync<GoalState>("/agent/v1/goalstate?version=-1&waitSeconds=0");
        Assert.Empty(goal!.Executions);

        using var report = await agent.PostAsJsonAsync($"/agent/v1/executions/{executionId}/report", new ExecutionReport { State = "Succeeded", ExitCode = 0 });
        Assert.Equal(HttpStatusCode.NotFound, report.StatusCode);
        Assert.Equal("Pending", (await fixture.Admin.GetAsync(other, expandInstanceView: true)).Properties!.InstanceView!.ExecutionState);

        // An agent credential is not an API token.
        using var arm = await agent.GetAsync($"/subscriptions/{fixture.Subscription}/providers/Microsoft.Compute/virtualMachines?api-version=2023-07-01");
        Assert.Equal(HttpStatusCode.Unauthorized, arm.StatusCode);
    }

    /// <summary>The execution id the other VM's own agent would be given.</summary>
    private async Task<string> OtherExecutionIdAsync(RunCommandRef other)
    {
        var credential = await fixture.EnrollAsync(other.Vm.ResourceGroup, other.Vm.VmName);
        using var owner = fixture.Server.CreateHttpClient(credential);
        var goal = await owner.GetFromJsonAsync<GoalState>("/agent/v1/goalstate?version=-1&waitSeconds=0");
        return Assert.Single(goal!.Executions).ExecutionId;
    }

    [Fact]
    public async Task Agent_Revoked_IsRefusedAndGetsNoWork()
    {
        var credential = await fixture.EnrollAsync("rgb", "revoked-agent");
        using var agent = fixture.Server.CreateHttpClient(credential);
        var first = await agent.GetFromJsonAsync<GoalState>("/agent/v1/goalstate?version=-1&waitSeconds=0");

        // A poll waiting when the agent is revoked must not hand it the work created afterwards.
        var waiting = agent.GetAsync($"/agent/v1/goalstate?version={first!.Version}&waitSeconds=20");
        await fixture.Admin.RevokeAgentAsync(new VmRef(fixture.Subscription, "rgb", "revoked-agent"));
        await fixture.Admin.CreateOrUpdateAsync(new RunCommandRef(fixture.Subscription, "rgb", "revoked-agent", "after-revoke"), Script("echo no"));

        using var answer = await waiting.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(HttpStatusCode.Unauthorized, answer.StatusCode);
        using var next = await agent.GetAsync("/agent/v1/goalstate?version=-1&waitSeconds=0");
        Assert.Equal(HttpStatusCode.Unauthorized, next.StatusCode);
    }

    private async Task<HttpStatusCode> PollStatusAsync(string credential)
    {
        using var agent = fixture.Server.CreateHttpClient(credential);
        using var response = await agent.GetAsync("/agent/v1/goalstate?version=-1&waitSeconds=0");
        return response.StatusCode;
    }

    [Fact]
    public async Task AgentKey_ForgedAssertion_IsRefused()
    {
        var (key, resourceId) = await fixture.EnrollWithKeyAsync("rgb", "key-agent");
        var (otherKey, otherId) = await fixture.EnrollWithKeyAsync("rgb", "key-other");
        using var _ = key;
        using var __ = otherKey;
        using var stranger = AgentAssertion.NewKey();
        var now = DateTimeOffset.UtcNow;
        var valid = AgentAssertion.Create(key, resourceId, now);
        Assert.Equal(HttpStatusCode.OK, await PollStatusAsync(valid));

        // Signed by a key the server never saw, for another VM, out of the time window, or altered after signing.
        Assert.Equal(HttpStatusCode.Unauthorized, await PollStatusAsync(AgentAssertion.Create(stranger, resourceId, now)));
        Assert.Equal(HttpStatusCode.Unauthorized, await PollStatusAsync(AgentAssertion.Create(key, otherId, now)));
        Assert.Equal(HttpStatusCode.Unauthorized, await PollStatusAsync(AgentAssertion.Create(key, resourceId, now.AddMinutes(-6))));
        Assert.Equal(HttpStatusCode.Unauthorized, await PollStatusAsync(AgentAssertion.Create(key, resourceId, now.AddMinutes(6))));
        var parts = valid.Split('.');
        var swapped = $"{parts[0]}.{AgentAssertion.Create(otherKey, otherId, now).Split('.')[1]}.{parts[2]}";
        Assert.Equal(HttpStatusCode.Unauthorized, await PollStatusAsync(swapped));
        Assert.Equal(HttpStatusCode.Unauthorized, await PollStatusAsync(valid[..^2] + (valid[^2] == 'A' ? "B" : "A") + valid[^1]));
        Assert.Equal(HttpStatusCode.Unauthorized, await PollStatusAsync("rck1.garbage"));
        // A VM that enrolled with a token has no key to verify with.
        Assert.Equal(HttpStatusCode.Unauthorized, await PollStatusAsync(AgentAssertion.Create(key, $"{fixture.Group("rgb")}/providers/Microsoft.Compute/virtualMachines/vmb", now)));
        // The other VM's own key still works: each key speaks only for its own machine.
        Assert.Equal(HttpStatusCode.OK, await PollStatusAsync(AgentAssertion.Create(otherKey, otherId, now)));
    }

    [Fact]
    public async Task AgentKey_GoalState_AnnouncesTheServersPollLength()
    {
        var (key, resourceId) = await fixture.EnrollWithKeyAsync("rgb", "key-poll-length");
        using var ownedKey = key;
        using var agent = fixture.Server.CreateHttpClient(AgentAssertion.Create(key, resourceId, DateTimeOffset.UtcNow));

        var goal = await agent.GetFromJsonAsync("/agent/v1/goalstate?version=-1&waitSeconds=30", RunCommand.Contracts.ContractsJsonContext.Default.GoalState);

        // The default AgentLongPoll (5 minutes): the agent asks for that long from its next poll on.
        Assert.Equal(300, goal!.PollSeconds);
    }

    [Fact]
    public async Task AgentKey_CapturedAssertionReplayed_IsRefused()
    {
        var (key, resourceId) = await fixture.EnrollWithKeyAsync("rgb", "key-replayed");
        using var ownedKey = key;
        var captured = AgentAssertion.Create(key, resourceId, DateTimeOffset.UtcNow);

        Assert.Equal(HttpStatusCode.OK, await PollStatusAsync(captured));
        // The same bytes again, well inside the assertion's 5-minute window: a replay.
        Assert.Equal(HttpStatusCode.Unauthorized, await PollStatusAsync(captured));
        Assert.Equal(HttpStatusCode.Unauthorized, await PollStatusAsync(captured));
        // A re-encoded signature (the other ECDSA form of the same signature) names the same payload: still a replay.
        var parts = captured.Split('.');
        var signature = System.Buffers.Text.Base64Url.DecodeFromChars(parts[2]);
        var order = System.Numerics.BigInteger.Parse("0FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", System.Globalization.NumberStyles.HexNumber);
        var sHalf = new System.Numerics.BigInteger(signature.AsSpan(32), isUnsigned: true, isBigEndian: true);
        var flipped = (order - sHalf).ToByteArray(isUnsigned: true, isBigEndian: true);
        var malleated = signature[..32].Concat(new byte[32 - flipped.Length]).Concat(flipped).ToArray();
        Assert.True(AgentAssertion.TryParse(captured, out _, out _, out var payload, out _));
        Assert.True(AgentAssertion.Verify(key.ExportSubjectPublicKeyInfo(), payload, malleated));

        Assert.Equal(HttpStatusCode.Unauthorized, await PollStatusAsync($"{parts[0]}.{parts[1]}.{System.Buffers.Text.Base64Url.EncodeToString(malleated)}"));
        // The agent's next assertion (a new nonce) is accepted.
        Assert.Equal(HttpStatusCode.OK, await PollStatusAsync(AgentAssertion.Create(key, resourceId, DateTimeOffset.UtcNow)));
    }

    [Fact]
    public async Task AgentKey_Revoked_IsRefusedAtOnce()
    {
        var (key, resourceId) = await fixture.EnrollWithKeyAsync("rgb", "key-revoked");
        using var _ = key;
        // Each call signs its own assertion, as the agent does (the server accepts an assertion once).
        using var agent = fixture.Server.CreateHttpClient(AgentAssertion.Create(key, resourceId, DateTimeOffset.UtcNow));
        var first = await agent.GetFromJsonAsync<GoalState>("/agent/v1/goalstate?version=-1&waitSeconds=0");

        // A poll waiting when the agent is revoked must not hand it the work created afterwards.
        using var waitingAgent = fixture.Server.CreateHttpClient(AgentAssertion.Create(key, resourceId, DateTimeOffset.UtcNow));
        var waiting = waitingAgent.GetAsync($"/agent/v1/goalstate?version={first!.Version}&waitSeconds=20");
        await fixture.Admin.RevokeAgentAsync(new VmRef(fixture.Subscription, "rgb", "key-revoked"));
        await fixture.Admin.CreateOrUpdateAsync(new RunCommandRef(fixture.Subscription, "rgb", "key-revoked", "after-revoke"), Script("echo no"));

        using var answer = await waiting.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(HttpStatusCode.Unauthorized, answer.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, await PollStatusAsync(AgentAssertion.Create(key, resourceId, DateTimeOffset.UtcNow)));
    }

    [Fact]
    public async Task AgentKey_ReEnrolledWithNewKey_OldKeyIsRefused()
    {
        var (oldKey, resourceId) = await fixture.EnrollWithKeyAsync("rgb", "key-reenrolled");
        var (newKey, _) = await fixture.EnrollWithKeyAsync("rgb", "key-reenrolled");
        using var _1 = oldKey;
        using var _2 = newKey;

        Assert.Equal(HttpStatusCode.Unauthorized, await PollStatusAsync(AgentAssertion.Create(oldKey, resourceId, DateTimeOffset.UtcNow)));
        Assert.Equal(HttpStatusCode.OK, await PollStatusAsync(AgentAssertion.Create(newKey, resourceId, DateTimeOffset.UtcNow)));
    }

    [Fact]
    public async Task RealAgent_EnrolledWithKey_RunsCommand()
    {
        var keyPath = Path.Combine(fixture.Agent.StateDir, "agent.key");
        Assert.True(File.Exists(keyPath));
        Assert.False(File.Exists(Path.Combine(fixture.Agent.StateDir, "agent.token")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyPath));
        var target = new RunCommandRef(fixture.Subscription, "rga", "vmrun", "key-run");

        var response = await fixture.Admin.CreateOrUpdateAsync(target, Script("echo ran-with-key"));
        var operation = await fixture.Admin.WaitForOperationAsync(response.OperationUrl!);

        Assert.Equal(OperationStatus.Succeeded, operation.Status);
        Assert.Contains("ran-with-key", (await fixture.Admin.GetAsync(target, expandInstanceView: true)).Properties!.InstanceView!.Output, StringComparison.Ordinal);
        // The private key never leaves the state dir: not in the agent's output.
        var pem = await File.ReadAllTextAsync(keyPath);
        var body = pem.Split('\n')[1];
        Assert.DoesNotContain(body, fixture.Agent.Process.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task EnrollmentToken_ScopedUsedUpOrRevoked_EnrollsOnlyWhereAndAsOftenAsAllowed()
    {
        async Task<HttpStatusCode> EnrollAsync(string token, string group, string vm)
        {
            using var http = fixture.Server.CreateHttpClient(token);
            using var response = await http.PostAsJsonAsync("/agent/v1/enroll", new EnrollRequest { ResourceGroup = group, VmName = vm });
            return response.StatusCode;
        }

        var once = await fixture.Admin.CreateEnrollmentTokenAsync(fixture.Subscription, "rg-enroll", TimeSpan.FromHours(1), maxUses: 1);
        Assert.Equal(HttpStatusCode.Forbidden, await EnrollAsync(once.Token!, "rgb", "enroll-elsewhere"));
        Assert.Equal(HttpStatusCode.OK, await EnrollAsync(once.Token!, "rg-enroll", "enroll-1"));
        Assert.Equal(HttpStatusCode.Unauthorized, await EnrollAsync(once.Token!, "rg-enroll", "enroll-2"));

        var revoked = await fixture.Admin.CreateEnrollmentTokenAsync(fixture.Subscription, "rg-enroll", null, null);
        await fixture.Admin.RevokeEnrollmentTokenAsync(fixture.Subscription, "rg-enroll", revoked.Id);
        Assert.Equal(HttpStatusCode.Unauthorized, await EnrollAsync(revoked.Token!, "rg-enroll", "enroll-3"));

        var listed = await fixture.Admin.ListEnrollmentTokensAsync(fixture.Subscription, "rg-enroll");
        Assert.Equal(1, listed.Single(t => t.Id == once.Id).Uses);
        Assert.NotNull(listed.Single(t => t.Id == revoked.Id).RevokedOn);
        Assert.All(listed, t => Assert.Null(t.Token));
    }

    [Fact]
    public async Task EnrollmentToken_ScopedToScaleSet_EnrollsOnlyItsInstances()
    {
        async Task<(HttpStatusCode Status, string Body)> EnrollAsync(string token, EnrollRequest request)
        {
            using var http = fixture.Server.CreateHttpClient(token);
            using var response = await http.PostAsJsonAsync("/agent/v1/enroll", request);
            return (response.StatusCode, await response.Content.ReadAsStringAsync());
        }

        var token = await fixture.Admin.CreateEnrollmentTokenAsync(fixture.Subscription, "rg-ss", null, null, scaleSet: "web-ss");

        var asVm = await EnrollAsync(token.Token!, new EnrollRequest { ResourceGroup = "rg-ss", VmName = "plain-vm" });
        var otherSet = await EnrollAsync(token.Token!, new EnrollRequest { ResourceGroup = "rg-ss", VmScaleSetName = "db-ss" });
        var instance = await EnrollAsync(token.Token!, new EnrollRequest { ResourceGroup = "rg-ss", VmScaleSetName = "WEB-ss" });

        Assert.Equal(HttpStatusCode.Forbidden, asVm.Status);
        Assert.Contains("one scale set", asVm.Body, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, otherSet.Status);
        Assert.Equal(HttpStatusCode.OK, instance.Status);
        Assert.Contains("/virtualMachineScaleSets/web-ss/virtualMachines/", instance.Body, StringComparison.OrdinalIgnoreCase);
        var listed = await fixture.Admin.ListEnrollmentTokensAsync(fixture.Subscription, "rg-ss");
        Assert.Equal("web-ss", listed.Single(t => t.Id == token.Id).VirtualMachineScaleSet);
        Assert.Equal(1, listed.Single(t => t.Id == token.Id).Uses);
    }

    [Fact]
    public async Task Cli_UserTokenRoleAndActivityLog_WorkEndToEnd()
    {
        var cli = new CliRunner(Path.Combine(fixture.Dir, "cli-admin"));
        await cli.LoginAsync(fixture.Server);
        Assert.Equal(0, (await cli.RunAsync("ad", "user", "create", "--name", "cli-bob")).ExitCode);
        var created = await cli.RunAsync("token", "create", "--assignee", "cli-bob", "--expires-in", "30d");
        Assert.Equal(0, created.ExitCode);
        var token = JsonDocument.Parse(created.Stdout).RootElement.GetProperty("token").GetString()!;
        var assigned = await cli.RunAsync("role", "assignment", "create", "--assignee", "cli-bob", "--role", "Reader", "-g", "rga");
        Assert.True(assigned.ExitCode == 0, assigned.Stderr);
        var listed = await cli.RunAsync("role", "assignment", "list", "--assignee", "cli-bob", "-g", "rga");
        Assert.Contains("acdd72a7-3385-48ef-bd42-f606fba81ae7", listed.Stdout, StringComparison.Ordinal);
        Assert.Contains("cli-bob", (await cli.RunAsync("ad", "user", "list")).Stdout, StringComparison.Ordinal);

        var bobFile = Path.Combine(fixture.Dir, "bob.token");
        await File.WriteAllTextAsync(bobFile, token);
        var bob = new CliRunner(Path.Combine(fixture.Dir, "cli-bob"));
        Assert.Equal(0, (await bob.RunAsync("login", "--server", fixture.Server.Url, "--token-file", bobFile)).ExitCode);
        Assert.Equal(0, (await bob.RunAsync("vm", "show", "-g", "rga", "-n", "vma")).ExitCode);
        var denied = await bob.RunAsync("vm", "run-command", "invoke", "-g", "rga", "-n", "vma", "--command-id", "RunShellScript", "--scripts", "id");
        Assert.NotEqual(0, denied.ExitCode);
        Assert.Contains("AuthorizationFailed", denied.Stderr, StringComparison.Ordinal);

        var log = await cli.RunAsync("monitor", "activity-log", "list", "--caller", "cli-bob", "-g", "rga", "--offset", "1h");
        Assert.Equal(0, log.ExitCode);
        Assert.Contains("Microsoft.Compute/virtualMachines/runCommand/action", log.Stdout, StringComparison.Ordinal);

        Assert.Equal(0, (await cli.RunAsync("role", "assignment", "delete", "--assignee", "cli-bob", "--role", "Reader", "-g", "rga")).ExitCode);
        Assert.NotEqual(0, (await bob.RunAsync("vm", "show", "-g", "rga", "-n", "vma")).ExitCode);
    }
}

/// <summary>A server with a low per-principal limit: one principal's burst is refused, another is unaffected.</summary>
public sealed class RateLimitTests
{
    [Fact]
    public async Task RateLimit_BurstBeyondLimit_Gets429WithRetryAfterWhileOthersAreUnaffected()
    {
        var dir = Directory.CreateTempSubdirectory("rc-rate-").FullName;
        await using var server = await ServerProcess.StartAsync(Path.Combine(dir, "server"), extraArgs: ["--requests-per-second", "5", "--request-burst", "20"]);
        try
        {
            using var admin = new RunCommandClient(new RunCommandClientOptions { Server = new Uri(server.Url), Token = server.AdminToken });
            async Task<string> TokenAsync(string name)
            {
                await admin.CreatePrincipalAsync(name, "ServicePrincipal", null);
                await admin.CreateRoleAssignmentAsync("/subscriptions/" + server.SubscriptionId, name, "Reader");
                return (await admin.CreateTokenAsync(name, null, null)).Token!;
            }

            using var noisy = server.CreateHttpClient(await TokenAsync("noisy"));
            using var quiet = server.CreateHttpClient(await TokenAsync("quiet"));
            var url = $"/subscriptions/{server.SubscriptionId}/providers/Microsoft.Compute/virtualMachines?api-version=2023-07-01";

            // 1,000 requests, 25 at a time, against 127.0.0.1 only.
            var statuses = new List<HttpStatusCode>();
            string? retryAfter = null;
            for (var batch = 0; batch < 40; batch++)
            {
                var responses = await Task.WhenAll(Enumerable.Range(0, 25).Select(_ => noisy.GetAsync(url)));
                foreach (var response in responses)
                {
                    statuses.Add(response.StatusCode);
                    if (response.StatusCode == HttpStatusCode.TooManyRequests)
                    {
                        retryAfter ??= response.Headers.RetryAfter?.ToString();
                        Assert.Contains("TooManyRequests", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
                    }

                    response.Dispose();
                }
            }

            Assert.Equal(1000, statuses.Count);
            Assert.True(statuses.Count(s => s == HttpStatusCode.TooManyRequests) > 500, $"Only {statuses.Count(s => s == HttpStatusCode.TooManyRequests)} of 1000 were limited.");
            Assert.Contains(HttpStatusCode.OK, statuses);
            Assert.False(string.IsNullOrEmpty(retryAfter));

            using var other = await quiet.GetAsync(url);
            Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
