using Microsoft.Extensions.Time.Testing;
using RunCommand.Server.Hosting;

namespace RunCommand.Server.Tests.Hosting;

/// <summary>Long waits share one timer per second of due time; none ends early, none more than a second late.</summary>
public sealed class SharedDeadlinesTests
{
    private static readonly TimeSpan Poll = TimeSpan.FromMinutes(5);

    [Fact]
    public void LongWaitsDueInTheSameSecond_ShareOneTimer_LaterSecondsGetTheirOwn()
    {
        var time = new FakeTimeProvider();
        var deadlines = new SharedDeadlines(time);

        var first = deadlines.After(Poll, CancellationToken.None);
        time.Advance(TimeSpan.FromMilliseconds(1));
        var sameSecond = deadlines.After(Poll, CancellationToken.None);
        time.Advance(TimeSpan.FromSeconds(1));
        var nextSecond = deadlines.After(Poll, CancellationToken.None);

        Assert.Same(first, sameSecond);
        Assert.NotSame(first, nextSecond);
        Assert.Equal(2, deadlines.Pending);
    }

    [Fact]
    public void SharedDeadline_EndsAfterItsTime_AtMostASecondLate_AndIsForgotten()
    {
        var time = new FakeTimeProvider();
        time.Advance(TimeSpan.FromMilliseconds(300));
        var deadlines = new SharedDeadlines(time);
        var wait = deadlines.After(Poll, CancellationToken.None);

        time.Advance(Poll - TimeSpan.FromMilliseconds(1));
        Assert.False(wait.IsCompleted, "a shared deadline ended before its time");
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(wait.IsCompletedSuccessfully, "a shared deadline ended more than a second after its time");
        Assert.Equal(0, deadlines.Pending);
    }

    [Fact]
    public void ShortWait_HasItsOwnExactTimer_CancelledWithItsToken()
    {
        var time = new FakeTimeProvider();
        var deadlines = new SharedDeadlines(time);
        var shortWait = TimeSpan.FromSeconds(2);
        var exact = deadlines.After(shortWait, CancellationToken.None);
        using var cancel = new CancellationTokenSource();
        var cancelled = deadlines.After(shortWait, cancel.Token);

        Assert.Equal(0, deadlines.Pending);
        Assert.NotSame(exact, cancelled);
        cancel.Cancel();
        Assert.True(cancelled.IsCanceled);
        time.Advance(shortWait - TimeSpan.FromMilliseconds(1));
        Assert.False(exact.IsCompleted);
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(exact.IsCompletedSuccessfully);
    }

    [Fact]
    public void ManyPollsOverAMinute_HoldAboutOneTimerASecond()
    {
        var time = new FakeTimeProvider();
        var deadlines = new SharedDeadlines(time);
        // 10,000 agents whose polls began over one minute, as a fleet enrolls: 60 timers, not 10,000.
        var waits = new List<Task>();
        for (var i = 0; i < 10_000; i++)
        {
            waits.Add(deadlines.After(Poll, CancellationToken.None));
            time.Advance(TimeSpan.FromMilliseconds(6));
        }

        Assert.InRange(deadlines.Pending, 60, 61);
        time.Advance(Poll + TimeSpan.FromSeconds(1));
        Assert.All(waits, w => Assert.True(w.IsCompletedSuccessfully));
        Assert.Equal(0, deadlines.Pending);
    }
}
