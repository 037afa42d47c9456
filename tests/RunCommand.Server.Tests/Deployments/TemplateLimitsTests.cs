using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using RunCommand.Server.Deployments;
using RunCommand.Storage;

namespace RunCommand.Server.Tests.Deployments;

/// <summary>No template can exhaust the stack, memory or time of the server: each bound is a TemplateException naming it.</summary>
public sealed class TemplateLimitsTests
{
    private const string Sub = "00000000-0000-0000-0000-000000000001";

    private static ExpressionScope NewScope() => new() { SubscriptionId = Sub, ResourceGroup = "rg1", Location = "local" };

    private static string Nested(int depth) =>
        "[" + string.Concat(Enumerable.Repeat("concat(", depth)) + "'x'" + new string(')', depth) + "]";

    [Fact]
    public void EvaluateString_100000NestedCalls_IsRefusedWithoutRecursingThatDeep()
    {
        // The expression of issue 12 (about 800 KB): the length limit refuses it before any parsing.
        var e = Assert.Throws<TemplateException>(() => TemplateExpression.EvaluateString(Nested(100_000), NewScope()));
        Assert.Contains("24,576", e.Message);
    }

    [Fact]
    public void EvaluateString_NestedDeeperThanTheLimitWithinTheLength_NamesTheDepthLimit()
    {
        var expression = Nested(TemplateLimits.MaxExpressionDepth + 1);
        Assert.True(expression.Length < TemplateLimits.MaxExpressionLength);

        var e = Assert.Throws<TemplateException>(() => TemplateExpression.EvaluateString(expression, NewScope()));
        Assert.Contains($"deeper than {TemplateLimits.MaxExpressionDepth} levels", e.Message);
    }

    [Fact]
    public void EvaluateString_NestedAtTheLimit_Evaluates() =>
        Assert.Equal("x", TemplateExpression.EvaluateString(Nested(TemplateLimits.MaxExpressionDepth - 1), NewScope())!.GetValue<string>());

    [Theory]
    [InlineData("resourceGroup()", ".name")]
    [InlineData("resourceGroup()", "['name']")]
    public void EvaluateString_LongPropertyChain_NamesTheDepthLimit(string start, string link)
    {
        var e = Assert.Throws<TemplateException>(() =>
            TemplateExpression.EvaluateString("[" + start + string.Concat(Enumerable.Repeat(link, 1_000)) + "]", NewScope()));
        Assert.Contains("deeper than", e.Message);
    }

    [Theory]
    [InlineData("[-9223372036854775809]")]
    [InlineData("[99999999999999999999999]")]
    public void EvaluateString_IntegerOutOfRange_IsATemplateError(string expression) =>
        Assert.Contains("out of range", Assert.Throws<TemplateException>(() => TemplateExpression.EvaluateString(expression, NewScope())).Message);

    [Fact]
    public void EvaluateString_HugeFormatAlignment_IsRefusedBeforeAllocating()
    {
        var e = Assert.Throws<TemplateException>(() => TemplateExpression.EvaluateString("[format('{0,2000000000}', 'a')]", NewScope()));
        Assert.Contains("wider than 1,000", e.Message);
    }

    [Fact]
    public void EvaluateString_FormatAlignmentWithinTheLimit_Pads() =>
        Assert.Equal("    a", TemplateExpression.EvaluateString("[format('{0,5}', 'a')]", NewScope())!.GetValue<string>());

    private static (IReadOnlyList<PlannedResource> Resources, IReadOnlyList<Contracts.Arm.ArmError> Errors) Plan(string template)
    {
        using var t = JsonDocument.Parse(template);
        return TemplatePlanner.Plan(t.RootElement, null, NewScope(), [new VmKey(Sub, "rg1", "vm1")]);
    }

    private static string Resource(string script) =>
        """{"type":"Microsoft.Compute/virtualMachines/runCommands","name":"vm1/rc","location":"local","properties":{"source":{"script":""" + JsonSerializer.Serialize(script) + "}}}";

    [Fact]
    public void Plan_VariableChainDeeperThanTheLimit_NamesTheEvaluationDepth()
    {
        // v0 uses v1 uses v2 ... : each level is shallow, the chain is deep.
        var variables = new JsonObject();
        for (var i = 0; i < 200; i++)
        {
            variables[$"v{i}"] = i == 199 ? "end" : $"[variables('v{i + 1}')]";
        }

        var (_, errors) = Plan($$"""{"variables":{{variables.ToJsonString()}},"resources":[{{Resource("[variables('v0')]")}}]}""");

        Assert.Contains(errors, e => e.Message.Contains($"deeper than {TemplateLimits.MaxEvaluationDepth} levels", StringComparison.Ordinal));
    }

    [Fact]
    public void Plan_VariablesThatDoubleEachOther_StopAtTheSizeBudget()
    {
        // v0 = 'xxxxxxxx', v(i+1) = concat(v(i), v(i)): 60 levels would be 2^60 characters.
        var variables = new JsonObject { ["v0"] = new string('x', 1024) };
        for (var i = 1; i <= 60; i++)
        {
            variables[$"v{i}"] = $"[concat(variables('v{i - 1}'), variables('v{i - 1}'))]";
        }

        var (_, errors) = Plan($$"""{"variables":{{variables.ToJsonString()}},"resources":[{{Resource("[variables('v60')]")}}]}""");

        Assert.Contains(errors, e => e.Message.Contains($"more than {TemplateLimits.MaxEvaluatedSize:N0} characters", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("parameters", TemplateLimits.MaxParameters)]
    [InlineData("variables", TemplateLimits.MaxVariables)]
    public void Plan_TooManyDeclarations_NamesTheLimit(string section, int limit)
    {
        var declarations = new JsonObject();
        for (var i = 0; i <= limit; i++)
        {
            declarations[$"d{i}"] = section == "parameters" ? new JsonObject { ["type"] = "string", ["defaultValue"] = "a" } : "a";
        }

        var (_, errors) = Plan($$"""{"{{section}}":{{declarations.ToJsonString()}},"resources":[{{Resource("x")}}]}""");

        var error = Assert.Single(errors);
        Assert.Equal($"properties.template.{section}", error.Target);
        Assert.Contains($"the limit is {limit}", error.Message);
    }

    [Fact]
    public void Plan_TooManyResources_NamesTheLimit()
    {
        var resources = new StringBuilder("[");
        for (var i = 0; i <= TemplateLimits.MaxResources; i++)
        {
            resources.Append(i == 0 ? "" : ",").Append(Resource("x").Replace("vm1/rc", $"vm1/rc{i}", StringComparison.Ordinal));
        }

        var (_, errors) = Plan($$"""{"resources":{{resources}}]}""");

        var error = Assert.Single(errors);
        Assert.Equal("properties.template.resources", error.Target);
        Assert.Contains($"the limit is {TemplateLimits.MaxResources}", error.Message);
    }
}
