using System.Net;
using RunCommand.Client;

namespace RunCommand.Cli;

/// <summary>Turns any failure into the single line the user sees and the exit code.</summary>
internal static class ErrorReport
{
    public static (string Line, int ExitCode) Describe(Exception exception) => exception switch
    {
        CliException e => ($"ERROR: {e.Message}", e.ExitCode),
        ArmRequestException { StatusCode: HttpStatusCode.NotFound } e => ($"ERROR: {e.Message}", ExitCodes.NotFound),
        ArmRequestException { StatusCode: HttpStatusCode.Unauthorized } e =>
            ($"ERROR: {e.Message} (the saved token was refused: run ./runcmd login again)", ExitCodes.Failure),
        ArmRequestException e => ($"ERROR: {e.Message}", ExitCodes.Failure),
        ServerUnreachableException e => ($"ERROR: {e.Message}", ExitCodes.Failure),
        OperationCanceledException => ("ERROR: interrupted (what was already sent to the server goes on there)", ExitCodes.Interrupted),
        IOException or UnauthorizedAccessException => ($"ERROR: {exception.Message}", ExitCodes.Failure),
        _ => ($"ERROR: unexpected {exception.GetType().Name}: {exception.Message} (set RUNCMD_DEBUG=1 for details)", ExitCodes.Failure),
    };
}
