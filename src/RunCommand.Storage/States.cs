namespace RunCommand.Storage;

/// <summary>Where an execution is in its life; the wire spelling is the member name (<c>ExecutionStates</c> of the contract).</summary>
public enum ExecutionState
{
    /// <summary>Accepted by the server; the agent has not reported it started.</summary>
    Pending,
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Canceled,
}

/// <summary>Provisioning state of a deployment and of each of its operations.</summary>
public enum DeploymentState
{
    /// <summary>Recorded, no operation started yet.</summary>
    Accepted,
    Running,
    Succeeded,
    Failed,
    Canceled,
}

/// <summary>Lifecycle of a fleet run as a whole.</summary>
public enum FleetRunState
{
    /// <summary>Targets are still starting or running.</summary>
    Running,

    /// <summary>Every target ran and succeeded (exit code 0).</summary>
    Succeeded,

    /// <summary>Every target that started has ended, and at least one failed (or some were not started after too many errors).</summary>
    Failed,

    /// <summary>A cancel was asked: running targets were stopped, the rest never started.</summary>
    Canceled,
}

/// <summary>What an asynchronous operation tracks.</summary>
public enum OperationKind
{
    /// <summary>A PUT or PATCH of a run command: done when its execution has ended.</summary>
    Put,

    /// <summary>A DELETE of a run command: done when the resource is gone.</summary>
    Delete,

    /// <summary>An action-style run (<see cref="ActionRunWrite"/>): done when its execution has ended.</summary>
    Action,
}

/// <summary>Kinds of <see cref="PrincipalRecord"/>; the wire spelling (<c>principalType</c>) is the member name.</summary>
public enum PrincipalKind
{
    User,
    ServicePrincipal,
}

/// <summary>The rules of the states: which are final and which moves are allowed. Every backend relies on these, none re-implements them.</summary>
public static class StateRules
{
    /// <summary>True for states an execution never leaves.</summary>
    public static bool IsTerminal(this ExecutionState state) =>
        state is ExecutionState.Succeeded or ExecutionState.Failed or ExecutionState.TimedOut or ExecutionState.Canceled;

    /// <summary>
    /// Whether a report may move an execution from <paramref name="from"/> to <paramref name="to"/>: only forward
    /// (Pending to anything later, Running to a terminal state), never out of a terminal state, never back.
    /// </summary>
    public static bool CanMove(ExecutionState from, ExecutionState to) =>
        from switch
        {
            ExecutionState.Pending => to != ExecutionState.Pending,
            ExecutionState.Running => to.IsTerminal(),
            _ => false,
        };

    public static bool IsTerminal(this DeploymentState state) =>
        state is DeploymentState.Succeeded or DeploymentState.Failed or DeploymentState.Canceled;

    public static bool IsTerminal(this FleetRunState state) => state != FleetRunState.Running;

    /// <summary>Parses a state's wire spelling (exactly a member name, e.g. "Succeeded"); false for anything else, numbers included.</summary>
    public static bool TryParseName<TEnum>(string? wire, out TEnum value)
        where TEnum : struct, Enum
    {
        foreach (var candidate in Enum.GetValues<TEnum>())
        {
            if (candidate.ToString() == wire)
            {
                value = candidate;
                return true;
            }
        }

        value = default;
        return false;
    }
}
