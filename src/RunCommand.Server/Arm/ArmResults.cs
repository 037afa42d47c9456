using RunCommand.Contracts;
using RunCommand.Contracts.Arm;

namespace RunCommand.Server.Arm;

/// <summary>ARM-shaped responses: every error has the <c>{"error":{code,message,target,details}}</c> body.</summary>
public static class ArmResults
{
    public static IResult Error(int status, string code, string message, string? target = null) =>
        Results.Json(new ArmErrorResponse { Error = new ArmError { Code = code, Message = message, Target = target } },
            ContractsJsonContext.Default.ArmErrorResponse, statusCode: status);

    /// <summary>All validation errors at once: the first is the headline, every one is in details.</summary>
    public static IResult Validation(IReadOnlyList<ArmError> errors) =>
        Results.Json(new ArmErrorResponse { Error = Combine(errors) }, ContractsJsonContext.Default.ArmErrorResponse, statusCode: StatusCodes.Status400BadRequest);

    /// <summary>One error carrying several: the first is the headline, every one is in details.</summary>
    public static ArmError Combine(IReadOnlyList<ArmError> errors)
    {
        var headline = errors[0];
        return errors.Count == 1
            ? headline
            : new ArmError
            {
                Code = headline.Code,
                Message = $"{errors.Count} errors: " + string.Join(" ", errors.Select(e => e.Message)),
                Target = headline.Target,
                Details = errors,
            };
    }

    public static IResult NotFound(string message) => Error(StatusCodes.Status404NotFound, "ResourceNotFound", message);

    public static IResult Conflict(string code, string message, string? target = null) => Error(StatusCodes.Status409Conflict, code, message, target);
}

/// <summary>Thrown by request parsing to answer with a 4xx ARM error instead of running the handler.</summary>
public sealed class ArmRequestException : Exception
{
    public ArmRequestException(int status, string code, string message, string? target = null)
        : base(message)
    {
        Status = status;
        Code = code;
        Target = target;
    }

    public ArmRequestException(IReadOnlyList<ArmError> errors)
        : base(errors[0].Message)
    {
        Status = StatusCodes.Status400BadRequest;
        Code = errors[0].Code;
        Errors = errors;
    }

    public int Status { get; }

    public string Code { get; }

    public string? Target { get; }

    public IReadOnlyList<ArmError>? Errors { get; }

    /// <summary>The error as it appears in an ARM error body.</summary>
    public ArmError ToError() => Errors is not null ? ArmResults.Combine(Errors) : new ArmError { Code = Code, Message = Message, Target = Target };

    public IResult ToResult() => Errors is not null ? ArmResults.Validation(Errors) : ArmResults.Error(Status, Code, Message, Target);
}
