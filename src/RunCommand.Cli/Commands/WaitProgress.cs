using System.Diagnostics;
using RunCommand.Client;
using RunCommand.Contracts.Arm;

namespace RunCommand.Cli.Commands;

/// <summary>
/// No silent waits: while <c>create</c>/<c>update</c> waits for a run, each change of its state (Pending, Running)
/// and of the server's message (e.g. "Waiting for the agent ...: it is disconnected") is printed on stderr with the
/// time waited so far, whatever the output format; an unchanged state is repeated once a minute.
/// </summary>
internal sealed class WaitProgress(RunCommandClient client, RunCommandRef target, TextWriter progress)
{
    /// <summary>How long one long poll of the operation may wait before the state is checked again.</summary>
    public const int PollSeconds = 5;

    private static readonly TimeSpan RepeatAfter = TimeSpan.FromMinutes(1);

    private readonly Stopwatch _elapsed = Stopwatch.StartNew();
    private string? _last;
    private TimeSpan _lastPrinted;

    /// <summary>Reads the run's instance view and prints its state when it changed (or a minute went by).</summary>
    public async Task ReportAsync(CancellationToken cancellationToken)
    {
        RunCommandResource resource;
        try
        {
            resource = await client.GetAsync(target, expandInstanceView: true, cancellationToken);
        }
        catch (ArmRequestException)
        {
            return; // progress is best effort: the wait itself reports what matters
        }

        var view = resource.Properties?.InstanceView;
        var state = view?.ExecutionState ?? resource.Properties?.ProvisioningState ?? "Unknown";
        if (ExecutionStates.IsTerminal(state))
        {
            return; // the result itself follows
        }

        var line = string.IsNullOrEmpty(view?.ExecutionMessage) ? state : $"{state}: {view.ExecutionMessage}";
        if (line == _last && _elapsed.Elapsed - _lastPrinted < RepeatAfter)
        {
            return;
        }

        await progress.WriteLineAsync($"[{Format(_elapsed.Elapsed)}] {(line == _last ? "still " : "")}{line}");
        await progress.FlushAsync(cancellationToken);
        (_last, _lastPrinted) = (line, _elapsed.Elapsed);
    }

    public static string Format(TimeSpan elapsed) => elapsed.TotalMinutes >= 1
        ? $"{(int)elapsed.TotalMinutes}m{elapsed.Seconds:00}s"
        : $"{elapsed.Seconds}s";
}
