using System.Text.Json;
using RunCommand.Cli.Commands;

namespace RunCommand.Cli.Tests;

public sealed class DeploymentParametersTests
{
    private static readonly JsonElement Template = JsonDocument.Parse("""
        {"parameters":{"name":{"type":"string"},"count":{"type":"int"},"on":{"type":"bool"},"tags":{"type":"object"},"secret":{"type":"secureObject"}}}
        """).RootElement.Clone();

    [Fact]
    public void BuildParameters_NameValue_IsTypedByTheDeclaration()
    {
        var parameters = DeploymentCommands.BuildParameters(Template, ["name=007", "count=3", "on=true", "tags={\"a\":1}", "undeclared=x=y"])!.Value;

        Assert.Equal(JsonValueKind.String, parameters.GetProperty("name").GetProperty("value").ValueKind);
        Assert.Equal("007", parameters.GetProperty("name").GetProperty("value").GetString());
        Assert.Equal(3, parameters.GetProperty("count").GetProperty("value").GetInt64());
        Assert.True(parameters.GetProperty("on").GetProperty("value").GetBoolean());
        Assert.Equal(1, parameters.GetProperty("tags").GetProperty("value").GetProperty("a").GetInt32());
        Assert.Equal("x=y", parameters.GetProperty("undeclared").GetProperty("value").GetString());
    }

    [Fact]
    public void BuildParameters_ParametersFileWithSchema_IsUnwrappedAndLaterValuesWin()
    {
        var dir = Directory.CreateTempSubdirectory("rc-params-").FullName;
        var file = Path.Combine(dir, "p.json");
        File.WriteAllText(file, """{"$schema":"x","contentVersion":"1.0.0.0","parameters":{"name":{"value":"fromfile"},"count":{"value":1}}}""");

        var parameters = DeploymentCommands.BuildParameters(Template, [$"@{file}", "name=override"])!.Value;
        Directory.Delete(dir, recursive: true);

        Assert.Equal("override", parameters.GetProperty("name").GetProperty("value").GetString());
        Assert.Equal(1, parameters.GetProperty("count").GetProperty("value").GetInt32());
    }

    [Theory]
    [InlineData("count=three")]
    [InlineData("novalue")]
    [InlineData("@/nonexistent/p.json")]
    public void BuildParameters_BadArgument_IsUsageError(string argument) =>
        Assert.Throws<CliException>(() => DeploymentCommands.BuildParameters(Template, [argument]));

    [Fact]
    public void BuildParameters_None_IsNull() => Assert.Null(DeploymentCommands.BuildParameters(Template, []));
    [Theory]
    [InlineData("secret={not json S3CRET", "'secret' is declared secureobject")]
    [InlineData("S3CRET", "value 2 is neither name=value nor @file.json")]
    [InlineData("=S3CRET", "value 2 is neither name=value nor @file.json")]
    public void BuildParameters_BadValueThatMayBeSecret_IsNotEchoed(string argument, string expected)
    {
        var e = Assert.Throws<CliException>(() => DeploymentCommands.BuildParameters(Template, ["name=x", argument]));

        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("S3CRET", e.Message, StringComparison.Ordinal);
    }
}
