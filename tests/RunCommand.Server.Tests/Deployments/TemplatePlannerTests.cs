using System.Text.Json;
using RunCommand.Contracts.Arm;
using RunCommand.Server.Deployments;
using RunCommand.Storage;

namespace RunCommand.Server.Tests.Deployments;

public sealed class TemplatePlannerTests
{
    private const string Sub = "00000000-0000-0000-0000-000000000001";

    private static (IReadOnlyList<PlannedResource> Resources, IReadOnlyList<ArmError> Errors) Plan(string resources, string? parameters = null, string[]? vms = null, VmKey[]? instances = null)
    {
        var template = $$$"""
            {"parameters":{"vmName":{"type":"string"},"location":{"type":"string","defaultValue":"[resourceGroup().location]"}},
             "variables":{"script":"[concat('echo ', parameters('vmName'))]"},
             "resources":{{{resources}}}}
            """;
        using var t = JsonDocument.Parse(template);
        using var p = JsonDocument.Parse(parameters ?? """{"vmName":{"value":"vm1"}}""");
        var scope = new ExpressionScope { SubscriptionId = Sub, ResourceGroup = "rg1", Location = "local" };
        var machines = (vms ?? ["vm1"]).Select(vm => new VmKey(Sub, "rg1", vm)).Concat(instances ?? []);
        return TemplatePlanner.Plan(t.RootElement, p.RootElement, scope, machines);
    }

    private static string Rc(string name, params string[] dependsOn) => $$$"""
        {"type":"Microsoft.Compute/virtualMachines/runCommands","name":"[concat(parameters('vmName'),'/{{{name}}}')]","apiVersion":"2019-12-01",
         "location":"[parameters('location')]","dependsOn":{{{JsonSerializer.Serialize(dependsOn)}}},
         "properties":{"source":{"script":"[variables('script')]"},"timeoutInSeconds":20}}
        """;

    [Fact]
    public void Plan_PageTemplateWithValidDependsOn_OrdersSecondAfterFirst()
    {
        var (resources, errors) = Plan($"[{Rc("first", "[concat('Microsoft.Compute/virtualMachines/', parameters('vmName'))]")},"
            + $"{Rc("second", "[concat('Microsoft.Compute/virtualMachines/', parameters('vmName'),'/runcommands/first')]")}]");

        Assert.Empty(errors);
        Assert.Equal(["vm1/first", "vm1/second"], resources.Select(r => r.DisplayName));
        Assert.Empty(resources[0].DependsOn);
        Assert.Equal([0], resources[1].DependsOn);
        Assert.Equal("echo vm1", resources[0].Body["properties"]!["source"]!["script"]!.GetValue<string>());
        Assert.Equal("local", resources[0].Body["location"]!.GetValue<string>());
        Assert.Equal($"/subscriptions/{Sub}/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/vm1/runCommands/second", resources[1].ResourceId);
    }

    [Theory]
    [InlineData("vm1/first")]
    [InlineData("Microsoft.Compute/virtualMachines/runCommands/vm1/first")]
    [InlineData("[resourceId('Microsoft.Compute/virtualMachines/runCommands', parameters('vmName'), 'first')]")]
    [InlineData("/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/RG1/providers/Microsoft.Compute/virtualMachines/vm1/runCommands/FIRST")]
    public void Plan_DependsOnByNameOrId_Resolves(string entry)
    {
        var (resources, errors) = Plan($"[{Rc("first")},{Rc("second", entry)}]");

        Assert.Empty(errors);
        Assert.Equal([0], resources[1].DependsOn);
    }

    [Theory]
    [InlineData("Microsoft.Compute/virtualMachines/vm1")]
    [InlineData("[resourceId('Microsoft.Compute/virtualMachines', parameters('vmName'))]")]
    public void Plan_DependsOnExistingVm_IsSatisfied(string entry)
    {
        var (resources, errors) = Plan($"[{Rc("first", entry)}]");

        Assert.Empty(errors);
        Assert.Empty(resources[0].DependsOn);
    }

    [Fact]
    public void Plan_DependsOnMissingVm_NamesIt()
    {
        var (_, errors) = Plan($"[{Rc("first", "Microsoft.Compute/virtualMachines/ghost")}]");

        var error = Assert.Single(errors);
        Assert.Contains("'Microsoft.Compute/virtualMachines/ghost'", error.Message);
    }

    [Fact]
    public void Plan_PageTypoMissingSlash_NamesTheUnresolvedDependency()
    {
        var (_, errors) = Plan($"[{Rc("firstRunCommand")},{Rc("second", "[concat('Microsoft.Compute/virtualMachines/', parameters('vmName'),'runcommands/firstRunCommand')]")}]");

        var error = Assert.Single(errors);
        Assert.Contains("'Microsoft.Compute/virtualMachines/vm1runcommands/firstRunCommand'", error.Message);
        Assert.Equal("resources[1](vm1/second).dependsOn[0]", error.Target);
    }

    [Fact]
    public void Plan_Cycle_NamesThePath()
    {
        var (_, errors) = Plan($"[{Rc("a", "vm1/c")},{Rc("b", "vm1/a")},{Rc("c", "vm1/b")}]");

        var error = Assert.Single(errors);
        Assert.Contains("Circular dependency", error.Message);
        Assert.Contains("vm1/a -> vm1/c -> vm1/b -> vm1/a", error.Message);
    }

    [Fact]
    public void Plan_SelfDependency_IsCycle()
    {
        var (_, errors) = Plan($"[{Rc("a", "vm1/a")}]");

        Assert.Contains("Circular dependency", Assert.Single(errors).Message);
    }

    [Fact]
    public void Plan_UnknownFunctionAndInvalidBody_ReportsAllAtOnce()
    {
        var (_, errors) = Plan("""
            [{"type":"Microsoft.Compute/virtualMachines/runCommands","name":"vm1/a","location":"[uniqueString('x')]","properties":{"source":{"script":"x"}}},
             {"type":"Microsoft.Compute/virtualMachines/runCommands","name":"vm1/b","location":"local","properties":{"source":{}, "timeoutInSeconds":-5}}]
            """);

        Assert.Contains(errors, e => e.Message.Contains("'uniqueString'") && e.Target == "resources[0].location");
        Assert.Contains(errors, e => e.Target!.StartsWith("resources[1](vm1/b).properties.source", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.Target!.StartsWith("resources[1](vm1/b).properties.timeoutInSeconds", StringComparison.Ordinal));
    }

    [Fact]
    public void Plan_MissingOrUndeclaredOrMistypedParameter_IsError()
    {
        Assert.Contains(Plan($"[{Rc("a")}]", "{}").Errors, e => e.Message.Contains("'vmName' has no value"));
        Assert.Contains(Plan($"[{Rc("a")}]", """{"vmName":{"value":"vm1"},"extra":{"value":1}}""").Errors, e => e.Message.Contains("'extra'"));
        Assert.Contains(Plan($"[{Rc("a")}]", """{"vmName":{"value":3}}""").Errors, e => e.Message.Contains("not of type 'string'"));
    }

    [Fact]
    public void Plan_OtherResourceType_IsRejected()
    {
        var (_, errors) = Plan("""[{"type":"Microsoft.Storage/storageAccounts","name":"sa","location":"local"}]""");

        Assert.Equal("UnsupportedResourceType", Assert.Single(errors).Code);
    }

    private static string InstanceRc(string name, params string[] dependsOn) => $$$"""
        {"type":"Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommands","name":"{{{name}}}","apiVersion":"2023-03-01",
         "location":"[parameters('location')]","dependsOn":{{{JsonSerializer.Serialize(dependsOn)}}},
         "properties":{"source":{"script":"echo instance"}}
        }
        """;

    [Fact]
    public void Plan_ScaleSetInstanceRunCommand_PlansOnThatInstance()
    {
        var (resources, errors) = Plan($"[{InstanceRc("ss1/0/first")}]");

        Assert.Empty(errors);
        var resource = Assert.Single(resources);
        Assert.Equal("ss1/0/first", resource.DisplayName);
        Assert.Equal(("ss1", "0", "first"), (resource.ScaleSetName, resource.VmName, resource.Name));
        Assert.Equal(TemplatePlanner.ScaleSetRunCommandType, resource.ResourceType);
        Assert.Equal($"/subscriptions/{Sub}/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachineScaleSets/ss1/virtualMachines/0/runCommands/first", resource.ResourceId);
        Assert.Equal(new RunCommandKey(new VmKey(Sub, "rg1", "0", "ss1"), "first"), StorageFormat.ParseRunCommandId(resource.ResourceId));
    }

    [Theory]
    [InlineData("ss1/first")]
    [InlineData("ss1/0/first/extra")]
    [InlineData("ss1/zero/first")]
    [InlineData("ss1/0/bad name")]
    public void Plan_ScaleSetInstanceRunCommandWithBadName_IsRejected(string name)
    {
        var (resources, errors) = Plan($"[{InstanceRc(name)}]");

        Assert.Empty(resources);
        Assert.Equal("resources[0]" + (name.Split('/').Length == 3 ? $"({name}).name" : ".name"), Assert.Single(errors).Target);
    }

    [Fact]
    public void Plan_VmRunCommandNamedLikeInstance_IsRejected()
    {
        var (_, errors) = Plan("""[{"type":"Microsoft.Compute/virtualMachines/runCommands","name":"ss1/0/first","location":"local","properties":{"source":{"script":"echo"}}}]""");

        Assert.Contains("vmName/runCommandName", Assert.Single(errors).Message);
    }

    [Theory]
    [InlineData("ss1/0/first")]
    [InlineData("SS1/0/FIRST")]
    [InlineData("Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommands/ss1/0/first")]
    [InlineData("Microsoft.Compute/virtualMachineScaleSets/ss1/virtualMachines/0/runCommands/first")]
    [InlineData("[resourceId('Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommands', 'ss1', '0', 'first')]")]
    [InlineData("/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups/RG1/providers/Microsoft.Compute/virtualMachineScaleSets/ss1/virtualMachines/0/runCommands/first")]
    public void Plan_DependsOnScaleSetInstanceRunCommandByNameOrId_Resolves(string entry)
    {
        var (resources, errors) = Plan($"[{InstanceRc("ss1/0/first")},{Rc("second", entry)},{InstanceRc("ss1/1/third", entry)}]");

        Assert.Empty(errors);
        Assert.Equal([0], resources[1].DependsOn);
        Assert.Equal([0], resources[2].DependsOn);
    }

    [Theory]
    [InlineData("vm1/first")]
    [InlineData("[resourceId('Microsoft.Compute/virtualMachines/runCommands', parameters('vmName'), 'first')]")]
    public void Plan_ScaleSetInstanceRunCommandDependsOnVmRunCommand_OrdersAfterIt(string entry)
    {
        var (resources, errors) = Plan($"[{Rc("first")},{InstanceRc("ss1/0/second", entry)}]");

        Assert.Empty(errors);
        Assert.Equal(["vm1/first", "ss1/0/second"], resources.Select(r => r.DisplayName));
        Assert.Equal([0], resources[1].DependsOn);
    }

    [Theory]
    [InlineData("Microsoft.Compute/virtualMachineScaleSets/ss1")]
    [InlineData("[resourceId('Microsoft.Compute/virtualMachineScaleSets', 'ss1')]")]
    [InlineData("Microsoft.Compute/virtualMachineScaleSets/ss1/virtualMachines/0")]
    [InlineData("[resourceId('Microsoft.Compute/virtualMachineScaleSets/virtualMachines', 'ss1', '0')]")]
    public void Plan_DependsOnExistingScaleSetOrInstance_IsSatisfied(string entry)
    {
        var (resources, errors) = Plan($"[{InstanceRc("ss1/0/first", entry)},{Rc("second", entry)}]", instances: [new VmKey(Sub, "rg1", "0", "ss1")]);

        Assert.Empty(errors);
        Assert.All(resources, r => Assert.Empty(r.DependsOn));
    }

    [Theory]
    [InlineData("Microsoft.Compute/virtualMachineScaleSets/ghost")]
    [InlineData("Microsoft.Compute/virtualMachineScaleSets/ss1/virtualMachines/7")]
    [InlineData("Microsoft.Compute/virtualMachines/0")]
    public void Plan_DependsOnMissingScaleSetOrInstance_NamesIt(string entry)
    {
        var (_, errors) = Plan($"[{InstanceRc("ss1/0/first", entry)}]", instances: [new VmKey(Sub, "rg1", "0", "ss1")]);

        var error = Assert.Single(errors);
        Assert.Equal("resources[0](ss1/0/first).dependsOn[0]", error.Target);
        Assert.Contains(entry, error.Message);
    }

    [Fact]
    public void Plan_SameInstanceRunCommandTwice_IsRejected()
    {
        var (_, errors) = Plan($"[{InstanceRc("ss1/0/a")},{InstanceRc("SS1/0/A")}]");

        Assert.Contains("'SS1/0/A' is defined more than once", Assert.Single(errors).Message);
    }

    [Fact]
    public void Plan_CycleAcrossVmAndInstance_IsRejected()
    {
        var (_, errors) = Plan($"[{Rc("a", "ss1/0/b")},{InstanceRc("ss1/0/b", "vm1/a")}]");

        Assert.Contains("Circular dependency detected: vm1/a -> ss1/0/b -> vm1/a", Assert.Single(errors).Message);
    }
}
