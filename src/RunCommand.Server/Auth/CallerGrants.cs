using RunCommand.Storage;

namespace RunCommand.Server.Auth;

/// <summary>
/// What one caller may do, loaded once: a view that aggregates many machines (a fleet run, a deployment, the activity
/// log, a scale set) asks it about each row without a database read per row.
/// </summary>
public sealed class CallerGrants
{
    private readonly Caller _caller;
    private readonly IReadOnlyList<RoleAssignmentRecord> _assignments;
    private readonly IReadOnlyDictionary<string, RoleDefinitionRecord> _roles;

    public CallerGrants(Caller caller, IReadOnlyList<RoleAssignmentRecord> assignments, IReadOnlyDictionary<string, RoleDefinitionRecord> roles)
    {
        _caller = caller;
        _assignments = assignments;
        _roles = roles;
    }

    public bool IsAllowed(string action, string scope)
    {
        if (_caller.Kind == Caller.Admin)
        {
            return true;
        }

        return _caller.PrincipalId is not null && _assignments.Any(a => ActionPattern.IsAtOrBelow(scope, a.Scope)
            && _roles.TryGetValue(a.RoleDefinitionId, out var role) && ActionPattern.Grants(role, action));
    }

    /// <summary>
    /// True when the caller may read the machine's run commands (their states and output) directly; a view that
    /// aggregates machines shows a machine's row only then, so it never reveals more than the machine's own API would.
    /// </summary>
    public bool CanReadMachine(VmKey machine) =>
        IsAllowed(machine.IsScaleSetInstance ? Actions.ScaleSetRunCommandsRead : Actions.RunCommandsRead, machine.ResourceId);

    /// <summary>True when the caller holds the action at any scope at all (an aggregated view is then filtered row by row).</summary>
    public bool HoldsAnywhere(string action) =>
        _caller.Kind == Caller.Admin
        || _assignments.Any(a => _roles.TryGetValue(a.RoleDefinitionId, out var role) && ActionPattern.Grants(role, action));
}
