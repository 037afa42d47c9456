using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using RunCommand.Client;
using RunCommand.Contracts.Agents;
using RunCommand.Contracts.Arm;
using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>
/// One server: VM "vm1" (enrolled by API) in "rg1"; a real agent for "vm2" and scale set "ss2" (two instances,
/// enrolled by API) in "rg2". The admin has run, in rg1, a fleet run over vm2 and, in rg2, a deployment on vm2, both
/// printing a secret marker, so a view that leaks shows it.
/// </summary>
public sealed class ScopeFixture : IAsyncLifetime
{
    /// <summary>What the scripts print; the scripts themselves only hold it base64-encoded (a script is part of the run's own definition).</summary>
    public const string FleetSecret = "secret-output-of-the-fleet";
    public const string DeploymentSecret = "secret-output-of-the-deployment";

    public static string Printing(string marker) => $"echo {Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(marker))} | base64 -d";

    public string Dir { get; } = Directory.CreateTempSubdirectory("rc-scope-").FullName;

    public ServerProcess Server { get; private set; } = null!;

    public RunCommandClient Admin { get; private set; } = null!;

    public AgentProcess Agent { get; private set; } = null!;

    public string Subscription => Server.SubscriptionId;

    public FleetRunRef CrossRun => new(Subscription, "rg1", "cross");

    public async Task InitializeAsync()
    {
        Server = await ServerProcess.StartAsync(Path.Combine(Dir, "server"));
        Admin = new RunCommandClient(new RunCommandClientOptions { Server = new Uri(Server.Url), Token = Server.AdminToken });
        using var enroll = Server.CreateHttpClient(File.ReadAllText(Server.EnrollTokenFile).Trim());
        foreach (var request in new[]
        {
            new EnrollRequest { ResourceGroup = "rg1", VmName = "vm1" },
            new EnrollRequest { ResourceGroup = "rg2", VmScaleSetName = "ss2" },
            new EnrollRequest { ResourceGroup = "rg2", VmScaleSetName = "ss2" },
        })
        {
            (await enroll.PostAsJsonAsync("/agent/v1/enroll", request)).EnsureSuccessStatusCode();
        }

        Agent = await AgentProcess.StartAsync(Server, "vm2", "rg2", Path.Combine(Dir, "agent-vm2"));
        await Wait.UntilAsync(async () => (await Admin.GetVmAsync(new VmRef(Subscription, "rg2", "vm2"))).Properties.AgentInstanceView.Status == "Connected",
            TimeSpan.FromSeconds(60), "vm2's agent to connect");

        await Admin.CreateFleetRunAsync(CrossRun, new FleetRunResource
        {
            Location = "local",
            Properties = new FleetRunProperties
            {
                Targets = new FleetTargets { VirtualMachines = [$"/subscriptions/{Subscription}/resourceGroups/rg2/providers/Microsoft.Compute/virtualMachines/vm2"] },
                Source = new RunCommandSource { Script = Printing(FleetSecret) },
            },
        });
        await Wait.UntilAsync(async () =>
        {
            var view = await Admin.GetFleetRunAsync(CrossRun, waitSeconds: 10);
            return FleetRunStates.IsTerminal(view.Properties!.ProvisioningState!) ? view : null;
        }, TimeSpan.FromMinutes(3), "the cross-group fleet run to end");

        using var template = JsonDocument.Parse($$$$"""
            {"resources":[{"type":"Microsoft.Compute/virtualMachines/runCommands","name":"vm2/dep-rc","apiVersion":"2023-07-01",
              "location":"local","properties":{"source":{"script":"{{{{Printing(DeploymentSecret)}}}}"}}}]}
            """);
        await Admin.CreateDeploymentAsync(Subscription, "rg2", "dep2", template.RootElement, null);
        await Wait.UntilAsync(async () =>
            (await Admin.GetDeploymentAsync(Subscription, "rg2", "dep2")).Properties!.ProvisioningState is "Succeeded" or "Failed" or "Canceled",
            TimeSpan.FromMinutes(3), "the rg2 deployment to end");
    }

    /// <summary>Creates a user holding <paramref name="role"/> at <paramref name="scope"/>; returns an HttpClient with its token.</summary>
    public async Task<HttpClient> UserAsync(string name, string role, string scope)
    {
        await Admin.CreatePrincipalAsync(name, "User", null);
        await Admin.CreateRoleAssignmentAsync(scope, name, role);
        return Server.CreateHttpClient((await Admin.CreateTokenAsync(name, null, "test")).Token!);
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

/// <summary>Issue 12: a view that aggregates machines shows a machine only to a caller who may read that machine directly.</summary>
public sealed class ScopeLeakTests(ScopeFixture fixture) : IClassFixture<ScopeFixture>
{
    private string Sub => fixture.Subscription;

    private static void AssertNothingOfRg2(string view, string body)
    {
        Assert.DoesNotContain("/resourceGroups/rg2/", body, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("vm2", body, StringComparison.Ordinal);
        Assert.DoesNotContain("ss2", body, StringComparison.Ordinal);
        Assert.DoesNotContain("secret", body, StringComparison.Ordinal);
        Assert.False(body.Length == 0, $"{view} answered nothing");
    }

    private static async Task<string> OkAsync(HttpClient http, string url)
    {
        using var response = await http.GetAsync(url);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {url}: {(int)response.StatusCode} {body}");
        return body;
    }

    private static async Task AssertForbiddenAsync(HttpClient http, string url)
    {
        using var response = await http.GetAsync(url);
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        AssertNothingOfRg2(url, (await response.Content.ReadAsStringAsync()).Replace(url.Split('?')[0], "", StringComparison.OrdinalIgnoreCase));
    }

    private string FleetUrl(string group, string? name = null) =>
        $"/subscriptions/{Sub}/resourceGroups/{group}/providers/RunCommand.Fleet/runs{(name is null ? "" : "/" + name)}?api-version=2024-01-01";

    private string DeploymentUrl(string group, string? name = null, string suffix = "") =>
        $"/subscriptions/{Sub}/resourceGroups/{group}/providers/Microsoft.Resources/deployments{(name is null ? "" : "/" + name)}{suffix}?api-version=2021-04-01";

    private string ActivityUrl => $"/subscriptions/{Sub}/providers/Microsoft.Insights/eventtypes/management/values?api-version=2015-04-01";

    [Fact]
    public async Task Admin_FleetRunAcrossGroups_ShowsTheTargetAndItsOutput()
    {
        // The control: the run did reach rg2's machine, so the filtered views below have something to hide.
        var view = await fixture.Admin.GetFleetRunAsync(fixture.CrossRun);

        var target = Assert.Single(view.Properties!.InstanceView!.Targets);
        Assert.Contains("/resourceGroups/rg2/", target.ResourceId, StringComparison.Ordinal);
        Assert.Contains(ScopeFixture.FleetSecret, target.Output, StringComparison.Ordinal);
        Assert.Equal(0, view.Properties.InstanceView.HiddenTargets);
    }

    [Fact]
    public async Task ReaderAtRg1_FleetRunGetAndList_ShowNoTargetOfRg2()
    {
        using var reader = await fixture.UserAsync("fleet-reader-rg1", "Reader", fixture.Group("rg1"));

        foreach (var url in new[] { FleetUrl("rg1", "cross"), FleetUrl("rg1", "cross").Replace("?", "?waitSeconds=1&", StringComparison.Ordinal), FleetUrl("rg1") })
        {
            var body = await OkAsync(reader, url);
            AssertNothingOfRg2(url, body);
            Assert.Contains("\"hiddenTargets\":1", body, StringComparison.Ordinal);
        }

        await AssertForbiddenAsync(reader, FleetUrl("rg2"));
    }

    [Fact]
    public async Task ReaderAtRg1_ActivityLog_ShowsRg1EntriesAndNoneOfRg2()
    {
        using var reader = await fixture.UserAsync("activity-reader-rg1", "Reader", fixture.Group("rg1"));

        var body = await OkAsync(reader, ActivityUrl);

        AssertNothingOfRg2("activity log", body);
        Assert.Contains("/resourceGroups/rg1/providers/RunCommand.Fleet/runs/cross", body, StringComparison.Ordinal);
        var all = JsonSerializer.Serialize(await fixture.Admin.ListActivityLogAsync(Sub, null));
        Assert.Contains("/resourceGroups/rg2/", all, StringComparison.Ordinal);
    }

    [Fact]
    public async Task NoRole_ActivityLog_Is403()
    {
        await fixture.Admin.CreatePrincipalAsync("nobody-activity", "User", null);
        using var nobody = fixture.Server.CreateHttpClient((await fixture.Admin.CreateTokenAsync("nobody-activity", null, "test")).Token!);

        await AssertForbiddenAsync(nobody, ActivityUrl);
    }

    [Fact]
    public async Task ReaderAtRg1_EveryOtherView_ShowsNothingOfRg2()
    {
        using var reader = await fixture.UserAsync("views-reader-rg1", "Reader", fixture.Group("rg1"));

        AssertNothingOfRg2("vm list", await OkAsync(reader, $"/subscriptions/{Sub}/providers/Microsoft.Compute/virtualMachines?api-version=2023-07-01"));
        AssertNothingOfRg2("deployments of rg1", await OkAsync(reader, DeploymentUrl("rg1")));
        await AssertForbiddenAsync(reader, DeploymentUrl("rg2"));
        await AssertForbiddenAsync(reader, DeploymentUrl("rg2", "dep2", "/operations"));
        await AssertForbiddenAsync(reader, $"/subscriptions/{Sub}/resourceGroups/rg2/providers/Microsoft.Compute/virtualMachineScaleSets/ss2?api-version=2023-07-01");
        await AssertForbiddenAsync(reader, $"/subscriptions/{Sub}/resourceGroups/rg2/providers/Microsoft.Compute/virtualMachineScaleSets/ss2/virtualMachines?api-version=2023-07-01");
        await AssertForbiddenAsync(reader, $"/subscriptions/{Sub}/resourceGroups/rg2/providers/Microsoft.Compute/virtualMachines/vm2/runCommands/fleet-cross?api-version=2023-07-01");
    }

    [Fact]
    public async Task DeploymentReaderWithoutMachineRights_DeploymentAndOperations_ShowNoMachineRows()
    {
        await fixture.Admin.PutRoleDefinitionAsync(Sub, Guid.NewGuid().ToString(), new RoleDefinitionProperties
        {
            RoleName = "Deployment reader (scope test)",
            Permissions = [new RolePermission { Actions = ["Microsoft.Resources/deployments/read"] }],
        });
        using var reader = await fixture.UserAsync("deployment-reader-rg2", "Deployment reader (scope test)", fixture.Group("rg2"));
        Assert.Single(await fixture.Admin.ListDeploymentOperationsAsync(Sub, "rg2", "dep2"));

        var deployment = await OkAsync(reader, DeploymentUrl("rg2", "dep2"));
        var operations = await OkAsync(reader, DeploymentUrl("rg2", "dep2", "/operations"));
        var list = await OkAsync(reader, DeploymentUrl("rg2"));

        foreach (var body in new[] { deployment, operations, list })
        {
            Assert.DoesNotContain("vm2", body, StringComparison.Ordinal);
            Assert.DoesNotContain("dep-rc", body, StringComparison.Ordinal);
        }

        Assert.Contains("\"value\":[]", operations, StringComparison.Ordinal);
    }
}
