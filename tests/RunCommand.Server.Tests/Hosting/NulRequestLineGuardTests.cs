using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using Microsoft.AspNetCore.Connections;
using RunCommand.Server.Hosting;

namespace RunCommand.Server.Tests.Hosting;

/// <summary>The connection middleware over real pipes: it refuses a NUL request line and hands everything else on intact.</summary>
public sealed class NulRequestLineGuardTests
{
    private sealed record Connection(DefaultConnectionContext Context, Pipe Input, Pipe Output);

    private static Connection NewConnection()
    {
        var input = new Pipe();
        var output = new Pipe();
        var context = new DefaultConnectionContext("test", new DuplexPipe(input.Reader, output.Writer), new DuplexPipe(output.Reader, input.Writer));
        return new Connection(context, input, output);
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }

    /// <summary>Sends <paramref name="parts"/> one write each (a line arriving in pieces); returns what "Kestrel" read, or null when the guard answered.</summary>
    private static async Task<(string? Passed, string Answer)> RunAsync(params string[] parts)
    {
        var connection = NewConnection();
        string? passed = null;
        var guard = NulRequestLineGuard.Wrap(async context =>
        {
            // Reads as Kestrel does: until the client is done, leaving everything unconsumed in between.
            while (true)
            {
                var result = await context.Transport.Input.ReadAsync();
                if (result.IsCompleted)
                {
                    passed = Encoding.Latin1.GetString(result.Buffer.ToArray());
                    context.Transport.Input.AdvanceTo(result.Buffer.End);
                    break;
                }

                context.Transport.Input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
            }

            await context.Transport.Output.CompleteAsync();
        });
        var running = guard(connection.Context);
        foreach (var part in parts)
        {
            await connection.Input.Writer.WriteAsync(Encoding.Latin1.GetBytes(part));
            await Task.Yield();
        }

        await connection.Input.Writer.CompleteAsync();
        await running.WaitAsync(TimeSpan.FromSeconds(30));
        var answer = await connection.Output.Reader.ReadAsync();
        return (passed, Encoding.ASCII.GetString(answer.Buffer.ToArray()));
    }

    [Fact]
    public async Task NulByteInALineSentInPieces_IsAnsweredWithTheArmErrorAndHeaders()
    {
        var (passed, answer) = await RunAsync("GET /subscriptions/a", "\0b HTTP/1.1\r\n", "Host: x\r\n\r\n");

        Assert.Null(passed);
        Assert.StartsWith("HTTP/1.1 400 Bad Request\r\n", answer, StringComparison.Ordinal);
        Assert.Contains("X-Content-Type-Options: nosniff\r\n", answer, StringComparison.Ordinal);
        Assert.Contains("Connection: close\r\n", answer, StringComparison.Ordinal);
        Assert.EndsWith("{\"error\":{\"code\":\"InvalidRequestUri\",\"message\":\"The request path holds a NUL character.\"}}", answer, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("GET /a%00b HTTP/1.1\r\n")]
    [InlineData("POST /x HTTP/1.1\0\r\n")]
    public async Task NulInThePathOrLine_IsRefused(string line)
    {
        var (passed, _) = await RunAsync(line);

        Assert.Null(passed);
    }

    [Theory]
    [InlineData("GET /subscriptions/a", "bc?q=%00 HTTP/1.1\r\n", "Host: x\r\n\r\n")]
    [InlineData("\u0016\u0003\u0001\0\0", "tls bytes")]
    public async Task AnythingElse_ReachesKestrelWhole(params string[] parts)
    {
        var (passed, _) = await RunAsync(parts);

        Assert.Equal(string.Concat(parts), passed);
    }
}
