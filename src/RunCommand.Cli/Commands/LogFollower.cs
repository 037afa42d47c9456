using RunCommand.Client;
using RunCommand.Contracts.Arm;

namespace RunCommand.Cli.Commands;

/// <summary>Copies a run command's output to stdout/stderr as raw bytes (so UTF-8 split across chunks stays intact).</summary>
internal static class LogFollower
{
    /// <summary>
    /// Without <paramref name="follow"/>: everything the server holds now, exit 0. With it: long-polls until the
    /// execution has finished and all output is printed; the exit code is 0 if the script succeeded, its own exit
    /// code when it has a non-zero one, else 1.
    /// </summary>
    public static async Task<int> RunAsync(
        RunCommandClient client, RunCommandRef target, bool follow, Stream stdout, Stream stderr, CancellationToken cancellationToken)
    {
        long stdoutOffset = 0;
        long stderrOffset = 0;
        string? executionId = null;
        while (true)
        {
            var logs = await client.GetLogsAsync(
                target, stdoutOffset, stderrOffset, follow ? RunCommandClient.LongPollSeconds : 0, cancellationToken);
            if (executionId is not null && logs.ExecutionId != executionId && (stdoutOffset > 0 || stderrOffset > 0))
            {
                // The command was run again: start over with the new execution's output.
                await stderr.WriteAsync("\n--- the run command was started again; following the new execution ---\n"u8.ToArray(), cancellationToken);
                executionId = logs.ExecutionId;
                stdoutOffset = 0;
                stderrOffset = 0;
                continue;
            }

            executionId = logs.ExecutionId;
            await stdout.WriteAsync(logs.Stdout.Data, cancellationToken);
            await stderr.WriteAsync(logs.Stderr.Data, cancellationToken);
            await stdout.FlushAsync(cancellationToken);
            await stderr.FlushAsync(cancellationToken);
            stdoutOffset = logs.Stdout.NextOffset;
            stderrOffset = logs.Stderr.NextOffset;

            var drained = logs.Stdout.Data.Length == 0 && logs.Stderr.Data.Length == 0;
            if (drained && (!follow || logs.Finished))
            {
                return follow ? ExitCodeOf(logs) : ExitCodes.Success;
            }
        }
    }

    public static int ExitCodeOf(RunCommandLogs logs) => logs.ExecutionState switch
    {
        ExecutionStates.Succeeded => ExitCodes.Success,
        _ when logs.ExitCode is > 0 and < 256 => logs.ExitCode.Value,
        _ => ExitCodes.Failure,
    };
}
