namespace RunCommand.Server.Tests;

/// <summary>A clock the test sets: time is moved, never waited for.</summary>
internal sealed class ManualTime(DateTimeOffset now) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = now;

    public override DateTimeOffset GetUtcNow() => Now;
}
