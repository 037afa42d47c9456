namespace RunCommand.Storage;

/// <summary>
/// What a goal-state poll answers, read on one snapshot: the machine's goal-state version, every execution the server
/// does not hold as finished (oldest first) and the executions whose files the agent is to forget.
/// </summary>
public sealed record GoalStateAnswer(long Version, IReadOnlyList<PendingWork> Work, IReadOnlyList<string> Forget);
