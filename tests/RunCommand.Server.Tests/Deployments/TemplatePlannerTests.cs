using System.Text.Json;
using RunCommand.Contracts.Arm;
using RunCommand.Server.Deployments;

namespace RunCommand.Server.Tests.Deployments;

public sealed class TemplatePlannerTests
{
    private const string Sub = "00000000-0000-0000-0000-000000000001";

    private static (IReadOnlyList<PlannedResource> Resources, IReadOnlyList<ArmError> Errors) Plan(string resources, string? parameters = null, string[]? vms = null)
    {
        var template = $$$"""
            {"parameters":{"vmName":{"type":"string"},"location":{"type":"string","defaultValue":"[resourceGroup().location]"}},
             "variables":{"script":"[concat('echo ', parameters('vmName'))]"},
             "resources":{{{resources}}}}
            """;
        using var t = JsonDocument.Parse(template);
        using var p = JsonDocument.Parse(parameters ?? """{"vmName":{"value":"vm1"}}""");
        var scope = new ExpressionScope { SubscriptionId = Sub, ResourceGroup = "rg1", Location = "local" };
        return TemplatePlanner.Plan(t.RootElement, p.RootElement, scope, new HashSet<string>(vms ?? ["vm1"], StringComparer.OrdinalIgnoreCase));
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
}
