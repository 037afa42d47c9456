using System.Text.Json.Nodes;
using RunCommand.Server.Deployments;

namespace RunCommand.Server.Tests.Deployments;

public sealed class TemplateExpressionTests
{
    private static readonly ExpressionScope Scope = new()
    {
        SubscriptionId = "00000000-0000-0000-0000-000000000001",
        ResourceGroup = "rg1",
        Location = "local",
        Parameter = name => name == "vmName" ? JsonValue.Create("vm1") : throw new TemplateException($"The template parameter '{name}' is not found."),
        Variable = name => name == "obj" ? new JsonObject { ["inner"] = new JsonObject { ["x"] = 7 } } : throw new TemplateException($"The template variable '{name}' is not found."),
    };

    private static string Text(string value) => TemplateFunctions.Text(TemplateExpression.EvaluateString(value, Scope));

    [Theory]
    [InlineData("[concat(parameters('vmName'),'/firstRunCommand')]", "vm1/firstRunCommand")]
    [InlineData("[format('{0}-{1}', 'a', 12)]", "a-12")]
    [InlineData("['it''s']", "it's")]
    [InlineData("[[not an expression]", "[not an expression]")]
    [InlineData("plain text", "plain text")]
    [InlineData("[resourceGroup().name]", "rg1")]
    [InlineData("[resourceGroup().location]", "local")]
    [InlineData("[subscription().subscriptionId]", "00000000-0000-0000-0000-000000000001")]
    [InlineData("[variables('obj').inner.x]", "7")]
    [InlineData("[variables('obj')['inner']['x']]", "7")]
    [InlineData("[CONCAT('a', true, 3)]", "aTrue3")]
    public void EvaluateString_Expression_GivesValue(string expression, string expected) => Assert.Equal(expected, Text(expression));

    [Theory]
    [InlineData("[resourceId('Microsoft.Compute/virtualMachines/runCommands', 'vm1', 'rc')]",
        "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/vm1/runCommands/rc")]
    [InlineData("[resourceId('other', 'Microsoft.Compute/virtualMachines', 'vm1')]",
        "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/other/providers/Microsoft.Compute/virtualMachines/vm1")]
    [InlineData("[resourceId('sub2', 'other', 'Microsoft.Compute/virtualMachines', 'vm1')]",
        "/subscriptions/sub2/resourceGroups/other/providers/Microsoft.Compute/virtualMachines/vm1")]
    public void EvaluateString_ResourceId_BuildsId(string expression, string expected) => Assert.Equal(expected, Text(expression));

    [Fact]
    public void EvaluateString_IntegerAndBool_KeepTheirTypes()
    {
        Assert.Equal(42, TemplateExpression.EvaluateString("[42]", Scope)!.GetValue<long>());
        Assert.True(TemplateExpression.EvaluateString("[true]", Scope)!.GetValue<bool>());
    }

    [Fact]
    public void EvaluateString_UnknownFunction_NamesIt()
    {
        var e = Assert.Throws<TemplateException>(() => Text("[uniqueString('x')]"));
        Assert.Contains("'uniqueString'", e.Message);
    }

    [Theory]
    [InlineData("[concat('a']")]
    [InlineData("[concat('a' 'b')]")]
    [InlineData("['unterminated]")]
    [InlineData("[concat('a'))]")]
    [InlineData("[a.]")]
    [InlineData("[#]")]
    public void EvaluateString_BadSyntax_IsTemplateError(string expression) =>
        Assert.Throws<TemplateException>(() => Text(expression));

    [Fact]
    public void EvaluateString_UnknownParameter_NamesIt()
    {
        var e = Assert.Throws<TemplateException>(() => Text("[parameters('nope')]"));
        Assert.Contains("'nope'", e.Message);
    }

    [Fact]
    public void EvaluateString_ResourceIdWithWrongNameCount_Fails() =>
        Assert.Throws<TemplateException>(() => Text("[resourceId('Microsoft.Compute/virtualMachines/runCommands', 'vm1')]"));

    [Fact]
    public void EvaluateString_BadFormatString_Fails() =>
        Assert.Throws<TemplateException>(() => Text("[format('{1}', 'a')]"));
}
