using System.Net;
using System.Text.Json;
using RunCommand.Contracts.Arm;
using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>ARM deployments of run command templates against a real server and real agents: ordering, parallelism, failure, validation.</summary>
public sealed class DeploymentTests(StackFixture fixture) : IClassFixture<StackFixture>
{
    private const string Group = "e2e";
    private static readonly TimeSpan DeployTimeout = TimeSpan.FromSeconds(60);
    private readonly Stack _stack = fixture.Stack;

    private string Sub => _stack.Server.SubscriptionId;

    /// <summary>A run command resource as in the product page's template, named with an expression.</summary>
    private static string RunCommand(string name, string script, string[] dependsOn, bool treatFailure = false) => $$$"""
        {
          "type":"Microsoft.Compute/virtualMachines/runCommands",
          "name":"[concat(parameters('vmName'),'/{{{name}}}')]",
          "apiVersion":"2019-12-01",
          "location":"[parameters('location')]",
          "dependsOn":{{{JsonSerializer.Serialize(dependsOn)}}},
          "properties":{
            "source":{"script":{{{JsonSerializer.Serialize(script)}}}},
            "parameters":[{"name":"param1","value":"value1"},{"name":"param2","value":"value2"}],
            "timeoutInSeconds":60,
            "treatFailureAsDeploymentFailure":{{{(treatFailure ? "true" : "false")}}}
          }
        }
        """;

    private static JsonElement Template(params string[] resources) => JsonDocument.Parse($$$"""
        {
          "$schema":"https://schema.management.azure.com/schemas/2015-01-01/deploymentTemplate.json#",
          "contentVersion":"1.0.0.0",
          "parameters":{"vmName":{"type":"string"},"location":{"type":"string","defaultValue":"[resourceGroup().location]"}},
          "resources":[{{{string.Join(",", resources)}}}]
        }
        """).RootElement.Clone();

    private static JsonElement Parameters(string vm) => JsonDocument.Parse($$$"""{"vmName":{"value":"{{{vm}}}"},"location":{"value":"local"}}""").RootElement.Clone();

    private const string DependsOnVm = "[concat('Microsoft.Compute/virtualMachines/', parameters('vmName'))]";

    private async Task<DeploymentResource> DeployAsync(string name, string vm, JsonElement template)
    {
        var response = await _stack.Client.CreateDeploymentAsync(Sub, Group, name, template, Parameters(vm));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Contains(response.Body!.Properties!.ProvisioningState, new[] { "Accepted", "Running" });
        Assert.NotNull(response.OperationUrl);
        using var timeout = new CancellationTokenSource(DeployTimeout);
        await _stack.Client.WaitForDeploymentAsync(response.OperationUrl!, timeout.Token);
        return await _stack.Client.GetDeploymentAsync(Sub, Group, name);
    }

    /// <summary>Waits until a run command the deployment creates (in the background, so maybe not yet) is running.</summary>
    internal static async Task WaitForRunningAsync(RunCommand.Client.RunCommandClient client, RunCommand.Client.RunCommandRef target) =>
        await Wait.UntilAsync(async () =>
        {
            try
            {
                var view = (await client.GetAsync(target, expandInstanceView: true)).Properties!.InstanceView!;
                return view.ExecutionState == ExecutionStates.Running ? view : null;
            }
            catch (RunCommand.Client.ArmRequestException e) when (e.StatusCode == HttpStatusCode.NotFound)
            {
                return null;
            }
        }, TimeSpan.FromSeconds(30), $"{target.Name} to be created and running");

    private async Task<RunCommandInstanceView> ViewAsync(string vm, string name) =>
        (await _stack.Client.GetAsync(_stack.Command(vm, name), expandInstanceView: true)).Properties!.InstanceView!;

    [Fact]
    public async Task Deploy_PageTemplateWithValidDependsOn_SecondStartsAfterFirstEnded()
    {
        const string vm = "dep-seq";
        await _stack.StartAgentAsync(vm);
        var template = Template(
            RunCommand("firstRunCommand", "echo First: Hello World!; sleep 1", [DependsOnVm]),
            RunCommand("secondRunCommand", "echo Second: Hello World!", ["[concat('Microsoft.Compute/virtualMachines/', parameters('vmName'),'/runcommands/firstRunCommand')]"]));

        var deployment = await DeployAsync("sequence", vm, template);

        Assert.Equal("Succeeded", deployment.Properties!.ProvisioningState);
        Assert.Equal(2, deployment.Properties.OutputResources!.Count);
        var first = await ViewAsync(vm, "firstRunCommand");
        var second = await ViewAsync(vm, "secondRunCommand");
        Assert.Equal("First: Hello World!\n", first.Output);
        Assert.Equal("Second: Hello World!\n", second.Output);
        Assert.True(second.StartTime >= first.EndTime, $"second started {second.StartTime:O}, before first ended {first.EndTime:O}");
        var operations = await _stack.Client.ListDeploymentOperationsAsync(Sub, Group, "sequence");
        Assert.Equal(2, operations.Count);
        Assert.All(operations, o => Assert.Equal("Succeeded", o.Properties.ProvisioningState));
        Assert.Contains(operations, o => o.Properties.TargetResource.Id.EndsWith("/runCommands/secondRunCommand", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Deploy_ScaleSetInstanceCommandDependsOnVmCommand_InstanceStartsAfterVmCommandEnded()
    {
        const string vm = "dep-mixed";
        const string scaleSet = "dep-mixed-ss";
        await _stack.StartAgentAsync(vm);
        var instance = (await _stack.StartScaleSetAgentAsync(scaleSet, Path.Combine(_stack.Dir, "agents", scaleSet))).InstanceId;
        var template = Template(
            RunCommand("vmFirst", "echo First on the VM; sleep 1", [DependsOnVm]),
            $$$"""
            {
              "type":"Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommands",
              "name":"{{{scaleSet}}}/{{{instance}}}/instanceSecond",
              "apiVersion":"2023-03-01",
              "location":"[parameters('location')]",
              "dependsOn":[
                "[resourceId('Microsoft.Compute/virtualMachineScaleSets', '{{{scaleSet}}}')]",
                "[resourceId('Microsoft.Compute/virtualMachines/runCommands', parameters('vmName'), 'vmFirst')]"
              ],
              "properties":{"source":{"script":"echo Second on the instance"},"timeoutInSeconds":60}
            }
            """);

        var deployment = await DeployAsync("mixed", vm, template);

        Assert.Equal("Succeeded", deployment.Properties!.ProvisioningState);
        var first = await ViewAsync(vm, "vmFirst");
        var second = (await _stack.Client.GetAsync(new RunCommand.Client.RunCommandRef(Sub, Group, instance, "instanceSecond", scaleSet), expandInstanceView: true)).Properties!.InstanceView!;
        Assert.Equal("First on the VM\n", first.Output);
        Assert.Equal("Second on the instance\n", second.Output);
        Assert.True(second.StartTime >= first.EndTime, $"the instance command started {second.StartTime:O}, before the VM command ended {first.EndTime:O}");
        var operations = await _stack.Client.ListDeploymentOperationsAsync(Sub, Group, "mixed");
        var onInstance = Assert.Single(operations, o => o.Properties.TargetResource.ResourceType == "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommands");
        Assert.Equal($"{scaleSet}/{instance}/instanceSecond", onInstance.Properties.TargetResource.ResourceName);
        Assert.EndsWith($"/virtualMachineScaleSets/{scaleSet}/virtualMachines/{instance}/runCommands/instanceSecond", onInstance.Properties.TargetResource.Id, StringComparison.Ordinal);
        Assert.All(operations, o => Assert.Equal("Succeeded", o.Properties.ProvisioningState));
    }

    [Fact]
    public async Task Put_InstanceCommandInAnotherLocation_Is400NamingTheInstance()
    {
        const string scaleSet = "dep-where-ss";
        var instance = (await _stack.StartScaleSetAgentAsync(scaleSet, Path.Combine(_stack.Dir, "agents", scaleSet))).InstanceId;
        var template = Template($$$"""
            {"type":"Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommands","name":"{{{scaleSet}}}/{{{instance}}}/elsewhere",
             "location":"otherregion","properties":{"source":{"script":"echo never"}}
            }
            """);

        var e = await Assert.ThrowsAsync<RunCommand.Client.ArmRequestException>(() => _stack.Client.CreateDeploymentAsync(Sub, Group, "where", template, Parameters("unused")));

        Assert.Equal(HttpStatusCode.BadRequest, e.StatusCode);
        Assert.Contains($"instance '{instance}' of scale set '{scaleSet}'", e.Error.Message);
    }

    [Fact]
    public async Task Deploy_TwoCommandsWithoutDependency_RunAtTheSameTime()
    {
        const string vm = "dep-par";
        await _stack.StartAgentAsync(vm);
        var dir = Path.Combine(_stack.Dir, "par-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        // Each waits (bounded) for the other's marker: both can only succeed if they run at the same time.
        string Script(string mine, string other) =>
            $"touch '{dir}/{mine}'; for i in $(seq 200); do [ -e '{dir}/{other}' ] && exit 0; sleep 0.05; done; exit 1";
        var template = Template(
            RunCommand("a", Script("a", "b"), [DependsOnVm], treatFailure: true),
            RunCommand("b", Script("b", "a"), [DependsOnVm], treatFailure: true));

        var deployment = await DeployAsync("parallel", vm, template);

        Assert.Equal("Succeeded", deployment.Properties!.ProvisioningState);
        var a = await ViewAsync(vm, "a");
        var b = await ViewAsync(vm, "b");
        Assert.True(a.StartTime < b.EndTime && b.StartTime < a.EndTime, $"a ran {a.StartTime:O}..{a.EndTime:O}, b ran {b.StartTime:O}..{b.EndTime:O}: no overlap");
    }

    [Fact]
    public async Task Deploy_FirstFailsWithTreatFailureAsDeploymentFailure_SecondNotRunAndDeploymentFailed()
    {
        const string vm = "dep-fail";
        await _stack.StartAgentAsync(vm);
        var template = Template(
            RunCommand("first", "echo failing; exit 3", [DependsOnVm], treatFailure: true),
            RunCommand("second", "echo should not run", ["[resourceId('Microsoft.Compute/virtualMachines/runCommands', parameters('vmName'), 'first')]"]));

        var deployment = await DeployAsync("failing", vm, template);

        Assert.Equal("Failed", deployment.Properties!.ProvisioningState);
        Assert.Equal("DeploymentFailed", deployment.Properties.Error!.Code);
        Assert.Contains("exit code 3", deployment.Properties.Error.Details![0].Message);
        var missing = await Assert.ThrowsAsync<RunCommand.Client.ArmRequestException>(() => _stack.Client.GetAsync(_stack.Command(vm, "second")));
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        var operation = Assert.Single(await _stack.Client.ListDeploymentOperationsAsync(Sub, Group, "failing"));
        Assert.Equal("Failed", operation.Properties.ProvisioningState);
        Assert.Equal(3, (await ViewAsync(vm, "first")).ExitCode);
    }

    [Fact]
    public async Task Put_PageTypoInDependsOn_Is400NamingTheUnresolvedDependency()
    {
        const string vm = "dep-typo";
        await _stack.StartAgentAsync(vm);
        // The product page's second template as printed: no '/' before runcommands.
        var template = Template(
            RunCommand("firstRunCommand", "echo First", [DependsOnVm]),
            RunCommand("secondRunCommand", "echo Second", ["[concat('Microsoft.Compute/virtualMachines/', parameters('vmName'),'runcommands/firstRunCommand')]"]));

        var e = await Assert.ThrowsAsync<RunCommand.Client.ArmRequestException>(() => _stack.Client.CreateDeploymentAsync(Sub, Group, "typo", template, Parameters(vm)));

        Assert.Equal(HttpStatusCode.BadRequest, e.StatusCode);
        Assert.Equal("InvalidTemplate", e.Error.Code);
        Assert.Contains($"'Microsoft.Compute/virtualMachines/{vm}runcommands/firstRunCommand'", e.Error.Message);
        var notCreated = await Assert.ThrowsAsync<RunCommand.Client.ArmRequestException>(() => _stack.Client.GetAsync(_stack.Command(vm, "firstRunCommand")));
        Assert.Equal(HttpStatusCode.NotFound, notCreated.StatusCode);
    }

    [Fact]
    public async Task Put_DependencyCycle_Is400NamingTheCycle()
    {
        const string vm = "dep-cycle";
        await _stack.StartAgentAsync(vm);
        var template = Template(
            RunCommand("a", "echo a", ["[concat(parameters('vmName'), '/b')]"]),
            RunCommand("b", "echo b", ["[concat(parameters('vmName'), '/a')]"]));

        var e = await Assert.ThrowsAsync<RunCommand.Client.ArmRequestException>(() => _stack.Client.CreateDeploymentAsync(Sub, Group, "cycle", template, Parameters(vm)));

        Assert.Equal(HttpStatusCode.BadRequest, e.StatusCode);
        Assert.Contains("Circular dependency", e.Error.Message);
        Assert.Contains($"{vm}/a -> {vm}/b -> {vm}/a", e.Error.Message);
    }

    [Fact]
    public async Task Put_UnknownFunction_Is400NamingIt()
    {
        var template = Template(RunCommand("a", "[utcNow()]", []));

        var e = await Assert.ThrowsAsync<RunCommand.Client.ArmRequestException>(() => _stack.Client.CreateDeploymentAsync(Sub, Group, "unknown-fn", template, Parameters("any")));

        Assert.Equal(HttpStatusCode.BadRequest, e.StatusCode);
        Assert.Contains("'utcNow'", e.Error.Message);
    }

    [Fact]
    public async Task Cli_CreateShowListOperationsDelete_BehavesLikeAz()
    {
        const string vm = "dep-cli";
        await _stack.StartAgentAsync(vm);
        var cli = new CliRunner(Path.Combine(_stack.Dir, "cli-" + Guid.NewGuid().ToString("N")));
        await cli.LoginAsync(_stack.Server);
        var templateFile = Path.Combine(_stack.Dir, "cli-template.json");
        await File.WriteAllTextAsync(templateFile, Template(
            RunCommand("one", "echo one", [DependsOnVm]),
            RunCommand("two", "echo two", ["[concat(parameters('vmName'), '/one')]"])).GetRawText());
        var parametersFile = Path.Combine(_stack.Dir, "cli-parameters.json");
        await File.WriteAllTextAsync(parametersFile, """{"location":{"value":"local"}}""");

        var created = await cli.RunAsync("deployment", "group", "create", "-g", Group, "-n", "cli", "--template-file", templateFile,
            "--parameters", $"vmName={vm}", $"@{parametersFile}");

        Assert.True(created.ExitCode == 0, created.Stdout + created.Stderr);
        using (var json = JsonDocument.Parse(created.Stdout))
        {
            Assert.Equal("Succeeded", json.RootElement.GetProperty("provisioningState").GetString());
        }

        var shown = await cli.RunAsync("deployment", "group", "show", "-g", Group, "-n", "cli", "-o", "table");
        Assert.Contains("Succeeded", shown.Stdout, StringComparison.Ordinal);
        var listed = await cli.RunAsync("deployment", "group", "list", "-g", Group, "-o", "table");
        Assert.Contains("cli", listed.Stdout, StringComparison.Ordinal);
        var operations = await cli.RunAsync("deployment", "operation", "group", "list", "-g", Group, "-n", "cli", "-o", "table");
        Assert.Equal(0, operations.ExitCode);
        Assert.Contains($"{vm}/one", operations.Stdout, StringComparison.Ordinal);
        Assert.Contains($"{vm}/two", operations.Stdout, StringComparison.Ordinal);

        var deleted = await cli.RunAsync("deployment", "group", "delete", "-g", Group, "-n", "cli");
        Assert.Equal(0, deleted.ExitCode);
        var gone = await cli.RunAsync("deployment", "group", "show", "-g", Group, "-n", "cli");
        Assert.NotEqual(0, gone.ExitCode);
        Assert.Contains("DeploymentNotFound", gone.Stderr, StringComparison.Ordinal);
        // ARM semantics: deleting the deployment keeps what it created.
        Assert.Equal("one\n", (await ViewAsync(vm, "one")).Output);
    }

    [Fact]
    public async Task Cli_CreateWithFailingCommand_ExitsNonZero()
    {
        const string vm = "dep-cli-fail";
        await _stack.StartAgentAsync(vm);
        var cli = new CliRunner(Path.Combine(_stack.Dir, "cli-" + Guid.NewGuid().ToString("N")));
        await cli.LoginAsync(_stack.Server);
        var templateFile = Path.Combine(_stack.Dir, "cli-fail-template.json");
        await File.WriteAllTextAsync(templateFile, Template(RunCommand("bad", "exit 4", [], treatFailure: true)).GetRawText());

        var created = await cli.RunAsync("deployment", "group", "create", "-g", Group, "-n", "cli-fail", "--template-file", templateFile, "--parameters", $"vmName={vm}");

        Assert.Equal(1, created.ExitCode);
        Assert.Contains("DeploymentFailed", created.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Delete_RunningDeployment_RemovesRecordAndDependentNeverStarts()
    {
        const string vm = "dep-del";
        await _stack.StartAgentAsync(vm);
        var gate = Path.Combine(_stack.Dir, "gate-" + Guid.NewGuid().ToString("N"));
        var template = Template(
            RunCommand("first", $"{Gate.WaitFor(gate)}; echo first", [DependsOnVm]),
            RunCommand("second", "echo second", ["[concat(parameters('vmName'), '/first')]"]));
        await _stack.Client.CreateDeploymentAsync(Sub, Group, "deleted", template, Parameters(vm));
        await WaitForRunningAsync(_stack.Client, _stack.Command(vm, "first"));

        Assert.True(await _stack.Client.DeleteDeploymentAsync(Sub, Group, "deleted"));
        await File.WriteAllTextAsync(gate, "");

        // The run command already running finishes on its own (ARM: deleting a deployment keeps its resources).
        await _stack.WaitForStateAsync(_stack.Command(vm, "first"), v => v.ExecutionState == ExecutionStates.Succeeded, TimeSpan.FromSeconds(30), "the first command to finish");
        var gone = await Assert.ThrowsAsync<RunCommand.Client.ArmRequestException>(() => _stack.Client.GetDeploymentAsync(Sub, Group, "deleted"));
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        var notStarted = await Assert.ThrowsAsync<RunCommand.Client.ArmRequestException>(() => _stack.Client.GetAsync(_stack.Command(vm, "second")));
        Assert.Equal(HttpStatusCode.NotFound, notStarted.StatusCode);
        Assert.False(await _stack.Client.DeleteDeploymentAsync(Sub, Group, "deleted"));
    }

    [Fact]
    public async Task Put_LocationOtherThanTheVms_Is400BeforeAnythingRuns()
    {
        const string vm = "dep-loc";
        await _stack.StartAgentAsync(vm);
        var template = Template(RunCommand("a", "echo a", [DependsOnVm]));
        var parameters = JsonDocument.Parse($$$"""{"vmName":{"value":"{{{vm}}}"},"location":{"value":"westus"}}""").RootElement.Clone();

        var e = await Assert.ThrowsAsync<RunCommand.Client.ArmRequestException>(() => _stack.Client.CreateDeploymentAsync(Sub, Group, "wrong-location", template, parameters));

        Assert.Equal(HttpStatusCode.BadRequest, e.StatusCode);
        Assert.Equal($"resources[0]({vm}/a).location", e.Error.Target);
    }

    [Fact]
    public async Task Deploy_ProtectedParameterFromSecureString_ReachesTheScriptAndNoFileOrLog()
    {
        const string vm = "dep-secret";
        await _stack.StartAgentAsync(vm);
        var secret = "s3cr3t-" + Guid.NewGuid().ToString("N");
        var template = JsonDocument.Parse("""
            {"parameters":{"vmName":{"type":"string"},"token":{"type":"securestring"}},
             "resources":[{"type":"Microsoft.Compute/virtualMachines/runCommands","name":"[concat(parameters('vmName'),'/secret')]","location":"local",
               "properties":{"source":{"script":"printf '%s' \"$TOKEN\" | sha256sum | cut -d' ' -f1"},
                 "protectedParameters":[{"name":"TOKEN","value":"[parameters('token')]"}]}}]}
            """).RootElement.Clone();
        var parameters = JsonDocument.Parse($$$"""{"vmName":{"value":"{{{vm}}}"},"token":{"value":"{{{secret}}}"}}""").RootElement.Clone();

        var response = await _stack.Client.CreateDeploymentAsync(Sub, Group, "secret", template, parameters);
        await _stack.Client.WaitForDeploymentAsync(response.OperationUrl!);

        var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(secret)));
        Assert.Equal(hash + "\n", (await ViewAsync(vm, "secret")).Output);
        Assert.DoesNotContain(secret, _stack.Server.Process.Output, StringComparison.Ordinal);
        var needle = System.Text.Encoding.UTF8.GetBytes(secret);
        foreach (var file in Directory.EnumerateFiles(_stack.Server.DataDir, "*", SearchOption.AllDirectories))
        {
            byte[] bytes;
            using (var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
            using (var copy = new MemoryStream())
            {
                await stream.CopyToAsync(copy);
                bytes = copy.ToArray();
            }

            Assert.True(bytes.AsSpan().IndexOf(needle) < 0, $"the secret is in {file}");
        }
    }
}
