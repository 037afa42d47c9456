using System.Text.Json;
using RunCommand.Contracts.Arm;
using RunCommand.Server.Arm;
using RunCommand.Server.Arm.Documents;

namespace RunCommand.Server.Tests;

public sealed class DocumentResolverTests
{
    private static readonly RunCommandDocument Deploy = new()
    {
        Id = "deploy",
        Script = ["echo \"$app $count\"", "exit 0"],
        Parameters =
        [
            new RunCommandParameterDefinition { Name = "app", Type = ParameterTypes.String, Required = true },
            new RunCommandParameterDefinition { Name = "count", Type = ParameterTypes.Int, DefaultValue = "3" },
            new RunCommandParameterDefinition { Name = "dryRun", Type = ParameterTypes.Bool },
            new RunCommandParameterDefinition { Name = "env", AllowedValues = ["dev", "prod"], DefaultValue = "dev" },
        ],
    };

    private static RunCommandParameter P(string name, string value) => new() { Name = name, Value = value };

    private static DocumentResolution Resolve(RunCommandDocument document, params RunCommandParameter[] parameters) =>
        DocumentResolver.Resolve(document, parameters, [], "properties.parameters", "properties.protectedParameters");

    [Fact]
    public void Resolve_ValidParameters_JoinsScriptLinesAndAppliesDefaults()
    {
        var resolution = Resolve(Deploy, P("app", "web"), P("dryRun", "TRUE"));

        Assert.Empty(resolution.Errors);
        Assert.Equal("echo \"$app $count\"\nexit 0", resolution.Script);
        Assert.Equal(["app=web", "dryRun=TRUE", "count=3", "env=dev"], resolution.Parameters.Select(p => $"{p.Name}={p.Value}"));
    }

    [Fact]
    public void Resolve_GivenValue_OverridesDefault()
    {
        var resolution = Resolve(Deploy, P("app", "web"), P("count", "-7"), P("env", "prod"));

        Assert.Empty(resolution.Errors);
        Assert.Equal(["app=web", "count=-7", "env=prod"], resolution.Parameters.Select(p => $"{p.Name}={p.Value}"));
    }

    [Fact]
    public void Resolve_MissingRequired_NamesTheParameter()
    {
        var error = Assert.Single(Resolve(Deploy).Errors);

        Assert.Equal("InvalidParameter", error.Code);
        Assert.Equal("properties.parameters", error.Target);
        Assert.Contains("'app'", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("count", "three", "int")]
    [InlineData("count", "1.5", "int")]
    [InlineData("dryRun", "yes", "bool")]
    [InlineData("env", "staging", "dev, prod")]
    public void Resolve_BadValue_NamesParameterAndIndex(string name, string value, string expected)
    {
        var error = Assert.Single(Resolve(Deploy, P("app", "web"), P(name, value)).Errors);

        Assert.Equal("properties.parameters[1]", error.Target);
        Assert.Contains($"'{name}'", error.Message, StringComparison.Ordinal);
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(value, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Resolve_UnknownAndNamelessParameters_ReturnsEveryError()
    {
        var errors = Resolve(Deploy, P("app", "web"), P("colour", "red"), P("", "positional"), P("app", "again")).Errors;

        Assert.Equal(["properties.parameters[1]", "properties.parameters[2]", "properties.parameters[3]"], errors.Select(e => e.Target));
        Assert.Contains("'colour'", errors[0].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Resolve_ProtectedParameter_SatisfiesRequiredAndGetsNoDefaultCopy()
    {
        var resolution = DocumentResolver.Resolve(Deploy, [], [P("app", "secret-app")], "properties.parameters", "properties.protectedParameters");

        Assert.Empty(resolution.Errors);
        Assert.DoesNotContain(resolution.Parameters, p => p.Name == "app");
    }

    [Fact]
    public void Resolve_BadProtectedValue_TargetsProtectedPathWithoutEchoingIt()
    {
        var error = Assert.Single(DocumentResolver.Resolve(Deploy, [P("app", "web")], [P("count", "s3cr3t")], "properties.parameters", "properties.protectedParameters").Errors);

        Assert.Equal("properties.protectedParameters[0]", error.Target);
        Assert.DoesNotContain("s3cr3t", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Resolve_RunShellScript_UsesCallerLinesAndPassesParametersThrough()
    {
        var resolution = DocumentResolver.Resolve(BuiltInDocuments.RunShellScript, [P("", "a"), P("X", "1")], [], "parameters", "parameters", ["echo $1", "echo $X"]);

        Assert.Empty(resolution.Errors);
        Assert.Equal("echo $1\necho $X", resolution.Script);
        Assert.Equal(2, resolution.Parameters.Count);
    }

    [Fact]
    public void Resolve_Ifconfig_AcceptsOptionalArguments()
    {
        Assert.Empty(Resolve(BuiltInDocuments.Ifconfig).Errors);
        Assert.Empty(Resolve(BuiltInDocuments.Ifconfig, P("arguments", "-a")).Errors);
        Assert.Single(Resolve(BuiltInDocuments.Ifconfig, P("argument", "-a")).Errors);
    }
}

public sealed class CommandDocumentValidationTests
{
    private static RunCommandDocument Validate(string json, string id = "mine")
    {
        using var document = JsonDocument.Parse(json);
        return CommandDocuments.Validate(id, document.RootElement);
    }

    private static IReadOnlyList<string?> Targets(string json)
    {
        var e = Assert.Throws<ArmRequestException>(() => Validate(json));
        return e.Errors?.Select(x => x.Target).ToList() ?? [e.Target];
    }

    [Fact]
    public void Validate_GoodDocument_TakesIdFromUrlAndFillsSchema()
    {
        var document = Validate("""{"label":"x","script":["echo hi"],"parameters":[{"name":"n","type":"int","defaultValue":"2","allowedValues":["1","2"]}]}""", "MyDoc");

        Assert.Equal("MyDoc", document.Id);
        Assert.Equal("Linux", document.OsType);
        Assert.Equal(BuiltInDocuments.SchemaUrl, document.Schema);
    }

    [Fact]
    public void Validate_ManyProblems_ReturnsEveryErrorWithItsTarget()
    {
        var targets = Targets("""
            {"id":"other","osType":"Windows","script":[],"parameters":[
              {"name":"1bad"},
              {"name":"t","type":"float"},
              {"name":"r","required":true,"defaultValue":"x"},
              {"name":"i","type":"int","defaultValue":"x","allowedValues":["1","two"]},
              {"name":"r"}]}
            """);

        Assert.Equal(
            ["id", "osType", "script", "parameters[0].name", "parameters[1].type", "parameters[2].defaultValue", "parameters[3].allowedValues", "parameters[3].defaultValue", "parameters[4].name"],
            targets);
    }

    [Fact]
    public void Validate_WrongJsonType_Answers400()
    {
        var e = Assert.Throws<ArmRequestException>(() => Validate("""{"script":"echo hi"}"""));

        Assert.Equal(400, e.Status);
        Assert.Equal("InvalidRequestContent", e.Code);
    }
}
