using RunCommand.Server.Auth;

namespace RunCommand.Server.Tests;

public sealed class ActionPatternTests
{
    [Theory]
    [InlineData("*", "Microsoft.Compute/virtualMachines/runCommands/write", true)]
    [InlineData("*/read", "Microsoft.Compute/virtualMachines/runCommands/read", true)]
    [InlineData("*/read", "Microsoft.Compute/virtualMachines/runCommands/write", false)]
    [InlineData("Microsoft.Compute/*", "microsoft.compute/virtualMachines/runCommand/action", true)]
    [InlineData("Microsoft.Compute/virtualMachines/runCommands/read", "Microsoft.Compute/virtualMachines/runCommands/read", true)]
    [InlineData("Microsoft.Compute/virtualMachines/runCommands/read", "Microsoft.Compute/virtualMachines/runCommands/readx", false)]
    [InlineData("Microsoft.Authorization/*/write", "Microsoft.Authorization/roleAssignments/write", true)]
    [InlineData("Microsoft.Compute/virtualMachines/*", "Microsoft.Compute/virtualMachineScaleSets/read", false)]
    public void Matches_Pattern_AsArmDoes(string pattern, string action, bool expected) =>
        Assert.Equal(expected, ActionPattern.Matches(pattern, action));

    [Theory]
    [InlineData("Owner", "Microsoft.Authorization/roleAssignments/write", true)]
    [InlineData("Contributor", "Microsoft.Authorization/roleAssignments/write", false)]
    [InlineData("Contributor", "Microsoft.Authorization/tokens/write", false)]
    [InlineData("Contributor", "Microsoft.Compute/virtualMachines/runCommands/write", true)]
    [InlineData("Reader", "Microsoft.Compute/virtualMachines/runCommands/write", false)]
    [InlineData("Reader", "Microsoft.Insights/eventtypes/values/read", true)]
    [InlineData("Virtual Machine Contributor", "Microsoft.Compute/virtualMachines/runCommand/action", true)]
    [InlineData("Virtual Machine Contributor", "Microsoft.Compute/locations/runCommands/read", true)]
    [InlineData("Virtual Machine Contributor", "Microsoft.Authorization/roleAssignments/write", false)]
    public void Grants_BuiltInRole_AsAzureDoes(string roleName, string action, bool expected) =>
        Assert.Equal(expected, ActionPattern.Grants(BuiltInRoles.All.Single(r => r.RoleName == roleName), action));

    [Theory]
    [InlineData("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm", "/", true)]
    [InlineData("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm", "/subscriptions/S/resourcegroups/RG", true)]
    [InlineData("/subscriptions/s/resourceGroups/rg2/providers/Microsoft.Compute/virtualMachines/vm", "/subscriptions/s/resourceGroups/rg", false)]
    [InlineData("/subscriptions/s/resourceGroups/rg", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm", false)]
    public void IsAtOrBelow_Scope_InheritsDownwardsOnly(string target, string scope, bool expected) =>
        Assert.Equal(expected, ActionPattern.IsAtOrBelow(target, scope));
}
