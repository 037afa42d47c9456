using RunCommand.Cli.Input;

namespace RunCommand.Cli.Tests;

public sealed class ParameterParserTests
{
    [Theory]
    [InlineData("a=b", "a", "b")]
    [InlineData("bare", "", "bare")]
    [InlineData("=x", "", "x")]
    [InlineData("=a=b", "", "a=b")]
    [InlineData("a=b=c", "a", "b=c")]
    [InlineData("a=", "a", "")]
    [InlineData("", "", "")]
    [InlineData("名前=värde ✓", "名前", "värde ✓")]
    [InlineData("$(rm -rf /)", "", "$(rm -rf /)")]
    public void Parse_OneValue_SplitsAtFirstEquals(string input, string name, string value)
    {
        var parameter = Assert.Single(ParameterParser.Parse([input]));

        Assert.Equal(name, parameter.Name);
        Assert.Equal(value, parameter.Value);
    }

    [Fact]
    public void Parse_SeveralValues_KeepsOrder()
    {
        var parameters = ParameterParser.Parse(["first", "x=1", "second"]);

        Assert.Equal(["first", "1", "second"], parameters.Select(p => p.Value));
        Assert.Equal(["", "x", ""], parameters.Select(p => p.Name));
    }

    [Fact]
    public void Parse_Null_ReturnsEmpty() => Assert.Empty(ParameterParser.Parse(null));

    [Fact]
    public void ParseTags_KeyWithoutValue_GetsEmptyValue()
    {
        var tags = ParameterParser.ParseTags(["team=db", "temp", "a=b=c"]);

        Assert.Equal("db", tags["team"]);
        Assert.Equal("", tags["temp"]);
        Assert.Equal("b=c", tags["a"]);
    }

    [Fact]
    public void ParseTags_EmptyKey_ThrowsUsageError()
    {
        var e = Assert.Throws<CliException>(() => ParameterParser.ParseTags(["=x"]));

        Assert.Equal(ExitCodes.Usage, e.ExitCode);
    }
    [Fact]
    public void ParseArguments_AtFile_IsTheFilesContentLessOneTrailingNewline()
    {
        var named = Path.GetTempFileName();
        var bare = Path.GetTempFileName();
        try
        {
            File.WriteAllText(named, "token=s3cret=x\n");
            File.WriteAllText(bare, "two lines\nkept\n\n");

            var parameters = ParameterParser.ParseArguments("--protected-parameters", ["@" + named, "@" + bare, "=@literal", "k=@v"], secret: true);

            Assert.Equal(["token", "", "", "k"], parameters.Select(p => p.Name));
            Assert.Equal(["s3cret=x", "two lines\nkept\n", "@literal", "@v"], parameters.Select(p => p.Value));
        }
        finally
        {
            File.Delete(named);
            File.Delete(bare);
        }
    }

    [Fact]
    public void ParseArguments_SecretFileMissing_IsUsageErrorNamingThePositionNotThePath()
    {
        var e = Assert.Throws<CliException>(() => ParameterParser.ParseArguments("--protected-parameters", ["a=1", "@Pa55word"], secret: true));

        Assert.Equal(ExitCodes.Usage, e.ExitCode);
        Assert.StartsWith("--protected-parameters: the file given after '@' in item 2 does not exist", e.Message);
        Assert.DoesNotContain("Pa55word", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ParseArguments_SecretFileUnreadable_IsUsageErrorWithoutThePath()
    {
        var directory = Directory.CreateTempSubdirectory().FullName;
        try
        {
            var e = Assert.Throws<CliException>(() => ParameterParser.ParseArguments("--protected-parameters", ["@" + directory], secret: true));

            Assert.Equal(ExitCodes.Usage, e.ExitCode);
            Assert.StartsWith("--protected-parameters: the file given after '@' in item 1 ", e.Message);
            Assert.DoesNotContain(directory, e.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(directory);
        }
    }
}
