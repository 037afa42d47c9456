using RunCommand.Cli.Input;

namespace RunCommand.Cli.Tests;

public sealed class ParameterDefinitionParserTests
{
    [Theory]
    [InlineData("who", "who", "string", false, null, null)]
    [InlineData("who=world", "who", "string", false, "world", null)]
    [InlineData("count:int:required", "count", "int", true, null, null)]
    [InlineData("count:INT=3", "count", "int", false, "3", null)]
    [InlineData("mode:string=fast:allowed=fast|slow", "mode", "string", false, "fast", "fast|slow")]
    [InlineData("dry:bool=false", "dry", "bool", false, "false", null)]
    [InlineData("url=a=b", "url", "string", false, "a=b", null)]
    public void Parse_OneDefinition_ReadsEverySegment(string input, string name, string type, bool required, string? defaultValue, string? allowed)
    {
        var definition = Assert.Single(ParameterDefinitionParser.Parse([input]));

        Assert.Equal(name, definition.Name);
        Assert.Equal(type, definition.Type);
        Assert.Equal(required, definition.Required);
        Assert.Equal(defaultValue, definition.DefaultValue);
        Assert.Equal(allowed, definition.AllowedValues is null ? null : string.Join('|', definition.AllowedValues));
    }

    [Theory]
    [InlineData(":int")]
    [InlineData("n:float")]
    [InlineData("n=1:int=2")]
    public void Parse_BadDefinition_IsUsageErrorNamingTheSyntax(string input)
    {
        var e = Assert.Throws<CliException>(() => ParameterDefinitionParser.Parse([input]));

        Assert.Equal(ExitCodes.Usage, e.ExitCode);
        Assert.Contains(ParameterDefinitionParser.Syntax, e.Message, StringComparison.Ordinal);
    }
}
