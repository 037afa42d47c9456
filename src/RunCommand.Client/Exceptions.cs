using System.Net;
using System.Text;
using RunCommand.Contracts.Arm;

namespace RunCommand.Client;

/// <summary>The server answered with a non-success status; <see cref="Error"/> is its ARM error body.</summary>
public sealed class ArmRequestException : Exception
{
    public ArmRequestException(HttpStatusCode statusCode, ArmError error)
        : base(Describe(error))
    {
        StatusCode = statusCode;
        Error = error;
    }

    public HttpStatusCode StatusCode { get; }

    /// <summary>The ARM error; when the body was not ARM-shaped the code is the HTTP status name.</summary>
    public ArmError Error { get; }

    /// <summary>One line in the az style: <c>(Code) message Target: x</c>, then the details' codes and messages.</summary>
    public static string Describe(ArmError error)
    {
        var text = new StringBuilder();
        text.Append('(').Append(error.Code).Append(") ").Append(error.Message.TrimEnd());
        if (!string.IsNullOrEmpty(error.Target))
        {
            text.Append(" Target: ").Append(error.Target);
        }

        foreach (var detail in error.Details ?? [])
        {
            text.Append("; ").Append(Describe(detail));
        }

        return text.ToString();
    }
}

/// <summary>No HTTP answer at all: connection refused, DNS failure, TLS failure or a timeout.</summary>
public sealed class ServerUnreachableException : Exception
{
    public ServerUnreachableException(Uri server, string reason, Exception? inner = null)
        : base($"cannot reach the server at {server.GetLeftPart(UriPartial.Authority)}: {reason}", inner)
    {
        Server = server;
    }

    public Uri Server { get; }
}
