using RunCommand.Cli;
using RunCommand.Cli.Commands;

namespace RunCommand.Cli.Tests;

public sealed class AuthCommandsTests
{
    [Theory]
    [InlineData("30d", 30 * 24 * 3600)]
    [InlineData("12h", 12 * 3600)]
    [InlineData("45m", 45 * 60)]
    [InlineData("90s", 90)]
    [InlineData("7", 7 * 24 * 3600)]
    public void ParseDuration_AzStyle_GivesTheSpan(string text, int seconds) =>
        Assert.Equal(TimeSpan.FromSeconds(seconds), AuthCommands.ParseDuration(text));

    [Theory]
    [InlineData("soon")]
    [InlineData("-1d")]
    [InlineData("3w")]
    public void ParseDuration_Nonsense_IsAUsageError(string text) =>
        Assert.Equal(ExitCodes.Usage, Assert.Throws<CliException>(() => AuthCommands.ParseDuration(text)).ExitCode);

    [Fact]
    public void ParseRoleDefinition_AzJson_MapsNamesActionsAndScopes()
    {
        var role = AuthCommands.ParseRoleDefinition("""
            {"Name":"Runner","Description":"d","Actions":["Microsoft.Compute/virtualMachines/runCommands/*"],
             "NotActions":["Microsoft.Compute/virtualMachines/runCommands/delete"],"AssignableScopes":["/subscriptions/s"]}
            """);

        Assert.Equal("Runner", role.RoleName);
        Assert.Equal(["Microsoft.Compute/virtualMachines/runCommands/*"], role.Permissions![0].Actions!);
        Assert.Equal(["Microsoft.Compute/virtualMachines/runCommands/delete"], role.Permissions[0].NotActions!);
        Assert.Equal(["/subscriptions/s"], role.AssignableScopes!);
    }

    [Fact]
    public void ParseRoleDefinition_NotJson_IsAUsageError() =>
        Assert.Equal(ExitCodes.Usage, Assert.Throws<CliException>(() => AuthCommands.ParseRoleDefinition("{nope")).ExitCode);
}
