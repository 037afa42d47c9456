using System.Text;
using RunCommand.Cli.Commands;
using RunCommand.Client;

namespace RunCommand.Cli.Tests;

public sealed class LogFollowerTests
{
    private static readonly RunCommandRef Target = new("s", "rg1", "vm1", "hello");

    [Fact]
    public async Task Run_Follow_StreamsChunksUntilFinishedAndReturnsScriptExitCode()
    {
        // Three answers: "héllo" split inside the 'é', then stderr, then the finished, empty answer.
        var bytes = Encoding.UTF8.GetBytes("héllo\n");
        var answers = new[]
        {
            Logs(false, "Running", null, bytes[..2], 0, [], 0),
            Logs(false, "Running", null, bytes[2..], 2, "oops\n"u8.ToArray(), 0),
            Logs(true, "Failed", 4, [], bytes.Length, [], 5),
        };
        var call = 0;
        await using var server = await FakeArmServer.StartAsync((context, _) =>
            FakeArmServer.WriteJsonAsync(context, 200, answers[Math.Min(Interlocked.Increment(ref call) - 1, answers.Length - 1)]));
        using var client = new RunCommandClient(new RunCommandClientOptions { Server = server.Url, Token = "t" });
        using var stdout = new MemoryStream();
        using var stderr = new MemoryStream();

        var exitCode = await LogFollower.RunAsync(client, Target, follow: true, stdout, stderr, CancellationToken.None);

        Assert.Equal(4, exitCode);
        Assert.Equal("héllo\n", Encoding.UTF8.GetString(stdout.ToArray()));
        Assert.Equal("oops\n", Encoding.UTF8.GetString(stderr.ToArray()));
        var requests = server.Requests.Select(r => r.Request).ToArray();
        Assert.EndsWith("&stdoutOffset=0&stderrOffset=0&waitSeconds=30", requests[0]);
        Assert.EndsWith("&stdoutOffset=2&stderrOffset=0&waitSeconds=30", requests[1]);
        Assert.EndsWith($"&stdoutOffset={bytes.Length}&stderrOffset=5&waitSeconds=30", requests[2]);
    }

    [Fact]
    public async Task Run_NoFollow_PrintsWhatIsThereWithoutWaiting()
    {
        var answers = new[]
        {
            Logs(false, "Running", null, "partial"u8.ToArray(), 0, [], 0),
            Logs(false, "Running", null, [], 7, [], 0),
        };
        var call = 0;
        await using var server = await FakeArmServer.StartAsync((context, _) =>
            FakeArmServer.WriteJsonAsync(context, 200, answers[Math.Min(Interlocked.Increment(ref call) - 1, answers.Length - 1)]));
        using var client = new RunCommandClient(new RunCommandClientOptions { Server = server.Url, Token = "t" });
        using var stdout = new MemoryStream();
        using var stderr = new MemoryStream();

        var exitCode = await LogFollower.RunAsync(client, Target, follow: false, stdout, stderr, CancellationToken.None);

        Assert.Equal(0, exitCode);
        Assert.Equal("partial", Encoding.UTF8.GetString(stdout.ToArray()));
        Assert.All(server.Requests, r => Assert.EndsWith("&waitSeconds=0", r.Request));
    }

    private static string Logs(bool finished, string state, int? exitCode, byte[] stdout, long stdoutOffset, byte[] stderr, long stderrOffset) =>
        $"{{\"executionId\":\"e1\",\"executionState\":\"{state}\",\"finished\":{(finished ? "true" : "false")},"
        + (exitCode is null ? "" : $"\"exitCode\":{exitCode},")
        + $"\"stdout\":{Chunk(stdout, stdoutOffset)},\"stderr\":{Chunk(stderr, stderrOffset)}}}";

    private static string Chunk(byte[] data, long offset) =>
        $"{{\"offset\":{offset},\"data\":\"{Convert.ToBase64String(data)}\",\"nextOffset\":{offset + data.Length}}}";
}
