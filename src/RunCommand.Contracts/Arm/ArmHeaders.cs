namespace RunCommand.Contracts.Arm;

/// <summary>Response headers RunCommand adds to ARM's.</summary>
public static class ArmHeaders
{
    /// <summary>
    /// "true" on the answer to a PUT or PATCH that changed nothing (same script, parameters and settings as the run
    /// command already has): nothing runs again, and the operation URL is the earlier run's.
    /// </summary>
    public const string Unchanged = "x-runcommand-unchanged";
}
