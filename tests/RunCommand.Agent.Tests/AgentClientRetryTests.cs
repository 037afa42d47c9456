using System.Net;
using System.Net.Sockets;
using System.Text;
using RunCommand.Agent.Protocol;
using RunCommand.Contracts.Agents;

namespace RunCommand.Agent.Tests;

/// <summary>
/// A signed assertion is good for one use (docs/agent-protocol.md, "Replay"), so the agent's HTTP stack must never send
/// one twice by itself. SocketsHttpHandler re-sends a request without content, headers and all, when a kept-alive
/// connection ends before any byte of the answer: what every held goal-state poll meets when its server is killed. The
/// server, raw sockets here, answers the first poll, then closes the connection under the second as a dying server does.
/// </summary>
public sealed class AgentClientRetryTests
{
    private const string VmId = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm";

    [Fact]
    public async Task GetGoalState_ConnectionClosedUnderAHeldPoll_FailsToTheCallerAndTheNextPollSignsANewAssertion()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var server = new Uri($"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}/");
        using var client = new AgentClient(server, null)
        {
            AgentKey = new AgentKeyCredential(AgentAssertion.NewKey(), VmId, TimeProvider.System),
        };
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        var answered = client.GetGoalStateAsync(-1, TimeSpan.FromSeconds(30), timeout.Token);
        using (var first = await listener.AcceptSocketAsync(timeout.Token))
        {
            await ReadRequestAsync(first, timeout.Token);
            await AnswerAsync(first, version: 1, timeout.Token);
            Assert.Equal(1, (await answered).Version);

            // The second poll goes out on the kept-alive connection; the server reads it, then goes away (FIN, no answer).
            var held = client.GetGoalStateAsync(1, TimeSpan.FromSeconds(30), timeout.Token);
            var heldAuthorization = await ReadRequestAsync(first, timeout.Token);
            first.Shutdown(SocketShutdown.Both);
            first.Close();

            // The failure reaches the agent's loop, which backs off and polls again; a silent re-send would be a replay.
            var cut = await Assert.ThrowsAsync<HttpRequestException>(() => held);
            Assert.Equal(HttpRequestError.ResponseEnded, cut.HttpRequestError);

            var next = client.GetGoalStateAsync(1, TimeSpan.FromSeconds(30), timeout.Token);
            using var second = await listener.AcceptSocketAsync(timeout.Token);
            var nextAuthorization = await ReadRequestAsync(second, timeout.Token);
            await AnswerAsync(second, version: 2, timeout.Token);
            Assert.Equal(2, (await next).Version);
            Assert.StartsWith("Bearer " + AgentAssertion.Prefix, heldAuthorization, StringComparison.Ordinal);
            Assert.NotEqual(heldAuthorization, nextAuthorization);
        }
    }

    /// <summary>Reads one request's head (the test's requests have no body beyond an empty one); answers its Authorization.</summary>
    private static async Task<string> ReadRequestAsync(Socket socket, CancellationToken cancellationToken)
    {
        var head = new StringBuilder();
        var buffer = new byte[1];
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            if (await socket.ReceiveAsync(buffer, cancellationToken) == 0)
            {
                throw new IOException("The client closed the connection mid-request.");
            }

            head.Append((char)buffer[0]);
        }

        return head.ToString().Split("\r\n").Single(line => line.StartsWith("Authorization: ", StringComparison.OrdinalIgnoreCase))["Authorization: ".Length..];
    }

    private static async Task AnswerAsync(Socket socket, long version, CancellationToken cancellationToken)
    {
        var body = $"{{\"version\":{version},\"executions\":[]}}";
        var answer = $"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\n\r\n{body}";
        await socket.SendAsync(Encoding.ASCII.GetBytes(answer), cancellationToken);
    }
}
