using System.Net;
using RunCommand.Client;
using RunCommand.Contracts.Arm;

namespace RunCommand.Cli.Tests;

public sealed class ErrorReportTests
{
    [Fact]
    public void Describe_ArmValidationError_PrintsCodeMessageAndTarget()
    {
        var error = new ArmRequestException(HttpStatusCode.BadRequest, new ArmError
        {
            Code = "InvalidParameter",
            Message = "Exactly one of script, scriptUri or commandId is required.",
            Target = "properties.source",
        });

        var (line, exitCode) = ErrorReport.Describe(error);

        Assert.Equal("ERROR: (InvalidParameter) Exactly one of script, scriptUri or commandId is required. Target: properties.source", line);
        Assert.Equal(ExitCodes.Failure, exitCode);
    }

    [Fact]
    public void Describe_NotFound_ExitsWith3LikeAz()
    {
        var (_, exitCode) = ErrorReport.Describe(new ArmRequestException(HttpStatusCode.NotFound, new ArmError { Code = "ResourceNotFound", Message = "x" }));

        Assert.Equal(ExitCodes.NotFound, exitCode);
    }

    [Fact]
    public void Describe_Unreachable_SaysWhichServer()
    {
        var (line, _) = ErrorReport.Describe(new ServerUnreachableException(new Uri("http://127.0.0.1:5080/x"), "connection refused"));

        Assert.Equal("ERROR: cannot reach the server at http://127.0.0.1:5080: connection refused", line);
    }

    [Fact]
    public void Describe_UsageError_ExitsWith2()
    {
        var (line, exitCode) = ErrorReport.Describe(CliException.Usage("bad"));

        Assert.Equal("ERROR: bad", line);
        Assert.Equal(ExitCodes.Usage, exitCode);
    }

    [Fact]
    public void Describe_UnexpectedException_IsOneLineWithoutStackTrace()
    {
        var (line, exitCode) = ErrorReport.Describe(new InvalidOperationException("boom"));

        Assert.DoesNotContain('\n', line);
        Assert.StartsWith("ERROR: unexpected InvalidOperationException: boom", line);
        Assert.Equal(ExitCodes.Failure, exitCode);
    }
}
