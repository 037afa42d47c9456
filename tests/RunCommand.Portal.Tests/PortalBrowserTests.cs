using System.Text.Json;
using Microsoft.Playwright;
using RunCommand.Client;
using RunCommand.Contracts.Arm;
using RunCommand.Testing;
using static RunCommand.Portal.Tests.PortalSteps;

namespace RunCommand.Portal.Tests;

/// <summary>The portal in a real Chromium against a real server and real agents, as a person uses it.</summary>
public sealed class PortalBrowserTests(PortalFixture fixture) : IClassFixture<PortalFixture>
{
    private readonly Stack _stack = fixture.Stack;

    private static string Unique(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 9)];

    private async Task<IPage> SignedInAsAdminAsync(int width = 1280, int height = 860)
    {
        var page = await fixture.NewPageAsync(width, height);
        await SignInAsync(page, _stack.Server.AdminToken);
        await ExpectTextAsync(page.GetByTestId("user-name"), "admin");
        return page;
    }

    /// <summary>Fills the new run command form of the machine page and submits it.</summary>
    private static async Task CreateRunCommandAsync(IPage page, string vm, string name, string script)
    {
        await page.GotoAsync($"/portal/#/rg/e2e/vm/{vm}");
        await page.GetByRole(AriaRole.Link, new() { Name = "New run command" }).ClickAsync();
        await page.GetByLabel("Name", new() { Exact = true }).FillAsync(name);
        await page.GetByLabel("Script", new() { Exact = true }).FillAsync(script);
        await page.GetByRole(AriaRole.Button, new() { Name = "Run", Exact = true }).ClickAsync();
    }

    /// <summary>Waits for the run command page the form leads to, or fails with the error the form shows.</summary>
    private static async Task ExpectRunCommandPageAsync(IPage page, string name)
    {
        var state = page.GetByTestId("execution-state");
        var alert = page.GetByRole(AriaRole.Alert);
        await Assertions.Expect(state.Or(alert).First).ToBeVisibleAsync(new() { Timeout = 60_000 });
        if (await alert.CountAsync() > 0 && await state.CountAsync() == 0)
        {
            Assert.Fail("The form showed an error instead of the run command: " + await alert.First.InnerTextAsync());
        }

        await ExpectTextAsync(page.Locator("h1"), name);
        Assert.EndsWith("/runs/" + name, page.Url, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SignIn_AdminToken_ShowsNameRolesAndConnectedMachine()
    {
        var vm = Unique("pvm");
        var scaleSet = Unique("pss");
        await _stack.StartAgentAsync(vm);
        var instance = await _stack.StartScaleSetAgentAsync(scaleSet, Path.Combine(_stack.Dir, "agents", scaleSet));
        var page = await SignedInAsAdminAsync();

        await ExpectTextAsync(page.GetByTestId("user-roles"), "Owner");
        var row = page.Locator("table.list tr", new() { HasText = vm });
        await ExpectTextAsync(row, "Connected");
        await ExpectTextAsync(row, "e2e");
        await ExpectTextAsync(page.Locator("table.list tr", new() { HasText = $"{scaleSet} instance {instance.InstanceId}" }), "Connected");
        Assert.DoesNotContain(_stack.Server.AdminToken, page.Url, StringComparison.Ordinal);

        // Filters: a tag no machine has leaves an empty state that says what to do; clearing it brings the rows back.
        await page.GetByLabel("Tag").FillAsync("no-such-tag=1");
        await ExpectTextAsync(page.Locator("main"), "No machine matches these filters.");
        await page.GetByRole(AriaRole.Button, new() { Name = "Clear the filters" }).ClickAsync();
        await page.GetByLabel("Resource group").SelectOptionAsync("e2e");
        await ExpectTextAsync(page.Locator("table.list tr", new() { HasText = vm }), "Connected");

        await ExpectAccessibleAsync(page, "the machines page");
        await ScreenshotAsync(page, "machines");

        var phone = await SignedInAsPhoneAsync();
        await ExpectTextAsync(phone.Locator("table.list tr", new() { HasText = vm }), "Connected");
        await ScreenshotAsync(phone, "machines-phone");
    }

    private async Task<IPage> SignedInAsPhoneAsync()
    {
        var page = await fixture.NewPageAsync(390, 844);
        await SignInAsync(page, _stack.Server.AdminToken);
        await ExpectTextAsync(page.GetByTestId("user-name"), "admin");
        return page;
    }

    [Fact]
    public async Task RunCommand_ThreeLinesASecondApart_EachLineShowsBeforeTheScriptEnds_ThenSucceeded()
    {
        var vm = Unique("plive");
        await _stack.StartAgentAsync(vm);
        var page = await SignedInAsAdminAsync();
        await ExpectTextAsync(page.Locator("table.list"), vm);

        // The script ends only once the test has seen the third line in the page (the gate file), so "before the
        // script ends" holds however slow the machine is.
        var gate = Path.Combine(_stack.Dir, Unique("gate"));
        await CreateRunCommandAsync(page, vm, "live", $"echo line1; sleep 1; echo line2; sleep 1; echo line3\n{Gate.WaitFor(gate, 0.2)}\necho done");
        await ExpectRunCommandPageAsync(page, "live");
        await ExpectAccessibleAsync(page, "the run command page");

        var stdout = page.GetByTestId("stdout");
        foreach (var line in new[] { "line1", "line2", "line3" })
        {
            await ExpectTextAsync(stdout, line);
            var view = (await _stack.Client.GetAsync(_stack.Command(vm, "live"), expandInstanceView: true)).Properties!.InstanceView!;
            Assert.Equal("Running", view.ExecutionState);
        }

        await ScreenshotAsync(page, "run-command-live");
        await File.WriteAllTextAsync(gate, "");

        await ExpectTextAsync(page.GetByTestId("execution-state"), "Succeeded");
        await ExpectTextAsync(page.GetByTestId("exit-code"), "0");
        await ExpectTextAsync(stdout, "done");
        Assert.Equal("line1\nline2\nline3\ndone\n", await stdout.InnerTextAsync());

        var download = await page.RunAndWaitForDownloadAsync(() => page.GetByRole(AriaRole.Link, new() { Name = "Download full output" }).ClickAsync());
        Assert.Equal("line1\nline2\nline3\ndone\n", await File.ReadAllTextAsync(await download.PathAsync()));
        await ScreenshotAsync(page, "run-command");
    }

    [Fact]
    public async Task RunCommand_FailingScript_ShowsFailedItsExitCodeAndStderr()
    {
        var vm = Unique("pfail");
        await _stack.StartAgentAsync(vm);
        var page = await SignedInAsAdminAsync();
        await ExpectTextAsync(page.Locator("table.list"), vm);

        await CreateRunCommandAsync(page, vm, "broken", "echo starting\necho 'disk full' >&2\nexit 3");
        await ExpectRunCommandPageAsync(page, "broken");

        await ExpectTextAsync(page.GetByTestId("execution-state"), "Failed");
        await ExpectTextAsync(page.GetByTestId("exit-code"), "3");
        await ExpectTextAsync(page.GetByTestId("stderr"), "disk full");

        await page.GotoAsync($"/portal/#/rg/e2e/vm/{vm}");
        var row = page.Locator("table.list tr", new() { HasText = "broken" });
        await ExpectTextAsync(row, "Failed");
        await ExpectTextAsync(row, "3");
        await ExpectAccessibleAsync(page, "the machine page");
        await ScreenshotAsync(page, "machine");

        // Re-run: the form comes back filled in under a new name, and runs the same script again.
        await page.GetByRole(AriaRole.Button, new() { Name = "Re-run broken" }).ClickAsync();
        await Assertions.Expect(page.GetByLabel("Name", new() { Exact = true })).ToHaveValueAsync("broken-2");
        await Assertions.Expect(page.GetByLabel("Script", new() { Exact = true })).ToHaveValueAsync("echo starting\necho 'disk full' >&2\nexit 3");
        await page.GetByRole(AriaRole.Button, new() { Name = "Run", Exact = true }).ClickAsync();
        await ExpectRunCommandPageAsync(page, "broken-2");
        await ExpectTextAsync(page.GetByTestId("exit-code"), "3");

        // Delete, after the browser's confirmation.
        page.Dialog += async (_, dialog) => await dialog.AcceptAsync();
        await page.GotoAsync($"/portal/#/rg/e2e/vm/{vm}");
        await page.GetByRole(AriaRole.Button, new() { Name = "Delete broken", Exact = true }).ClickAsync();
        await Assertions.Expect(page.GetByRole(AriaRole.Link, new() { Name = "broken", Exact = true })).ToHaveCountAsync(0, new() { Timeout = 60_000 });
        await Assertions.Expect(page.GetByRole(AriaRole.Link, new() { Name = "broken-2", Exact = true })).ToHaveCountAsync(1);
    }

    [Fact]
    public async Task RunCommand_Cancel_StopsTheRunningScriptAndRemovesIt()
    {
        var vm = Unique("pcan");
        await _stack.StartAgentAsync(vm);
        var page = await SignedInAsAdminAsync();
        await ExpectTextAsync(page.Locator("table.list"), vm);
        page.Dialog += async (_, dialog) => await dialog.AcceptAsync();

        await CreateRunCommandAsync(page, vm, "long", "echo started\nsleep 600");
        await ExpectRunCommandPageAsync(page, "long");
        await ExpectTextAsync(page.GetByTestId("stdout"), "started");
        await page.GetByRole(AriaRole.Button, new() { Name = "Cancel" }).ClickAsync();

        await ExpectTextAsync(page.Locator("h1"), vm);
        await Wait.UntilAsync(async () => (await _stack.Client.ListAsync(_stack.Vm(vm))).Count == 0, TimeSpan.FromSeconds(60), "the canceled run command to be deleted");
    }

    [Fact]
    public async Task FleetRun_ThreeAgents_ShowsProgressAndEachMachinesOutput()
    {
        var tag = Unique("fleet");
        var names = new[] { Unique("pf1"), Unique("pf2"), Unique("pf3") };
        await _stack.StartAgentsAsync(names, new Dictionary<string, string> { ["fleet"] = tag });
        var page = await SignedInAsAdminAsync();

        await page.GotoAsync("/portal/#/fleet/new");
        await page.GetByLabel("Name", new() { Exact = true }).FillAsync("hello-fleet");
        await page.GetByLabel("Resource group of the run").FillAsync("e2e");
        await page.GetByLabel("Machines of resource group").FillAsync("e2e");
        await page.GetByLabel("With tags").FillAsync($"fleet={tag}");
        await page.GetByLabel("Max concurrency").FillAsync("1");
        await page.GetByLabel("Script", new() { Exact = true }).FillAsync("echo \"fleet says hi\"\nsleep 1");
        await ExpectAccessibleAsync(page, "the new fleet run form");
        await page.GetByRole(AriaRole.Button, new() { Name = "Start fleet run" }).ClickAsync();
        await ExpectTextAsync(page.Locator("h1"), "hello-fleet");

        var bar = page.GetByRole(AriaRole.Progressbar, new() { Name = "Machines done" });
        await Assertions.Expect(bar).ToHaveAttributeAsync("aria-valuemax", "3", new() { Timeout = 60_000 });
        await ExpectTextAsync(page.GetByTestId("fleet-progress"), "3 of 3 machines done", 120_000);
        await Assertions.Expect(bar).ToHaveAttributeAsync("aria-valuenow", "3");

        var rows = page.GetByTestId("fleet-target");
        await Assertions.Expect(rows).ToHaveCountAsync(3);
        foreach (var name in names)
        {
            var row = rows.Filter(new() { HasText = name });
            await ExpectTextAsync(row, "Succeeded");
            await ExpectTextAsync(row, "fleet says hi");
        }

        // Each machine's whole output is shown: no note that only its tail is.
        await Assertions.Expect(page.GetByTestId("output-cut")).ToHaveCountAsync(0);
        await ExpectTextAsync(page.Locator("section.group"), "3 machines");
        await ExpectAccessibleAsync(page, "the fleet run page");
        await ScreenshotAsync(page, "fleet-run");
    }

    [Fact]
    public async Task FleetRuns_ResourceGroupTypedKeyByKey_KeepsTheFieldAndOneHistoryEntry_AndNewRunStartsInIt()
    {
        var page = await SignedInAsAdminAsync();
        await page.GotoAsync("/portal/#/fleet/e2e");
        var before = await page.EvaluateAsync<int>("history.length");
        var field = page.GetByLabel("Resource group", new() { Exact = true });

        await field.FillAsync("");
        await field.PressSequentiallyAsync("other-group", new() { Delay = 30 });

        // Each key used to remount the page (the field lost its focus after one key) and push a history entry.
        await Assertions.Expect(field).ToHaveValueAsync("other-group");
        await Assertions.Expect(field).ToBeFocusedAsync();
        Assert.EndsWith("#/fleet/other-group", page.Url, StringComparison.Ordinal);
        Assert.Equal(before, await page.EvaluateAsync<int>("history.length"));

        await page.GotoAsync("/portal/#/fleet/e2e");
        await page.GetByRole(AriaRole.Link, new() { Name = "New fleet run" }).ClickAsync();
        await Assertions.Expect(page.GetByLabel("Resource group of the run")).ToHaveValueAsync("e2e");
        await Assertions.Expect(page.GetByLabel("Machines of resource group")).ToHaveValueAsync("e2e");
    }

    [Fact]
    public async Task FleetRun_OutputLongerThanItsTail_SaysSoAndHowLongItIs()
    {
        var tag = Unique("fleetbig");
        var vm = Unique("pbig");
        await _stack.StartAgentsAsync([vm], new Dictionary<string, string> { ["fleet"] = tag });
        var run = new FleetRunRef(_stack.Server.SubscriptionId, "e2e", Unique("big"));
        await _stack.Client.CreateFleetRunAsync(run, new FleetRunResource
        {
            Location = "local",
            Properties = new FleetRunProperties
            {
                Targets = new FleetTargets { Tags = new Dictionary<string, string> { ["fleet"] = tag } },
                Source = new RunCommandSource { Script = "seq 1 3000; echo done >&2" },
            },
        });
        var page = await SignedInAsAdminAsync();

        await page.GotoAsync($"/portal/#/fleet/e2e/{run.Name}");

        await ExpectTextAsync(page.GetByTestId("fleet-progress"), "1 of 1 machines done", 120_000);
        var row = page.GetByTestId("fleet-target");
        await ExpectTextAsync(row, "3000");
        // seq 1 3000 prints 13,893 bytes, of which the view holds the last 4 KiB.
        await ExpectTextAsync(row.GetByTestId("output-cut"), "stdout 13,893 bytes, stderr 5 bytes");
    }

    [Fact]
    public async Task Reader_SeesNoWriteButtons_AndADeepLinkToCreateShowsTheApis403()
    {
        var vm = Unique("pread");
        await _stack.StartAgentAsync(vm);
        await _stack.RunAsync(_stack.Command(vm, "existing"), Stack.Script("echo hi"));
        var name = Unique("reader");
        await _stack.Client.CreatePrincipalAsync(name, "User", null);
        var token = (await _stack.Client.CreateTokenAsync(name, null, "portal test")).Token!;
        await _stack.Client.CreateRoleAssignmentAsync($"/subscriptions/{_stack.Server.SubscriptionId}", name, "Reader");

        var page = await fixture.NewPageAsync();
        await SignInAsync(page, token);
        await ExpectTextAsync(page.GetByTestId("user-name"), name);
        await ExpectTextAsync(page.GetByTestId("user-roles"), "Reader");

        await page.GotoAsync($"/portal/#/rg/e2e/vm/{vm}");
        await ExpectTextAsync(page.Locator("table.list"), "existing");
        await ExpectTextAsync(page.Locator("table.list"), "Succeeded");
        Assert.Equal(0, await page.GetByRole(AriaRole.Link, new() { Name = "New run command" }).CountAsync());
        Assert.Equal(0, await page.GetByRole(AriaRole.Button, new() { Name = "Delete existing" }).CountAsync());
        Assert.Equal(0, await page.GetByRole(AriaRole.Button, new() { Name = "Re-run existing" }).CountAsync());

        await page.GotoAsync("/portal/#/fleet/e2e");
        await ExpectTextAsync(page.Locator("main"), "Fleet runs");
        Assert.Equal(0, await page.GetByRole(AriaRole.Link, new() { Name = "New fleet run" }).CountAsync());

        await page.GotoAsync($"/portal/#/rg/e2e/vm/{vm}/new");
        await ExpectTextAsync(page.Locator(".notice"), "Your roles do not include creating run commands");
        await page.GetByLabel("Name", new() { Exact = true }).FillAsync("sneaky");
        await page.GetByLabel("Script", new() { Exact = true }).FillAsync("id");
        await page.GetByRole(AriaRole.Button, new() { Name = "Run", Exact = true }).ClickAsync();
        var alert = page.GetByRole(AriaRole.Alert);
        await ExpectTextAsync(alert, $"The client '{name}'");
        await ExpectTextAsync(alert, "does not have authorization to perform action 'Microsoft.Compute/virtualMachines/runCommands/write'");
        await ExpectTextAsync(alert, "AuthorizationFailed");
        await ExpectAccessibleAsync(page, "the new run command form with an error");
        await ScreenshotAsync(page, "reader-403");
    }

    [Fact]
    public async Task SignIn_WrongToken_IsRefusedWithTheApisMessage()
    {
        var page = await fixture.NewPageAsync();
        await SignInAsync(page, "rcu_this-is-not-a-token");

        var alert = page.GetByRole(AriaRole.Alert);
        await ExpectTextAsync(alert, "This token was refused:");
        await ExpectTextAsync(alert, "Authentication failed. The access token is invalid, expired or revoked.");
        Assert.Equal(0, await page.GetByTestId("user-name").CountAsync());
        Assert.Null(await page.EvaluateAsync<string?>("() => sessionStorage.getItem('runcommand.portal.token')"));
        await ExpectAccessibleAsync(page, "the sign-in page");
        await ScreenshotAsync(page, "sign-in-refused");
    }

    [Fact]
    public async Task Pages_DeploymentsActivityAccess_ShowTheirDataAndAreAccessible()
    {
        var vm = Unique("pdep");
        await _stack.StartAgentAsync(vm);
        var sub = _stack.Server.SubscriptionId;
        var template = JsonDocument.Parse("""
            {
              "$schema":"https://schema.management.azure.com/schemas/2015-01-01/deploymentTemplate.json#",
              "contentVersion":"1.0.0.0",
              "resources":[
                {"type":"Microsoft.Compute/virtualMachines/runCommands","name":"VMNAME/second","apiVersion":"2023-07-01","location":"local",
                 "dependsOn":["[resourceId('Microsoft.Compute/virtualMachines/runCommands','VMNAME','first')]"],
                 "properties":{"source":{"script":"echo second"}}},
                {"type":"Microsoft.Compute/virtualMachines/runCommands","name":"VMNAME/first","apiVersion":"2023-07-01","location":"local",
                 "properties":{"source":{"script":"echo first"}}}
              ]
            }
            """.Replace("VMNAME", vm, StringComparison.Ordinal)).RootElement.Clone();
        var deployment = Unique("dep");
        var response = await _stack.Client.CreateDeploymentAsync(sub, "e2e", deployment, template, null);
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120)))
        {
            await _stack.Client.WaitForDeploymentAsync(response.OperationUrl!, timeout.Token);
        }

        var page = await SignedInAsAdminAsync();
        await page.GotoAsync("/portal/#/deployments/e2e");
        await ExpectTextAsync(page.Locator("table.list tr", new() { HasText = deployment }), "Succeeded");
        await ExpectAccessibleAsync(page, "the deployments page");
        await page.GetByRole(AriaRole.Link, new() { Name = deployment }).ClickAsync();
        var steps = page.Locator("ol.steps > li");
        await Assertions.Expect(steps).ToHaveCountAsync(2, new() { Timeout = 60_000 });
        await ExpectTextAsync(steps.Nth(0), "first");
        await ExpectTextAsync(steps.Nth(1), "second");
        await ExpectTextAsync(steps.Nth(1), $"after {vm}/first");
        await ExpectTextAsync(steps.Nth(1), "Succeeded");
        await ExpectAccessibleAsync(page, "the deployment page");
        await ScreenshotAsync(page, "deployment");

        await page.GotoAsync("/portal/#/activity");
        await ExpectTextAsync(page.Locator("table.list"), "Microsoft.Resources/deployments/write");
        await ExpectAccessibleAsync(page, "the activity log");
        await ScreenshotAsync(page, "activity");
        await page.GetByLabel("Caller").FillAsync("nobody-by-this-name");
        await ExpectTextAsync(page.Locator("main"), "No activity matches these filters.");

        await page.GotoAsync("/portal/#/access");
        await ExpectTextAsync(page.Locator("main"), "Owner at");
        await ExpectTextAsync(page.Locator("main"), "Role assignments");
        await ExpectAccessibleAsync(page, "the access page");
    }

    [Fact]
    public async Task Access_AdminCreatesAUserItsTokenAndARole_AndThatTokenSignsIn()
    {
        var page = await SignedInAsAdminAsync();
        await page.GotoAsync("/portal/#/access");
        var user = Unique("alice");
        await page.GetByLabel("New user").FillAsync(user);
        await page.GetByRole(AriaRole.Button, new() { Name = "Create user" }).ClickAsync();
        var row = page.Locator("table.list tr", new() { HasText = user });
        await ExpectTextAsync(row, "User");

        await row.GetByRole(AriaRole.Button, new() { Name = "New token (30 days)" }).ClickAsync();
        await ExpectTextAsync(page.GetByTestId("new-token"), "rcu_");
        var token = (await page.GetByTestId("new-token").InnerTextAsync()).Trim();
        await page.GetByRole(AriaRole.Button, new() { Name = "I have copied it" }).ClickAsync();
        Assert.Equal(0, await page.GetByTestId("new-token").CountAsync());

        await page.GetByLabel("Principal", new() { Exact = true }).FillAsync(user);
        await page.GetByLabel("Role", new() { Exact = true }).SelectOptionAsync("Virtual Machine Contributor");
        await page.GetByRole(AriaRole.Button, new() { Name = "Assign" }).ClickAsync();
        await ExpectTextAsync(page.Locator("table.list tr", new() { HasText = "Virtual Machine Contributor" }), user);
        await ExpectAccessibleAsync(page, "the access page with a new token");
        await ScreenshotAsync(page, "access");

        var other = await fixture.NewPageAsync();
        await SignInAsync(other, token);
        await ExpectTextAsync(other.GetByTestId("user-name"), user);
        await ExpectTextAsync(other.GetByTestId("user-roles"), "Virtual Machine Contributor");

        // Revoking asks first: dismissed, the token stays active; accepted, it is revoked.
        var tokenRow = page.Locator("table.list tr", new() { HasText = user }).Filter(new() { Has = page.GetByRole(AriaRole.Button, new() { Name = "Revoke" }) });
        var answer = false;
        page.Dialog += async (_, dialog) =>
        {
            Assert.Contains("Revoke", dialog.Message, StringComparison.Ordinal);
            await (answer ? dialog.AcceptAsync() : dialog.DismissAsync());
        };
        await tokenRow.GetByRole(AriaRole.Button, new() { Name = "Revoke" }).ClickAsync();
        await ExpectTextAsync(tokenRow, "active");
        answer = true;
        await tokenRow.GetByRole(AriaRole.Button, new() { Name = "Revoke" }).ClickAsync();
        await ExpectTextAsync(page.Locator("table.list tr", new() { HasText = user }).Filter(new() { HasText = "revoked" }), "revoked");
    }
}
