using System.Net;
using RunCommand.Agent.Protocol;

namespace RunCommand.Agent.Tests;

/// <summary>The agent's back-off (docs/agent-protocol.md, "When the server is away or busy"): full jitter, reset, Retry-After.</summary>
public sealed class BackoffTests
{
    private static readonly TimeSpan Initial = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan Max = TimeSpan.FromSeconds(15);

    [Fact]
    public void Next_EachAttempt_IsWithinZeroAndTheDoublingCeilingCappedAtMax()
    {
        for (var sample = 0; sample < 200; sample++)
        {
            var backoff = new Backoff(Initial, Max);
            for (var attempt = 0; attempt < 12; attempt++)
            {
                var ceiling = TimeSpan.FromMilliseconds(Math.Min(Initial.TotalMilliseconds * Math.Pow(2, attempt), Max.TotalMilliseconds));
                var delay = backoff.Next();
                Assert.InRange(delay, TimeSpan.Zero, ceiling);
            }
        }
    }

    [Fact]
    public void Next_FullJitter_SpreadsOverTheWholeWindowNotItsUpperHalf()
    {
        // 400 draws of the capped wait: uniform over [0, 15 s), so both halves (and the lowest tenth) are hit.
        var delays = Enumerable.Range(0, 400).Select(_ =>
        {
            var backoff = new Backoff(Initial, Max);
            for (var attempt = 0; attempt < 10; attempt++)
            {
                backoff.Next();
            }

            return backoff.Next();
        }).ToList();

        Assert.Contains(delays, d => d < TimeSpan.FromSeconds(1.5));
        Assert.Contains(delays, d => d > TimeSpan.FromSeconds(7.5));
        Assert.All(delays, d => Assert.InRange(d, TimeSpan.Zero, Max));
    }

    [Fact]
    public void Reset_AfterASuccess_StartsAgainFromTheInitialCeiling()
    {
        var backoff = new Backoff(Initial, Max);
        for (var attempt = 0; attempt < 10; attempt++)
        {
            backoff.Next();
        }

        backoff.Reset();
        for (var sample = 0; sample < 50; sample++)
        {
            Assert.InRange(backoff.Next(), TimeSpan.Zero, Initial);
            backoff.Reset();
        }
    }

    [Fact]
    public void Next_WithRetryAfter_WaitsAtLeastThatLongAndAtMostTwice()
    {
        var asked = TimeSpan.FromSeconds(5);
        var delays = Enumerable.Range(0, 200).Select(_ => new Backoff(Initial, Max).Next(asked)).ToList();

        Assert.All(delays, d => Assert.InRange(d, asked, asked * 2));
        // Jittered: a fleet told the same wait does not come back in the same instant.
        Assert.True(delays.Distinct().Count() > 100);
    }

    [Fact]
    public void NextAfter_ServerBusyWithRetryAfter_HonoursIt_OtherFailuresUseTheBackoff()
    {
        var backoff = new Backoff(Initial, Max);

        Assert.InRange(backoff.NextAfter(new ServerBusyException(HttpStatusCode.TooManyRequests, TimeSpan.FromSeconds(20))), TimeSpan.FromSeconds(20), TimeSpan.FromSeconds(40));
        Assert.InRange(new Backoff(Initial, Max).NextAfter(new HttpRequestException("refused")), TimeSpan.Zero, Initial);
        Assert.InRange(new Backoff(Initial, Max).NextAfter(new ServerBusyException(HttpStatusCode.ServiceUnavailable, null)), TimeSpan.Zero, Initial);
    }

    [Fact]
    public void RetryAfterOf_ReadsSecondsAndHttpDates()
    {
        var time = TimeProvider.System;
        using var seconds = new HttpResponseMessage(HttpStatusCode.TooManyRequests);
        seconds.Headers.RetryAfter = new System.Net.Http.Headers.RetryConditionHeaderValue(TimeSpan.FromSeconds(7));
        using var date = new HttpResponseMessage(HttpStatusCode.ServiceUnavailable);
        date.Headers.RetryAfter = new System.Net.Http.Headers.RetryConditionHeaderValue(time.GetUtcNow().AddSeconds(30));
        using var none = new HttpResponseMessage(HttpStatusCode.ServiceUnavailable);

        Assert.Equal(TimeSpan.FromSeconds(7), ServerBusyException.RetryAfterOf(seconds, time));
        Assert.InRange(ServerBusyException.RetryAfterOf(date, time)!.Value, TimeSpan.FromSeconds(25), TimeSpan.FromSeconds(30));
        Assert.Null(ServerBusyException.RetryAfterOf(none, time));
    }
}
