using RunCommand.Contracts;
using RunCommand.Server.Hosting;

namespace RunCommand.Server.Tests;

public sealed class ServerCommandLineTests
{
    private static readonly Dictionary<string, string> Switches = new()
    {
        ["--urls"] = "urls",
        ["--data-dir"] = "RunCommand:DataDir",
        ["--max-run-commands-per-vm"] = "RunCommand:MaxRunCommandsPerVm",
    };

    [Fact]
    public void FindError_MisspeltOption_NamesItAndTheNearestValidOne()
    {
        var error = ServerCommandLine.FindError(["--data-dir", "/tmp/x", "--max-run-comands-per-vm", "3"], Switches);

        Assert.Equal("unknown option '--max-run-comands-per-vm'; did you mean '--max-run-commands-per-vm'? (see --help)", error);
    }

    [Fact]
    public void FindError_UnknownOptionFarFromAny_NamesItWithoutAGuess() =>
        Assert.Equal("unknown option '--frobnicate' (see --help)", ServerCommandLine.FindError(["--frobnicate", "1"], Switches));

    [Fact]
    public void FindError_UnknownSettingKey_IsRefused() =>
        Assert.StartsWith("unknown option '--RunCommand:MaxRunComandsPerVm'", ServerCommandLine.FindError(["--RunCommand:MaxRunComandsPerVm", "3"], Switches));

    [Theory]
    [InlineData("--urls", "http://127.0.0.1:1", "--data-dir", "/tmp/x")]
    [InlineData("--urls=http://127.0.0.1:1", "--MAX-RUN-COMMANDS-PER-VM", "3")]
    [InlineData("--RunCommand:AgentPresenceWindow", "00:00:10", "--runcommand:durablecommits=true")]
    public void FindError_KnownOptionsAndSettings_AreAccepted(params string[] args) =>
        Assert.Null(ServerCommandLine.FindError(args, Switches));

    [Fact]
    public void FindError_StrayArgument_IsRefused() =>
        Assert.StartsWith("unexpected argument 'serve'", ServerCommandLine.FindError(["serve"], Switches));

    [Fact]
    public void FindError_OptionWithoutValue_IsRefused() =>
        Assert.Equal("option '--data-dir' needs a value", ServerCommandLine.FindError(["--data-dir", "--urls", "http://x"], Switches));

    [Theory]
    [InlineData("--resource-grup", "--resource-group")]
    [InlineData("--vm-nam", "--vm-name")]
    [InlineData("--zzzzzzzz", null)]
    public void Nearest_Typo_FindsTheOptionMeant(string given, string? expected) =>
        Assert.Equal(expected, OptionSuggestion.Nearest(given, ["--resource-group", "--vm-name", "--vmss-name", "--server"]));
}
