using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>
/// Requests refused for their size or shape (issue 12), sent over a raw socket as a plain client would: each answer
/// is an ARM error body with the security headers, and an oversized body sent without waiting for 100-continue
/// still gets a readable 413.
/// </summary>
public sealed class HttpRefusalTests(ApiServerFixture fixture) : IClassFixture<ApiServerFixture>
{
    private readonly ServerProcess _server = fixture.Server;

    private async Task<(int Status, string Head, string Body)> SendRawAsync(byte[] head, long bodyBytes = 0)
    {
        var uri = new Uri(_server.Url);
        using var client = new TcpClient();
        await client.ConnectAsync(uri.Host, uri.Port);
        var stream = client.GetStream();
        await stream.WriteAsync(head);
        var chunk = new byte[64 * 1024];
        Array.Fill(chunk, (byte)'x');
        for (long sent = 0; sent < bodyBytes; sent += chunk.Length)
        {
            await stream.WriteAsync(chunk.AsMemory(0, (int)Math.Min(chunk.Length, bodyBytes - sent)));
        }

        using var reader = new MemoryStream();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await stream.CopyToAsync(reader, timeout.Token);
        var text = Encoding.UTF8.GetString(reader.ToArray());
        var split = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        Assert.True(split > 0, $"no complete answer: '{text}'");
        var status = int.Parse(text.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        var answerHead = text[..split];
        var answerBody = text[(split + 4)..];
        return (status, answerHead, answerHead.Contains("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase) ? Dechunk(answerBody) : answerBody);
    }

    private static string Dechunk(string chunked)
    {
        var body = new StringBuilder();
        var at = 0;
        while (true)
        {
            var lineEnd = chunked.IndexOf("\r\n", at, StringComparison.Ordinal);
            var size = Convert.ToInt32(chunked[at..lineEnd], 16);
            if (size == 0)
            {
                return body.ToString();
            }

            body.Append(chunked, lineEnd + 2, size);
            at = lineEnd + 2 + size + 2;
        }
    }

    private static void AssertArmError(string head, string body, string code)
    {
        Assert.Contains("X-Content-Type-Options: nosniff", head, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("Cache-Control: no-store", head, StringComparison.OrdinalIgnoreCase);
        using var document = JsonDocument.Parse(body);
        Assert.Equal(code, document.RootElement.GetProperty("error").GetProperty("code").GetString());
    }

    private static byte[] Request(string target, string extraHeaders = "") =>
        Encoding.ASCII.GetBytes($"GET {target} HTTP/1.1\r\nHost: localhost\r\n{extraHeaders}Connection: close\r\n\r\n");

    [Fact]
    public async Task Get_TenThousandCharacterName_Answers414ArmError()
    {
        var (status, head, body) = await SendRawAsync(Request($"/subscriptions/{_server.SubscriptionId}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/{new string('a', 10_000)}?api-version=2023-07-01"));

        Assert.Equal(414, status);
        AssertArmError(head, body, "RequestUriTooLong");
    }

    [Fact]
    public async Task Get_OversizedHeaders_Answers431ArmError()
    {
        var (status, head, body) = await SendRawAsync(Request("/healthz", $"X-Filler: {new string('a', 70_000)}\r\n"));

        Assert.Equal(431, status);
        AssertArmError(head, body, "RequestHeaderFieldsTooLarge");
    }

    [Fact]
    public async Task Put_OversizedBodyWithoutWaitingForContinue_Answers413ReadableArmError()
    {
        const long size = 12L * 1024 * 1024;
        var head = Encoding.ASCII.GetBytes(
            $"PUT /subscriptions/{_server.SubscriptionId}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1/runCommands/big?api-version=2023-07-01 HTTP/1.1\r\n"
            + $"Host: localhost\r\nAuthorization: Bearer {_server.AdminToken}\r\nContent-Type: application/json\r\nContent-Length: {size}\r\n\r\n");

        var (status, response, body) = await SendRawAsync(head, size);

        Assert.Equal(413, status);
        AssertArmError(response, body, "RequestEntityTooLarge");
        Assert.Contains("Connection: close", response, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Get_EncodedNulInPath_Answers400ArmErrorAndTheServerStaysUp()
    {
        var (status, head, body) = await SendRawAsync(Request("/subscriptions/a%00b"));

        Assert.Equal(400, status);
        AssertArmError(head, body, "InvalidRequestUri");
        Assert.False(_server.Process.HasExited);
    }

    [Fact]
    public async Task Get_RawNulByteInPath_Answers400ArmError()
    {
        var (status, head, body) = await SendRawAsync(Request("/subscriptions/a\0b"));

        Assert.Equal(400, status);
        AssertArmError(head, body, "InvalidRequestUri");
        Assert.Contains("X-Frame-Options: DENY", head, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("Content-Security-Policy: default-src 'none'", head, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task Get_NoNul_StillServedOnTheSameGuardedConnection()
    {
        var (status, _, _) = await SendRawAsync(Request("/healthz"));

        Assert.Equal(200, status);
    }
}
