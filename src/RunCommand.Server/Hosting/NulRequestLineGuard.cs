using System.Buffers;
using System.Text;
using Microsoft.AspNetCore.Connections;
using RunCommand.Contracts;
using RunCommand.Contracts.Arm;

namespace RunCommand.Server.Hosting;

/// <summary>
/// Kestrel refuses a request line holding a NUL byte (raw, or as <c>%00</c> in the path) with its own bare 400 before
/// any middleware runs (a raw NUL anywhere in the line is an invalid character; <c>%00</c> fails its path decoding), so
/// <see cref="HttpLimits"/> never sees it. This connection middleware looks at the first
/// request line of each plain-text HTTP/1.x connection before Kestrel parses it and answers such a request itself:
/// the ARM error <c>InvalidRequestUri</c> with the security headers, then closes. Anything else (a TLS handshake, a
/// line without NUL, HTTP/2) passes untouched. Limit: a NUL in a later request of a keep-alive connection still
/// meets Kestrel's bare 400 (finding request boundaries would mean parsing HTTP here).
/// </summary>
public static class NulRequestLineGuard
{
    /// <summary>The message of the refusal.</summary>
    public const string Message = "The request path holds a NUL character.";

    private const byte TlsHandshake = 0x16;

    /// <summary>
    /// Longest wait for the first line (Kestrel's own request-headers timeout): a client that sends no line end by then
    /// is handed to Kestrel, whose timeouts deal with it, rather than held here.
    /// </summary>
    public static readonly TimeSpan FirstLineWait = TimeSpan.FromSeconds(30);

    public static ConnectionDelegate Wrap(ConnectionDelegate next) => async connection =>
    {
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(connection.ConnectionClosed);
        wait.CancelAfter(FirstLineWait);
        bool refuse;
        try
        {
            refuse = await HoldsNulAsync(connection.Transport.Input, wait.Token);
        }
        catch (OperationCanceledException)
        {
            refuse = false;
        }

        if (refuse)
        {
            await RefuseAsync(connection.Transport.Output, connection.ConnectionClosed);
            return;
        }

        await next(connection);
    };

    /// <summary>
    /// Reads (without consuming) up to the end of the first line; true when it holds a NUL byte or <c>%00</c>. Whatever
    /// it read is left for Kestrel, which gets it at once (nothing marked examined).
    /// </summary>
    private static async Task<bool> HoldsNulAsync(System.IO.Pipelines.PipeReader input, CancellationToken cancellationToken)
    {
        // A pipe refuses an examined position before the previous one, so the last answer repeats it; any byte after
        // it is unexamined, so Kestrel's first read returns at once.
        SequencePosition? examined = null;
        while (true)
        {
            var result = await input.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            var verdict = Judge(buffer);
            if (verdict is not null || result.IsCompleted || result.IsCanceled)
            {
                input.AdvanceTo(buffer.Start, examined ?? buffer.Start);
                return verdict == true;
            }

            // No whole line yet: wait for more bytes.
            input.AdvanceTo(buffer.Start, buffer.End);
            examined = buffer.End;
        }
    }

    /// <summary>True: a request line with a NUL; false: pass on; null: read more.</summary>
    private static bool? Judge(ReadOnlySequence<byte> buffer)
    {
        if (buffer.IsEmpty)
        {
            return null;
        }

        if (buffer.FirstSpan[0] == TlsHandshake || !IsTokenByte(buffer.FirstSpan[0]))
        {
            return false;
        }

        var reader = new SequenceReader<byte>(buffer);
        var lineComplete = reader.TryReadTo(out ReadOnlySequence<byte> line, (byte)'\n');
        if (!lineComplete && buffer.Length < HttpLimits.KestrelRequestLineBytes)
        {
            return null;
        }

        var text = lineComplete ? line : buffer.Slice(0, Math.Min(buffer.Length, HttpLimits.KestrelRequestLineBytes));
        var bytes = text.ToArray();
        return bytes.Contains((byte)0) || PathOf(Encoding.Latin1.GetString(bytes)).Contains("%00", StringComparison.Ordinal);
    }

    /// <summary>The path of a request line "METHOD target VERSION": the target up to its query (Kestrel decodes only the path).</summary>
    private static string PathOf(string line)
    {
        var parts = line.Split(' ');
        var target = parts.Length >= 2 ? parts[1] : "";
        var query = target.IndexOf('?', StringComparison.Ordinal);
        return query < 0 ? target : target[..query];
    }

    private static bool IsTokenByte(byte b) => b is >= (byte)'A' and <= (byte)'Z';

    private static async Task RefuseAsync(System.IO.Pipelines.PipeWriter output, CancellationToken cancellationToken)
    {
        var body = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(
            new ArmErrorResponse { Error = new ArmError { Code = "InvalidRequestUri", Message = Message } }, ContractsJsonContext.Default.ArmErrorResponse);
        var headers = new HeaderDictionary();
        // Plain-text connections only reach here (a TLS handshake passes on), so no HSTS.
        SecurityHeaders.Apply(headers, https: false);
        var head = new StringBuilder("HTTP/1.1 400 Bad Request\r\n")
            .Append("Content-Type: application/json; charset=utf-8\r\n")
            .Append("Content-Length: ").Append(body.Length).Append("\r\n")
            .Append("Connection: close\r\n");
        foreach (var (name, values) in headers)
        {
            head.Append(name).Append(": ").Append(values.ToString()).Append("\r\n");
        }

        head.Append("\r\n");
        await output.WriteAsync(Encoding.ASCII.GetBytes(head.ToString()), cancellationToken);
        await output.WriteAsync(body, cancellationToken);
        await output.CompleteAsync();
    }
}
