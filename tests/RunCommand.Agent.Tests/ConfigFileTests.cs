using RunCommand.Contracts;

namespace RunCommand.Agent.Tests;

/// <summary>The packages' config files (/etc/runcmd/*.conf) as the agent and the server read them.</summary>
public sealed class ConfigFileTests : IDisposable
{
    private readonly string _file = Path.GetTempFileName();

    [Fact]
    public void Expand_FileSettings_BecomeOptionsAndCommandLineWins()
    {
        File.WriteAllLines(_file, ["# comment", "", "server = https://cp:5080", "vm-name = from-file", "tags = a=1", "tags = b=2"]);

        var args = ConfigFile.Expand(["--vm-name", "from-args", "--config", _file]);

        Assert.Equal(["--server", "https://cp:5080", "--tags", "a=1", "--tags", "b=2", "--vm-name", "from-args"], args);
    }

    [Fact]
    public void Expand_NoConfigOption_ReturnsArgumentsUnchanged()
    {
        string[] args = ["--server", "x"];
        Assert.Same(args, ConfigFile.Expand(args));
    }

    [Theory]
    [InlineData("server https://cp")]
    [InlineData("--server = https://cp")]
    [InlineData("= value")]
    public void Expand_MalformedLine_FailsNamingTheLine(string line)
    {
        File.WriteAllLines(_file, ["# ok", line]);
        var error = Assert.Throws<FormatException>(() => ConfigFile.Expand(["--config", _file]));
        Assert.Contains("line 2", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Expand_MissingFile_FailsWithItsName()
    {
        var error = Assert.Throws<FormatException>(() => ConfigFile.Expand(["--config", "/nonexistent/agent.conf"]));
        Assert.Contains("/nonexistent/agent.conf", error.Message, StringComparison.Ordinal);
    }

    public void Dispose() => File.Delete(_file);
}
