using System.Text.RegularExpressions;
using RunCommand.Storage;

namespace RunCommand.Server.Auth;

/// <summary>The action names of every API, as Azure spells them, so roles read the same as in Azure.</summary>
public static class Actions
{
    public const string RunCommandsRead = "Microsoft.Compute/virtualMachines/runCommands/read";
    public const string RunCommandsWrite = "Microsoft.Compute/virtualMachines/runCommands/write";
    public const string RunCommandsDelete = "Microsoft.Compute/virtualMachines/runCommands/delete";
    public const string RunCommandAction = "Microsoft.Compute/virtualMachines/runCommand/action";
    public const string VirtualMachinesRead = "Microsoft.Compute/virtualMachines/read";
    public const string VirtualMachinesWrite = "Microsoft.Compute/virtualMachines/write";
    public const string ScaleSetsRead = "Microsoft.Compute/virtualMachineScaleSets/read";
    public const string ScaleSetVirtualMachinesRead = "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/read";
    public const string ScaleSetRunCommandsRead = "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommands/read";
    public const string ScaleSetRunCommandsWrite = "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommands/write";
    public const string ScaleSetRunCommandsDelete = "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommands/delete";
    public const string ScaleSetRunCommandAction = "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommand/action";
    public const string FleetRunsRead = "RunCommand.Fleet/runs/read";
    public const string FleetRunsWrite = "RunCommand.Fleet/runs/write";
    public const string FleetRunsCancel = "RunCommand.Fleet/runs/cancel/action";

    /// <summary>RunCommand extension: cut a VM's agent off (its credential is deleted).</summary>
    public const string RevokeAgent = "Microsoft.Compute/virtualMachines/revokeAgent/action";

    /// <summary>RunCommand extension: enrollment tokens for agents of a resource group.</summary>
    public const string EnrollmentTokensRead = "Microsoft.Compute/agentEnrollmentTokens/read";
    public const string EnrollmentTokensWrite = "Microsoft.Compute/agentEnrollmentTokens/write";
    public const string EnrollmentTokensDelete = "Microsoft.Compute/agentEnrollmentTokens/delete";
    public const string DocumentsRead = "Microsoft.Compute/locations/runCommands/read";
    public const string DocumentsWrite = "Microsoft.Compute/locations/runCommands/write";
    public const string DocumentsDelete = "Microsoft.Compute/locations/runCommands/delete";
    public const string OperationsRead = "Microsoft.Compute/locations/operations/read";
    public const string RoleDefinitionsRead = "Microsoft.Authorization/roleDefinitions/read";
    public const string RoleDefinitionsWrite = "Microsoft.Authorization/roleDefinitions/write";
    public const string RoleDefinitionsDelete = "Microsoft.Authorization/roleDefinitions/delete";
    public const string RoleAssignmentsRead = "Microsoft.Authorization/roleAssignments/read";
    public const string RoleAssignmentsWrite = "Microsoft.Authorization/roleAssignments/write";
    public const string RoleAssignmentsDelete = "Microsoft.Authorization/roleAssignments/delete";
    public const string PrincipalsRead = "Microsoft.Authorization/principals/read";
    public const string PrincipalsWrite = "Microsoft.Authorization/principals/write";
    public const string PrincipalsDelete = "Microsoft.Authorization/principals/delete";
    public const string TokensRead = "Microsoft.Authorization/tokens/read";
    public const string TokensWrite = "Microsoft.Authorization/tokens/write";
    public const string TokensDelete = "Microsoft.Authorization/tokens/delete";
    public const string ActivityLogRead = "Microsoft.Insights/eventtypes/values/read";
    public const string DeploymentsRead = "Microsoft.Resources/deployments/read";
    public const string DeploymentsWrite = "Microsoft.Resources/deployments/write";
    public const string DeploymentsDelete = "Microsoft.Resources/deployments/delete";
    public const string DeploymentsCancel = "Microsoft.Resources/deployments/cancel/action";
}

/// <summary>The built-in roles, with Azure's role definition GUIDs.</summary>
public static class BuiltInRoles
{
    public static readonly RoleDefinitionRecord Owner = new()
    {
        Id = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
        RoleName = "Owner",
        Description = "Grants full access to manage all resources, including assigning roles.",
        Actions = ["*"],
        AssignableScopes = ["/"],
    };

    public static readonly RoleDefinitionRecord Contributor = new()
    {
        Id = "b24988ac-6180-42a0-ab88-20f7382dd24c",
        RoleName = "Contributor",
        Description = "Grants full access to manage all resources, but does not allow you to assign roles, manage principals or tokens.",
        Actions = ["*"],
        NotActions = ["Microsoft.Authorization/*/write", "Microsoft.Authorization/*/delete"],
        AssignableScopes = ["/"],
    };

    public static readonly RoleDefinitionRecord Reader = new()
    {
        Id = "acdd72a7-3385-48ef-bd42-f606fba81ae7",
        RoleName = "Reader",
        Description = "View all resources, but does not allow you to make any changes.",
        Actions = ["*/read"],
        AssignableScopes = ["/"],
    };

    public static readonly RoleDefinitionRecord VirtualMachineContributor = new()
    {
        Id = "9980e02c-c2be-4d73-94e8-173b1dc7cf3c",
        RoleName = "Virtual Machine Contributor",
        Description = "Manage virtual machines and their run commands, but not access to them or role assignments.",
        Actions = ["Microsoft.Compute/virtualMachines/*", "Microsoft.Compute/virtualMachineScaleSets/*", "Microsoft.Compute/locations/*",
            "Microsoft.Authorization/*/read", "Microsoft.Resources/deployments/*", "RunCommand.Fleet/*"],
        AssignableScopes = ["/"],
    };

    public static IReadOnlyList<RoleDefinitionRecord> All { get; } = [Owner, Contributor, Reader, VirtualMachineContributor];

    public static bool IsBuiltIn(string id) => All.Any(r => string.Equals(r.Id, id, StringComparison.OrdinalIgnoreCase));
}

/// <summary>ARM action matching: '*' matches any run of characters (including '/'), case-insensitive.</summary>
public static class ActionPattern
{
    public static bool Matches(string pattern, string action)
    {
        if (pattern == "*")
        {
            return true;
        }

        if (!pattern.Contains('*', StringComparison.Ordinal))
        {
            return string.Equals(pattern, action, StringComparison.OrdinalIgnoreCase);
        }

        var regex = "^" + string.Join(".*", pattern.Split('*').Select(Regex.Escape)) + "$";
        return Regex.IsMatch(action, regex, RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(100));
    }

    /// <summary>True when the role grants the action: some action pattern matches and no notAction does.</summary>
    public static bool Grants(RoleDefinitionRecord role, string action) =>
        role.Actions.Any(p => Matches(p, action)) && !role.NotActions.Any(p => Matches(p, action));

    /// <summary>True when <paramref name="target"/> is <paramref name="scope"/> or below it (segment-wise, case-insensitive).</summary>
    public static bool IsAtOrBelow(string target, string scope)
    {
        var s = scope.TrimEnd('/');
        if (s.Length == 0)
        {
            return true;
        }

        var t = target.TrimEnd('/');
        return t.Equals(s, StringComparison.OrdinalIgnoreCase)
            || (t.Length > s.Length && t.StartsWith(s, StringComparison.OrdinalIgnoreCase) && t[s.Length] == '/');
    }
}
