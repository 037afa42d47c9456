using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Http;
using RunCommand.Client;
using RunCommand.Contracts.Arm;

namespace RunCommand.Cli.Tests;

public sealed class RunCommandClientTests
{
    private const string Sub = "00000000-0000-0000-0000-000000000001";
    private static readonly RunCommandRef Target = new(Sub, "rg1", "vm1", "hello");

    [Fact]
    public async Task CreateOrUpdate_ServerAnswers201WithOperation_ReturnsBodyAndAbsoluteOperationUrl()
    {
        await using var server = await FakeArmServer.StartAsync(async (context, _) =>
        {
            context.Response.Headers["Azure-AsyncOperation"] = $"http://{context.Request.Host}/subscriptions/{Sub}/providers/Microsoft.Compute/locations/local/operations/op1?api-version=2023-07-01";
            await FakeArmServer.WriteJsonAsync(context, 201, """{"name":"hello","location":"local","properties":{"provisioningState":"Creating"}}""");
        });
        using var client = NewClient(server.Url);

        var response = await client.CreateOrUpdateAsync(Target, new RunCommandResource
        {
            Location = "local",
            Properties = new RunCommandProperties
            {
                Source = new RunCommandSource { Script = "echo hi" },
                Parameters = [new RunCommandParameter { Name = "", Value = "é=1" }],
            },
        });

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal("Creating", response.Body!.Properties!.ProvisioningState);
        Assert.EndsWith("/operations/op1?api-version=2023-07-01", response.OperationUrl!.ToString());
        var (request, authorization, body) = Assert.Single(server.Requests);
        Assert.Equal($"PUT /subscriptions/{Sub}/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/vm1/runCommands/hello?api-version=2023-07-01", request);
        Assert.Equal("Bearer secret-token", authorization);
        Assert.Equal($"runcmd/{typeof(RunCommandClient).Assembly.GetName().Version!.ToString(3)}", Assert.Single(server.UserAgents));
        Assert.Contains("\"script\":\"echo hi\"", body);
        Assert.DoesNotContain("provisioningState", body);
    }

    [Fact]
    public async Task WaitForOperation_InProgressThenSucceeded_LongPollsUntilTerminal()
    {
        var calls = 0;
        await using var server = await FakeArmServer.StartAsync((context, _) =>
        {
            var status = Interlocked.Increment(ref calls) < 3 ? "InProgress" : "Succeeded";
            return FakeArmServer.WriteJsonAsync(context, 200, $$"""{"name":"op1","status":"{{status}}"}""");
        });
        using var client = NewClient(server.Url);

        var operation = await client.WaitForOperationAsync(new Uri(server.Url, $"/subscriptions/{Sub}/providers/Microsoft.Compute/locations/local/operations/op1?api-version=2023-07-01"));

        Assert.Equal(OperationStatus.Succeeded, operation.Status);
        Assert.Equal(3, server.Requests.Count);
        Assert.All(server.Requests, r => Assert.EndsWith("?api-version=2023-07-01&waitSeconds=30", r.Request));
    }

    [Fact]
    public async Task Get_ServerAnswers404ArmError_ThrowsTypedExceptionWithError()
    {
        await using var server = await FakeArmServer.StartAsync((context, _) => FakeArmServer.WriteJsonAsync(context, 404,
            """{"error":{"code":"ResourceNotFound","message":"Run command 'hello' was not found.","target":"name","details":[{"code":"Inner","message":"more"}]}}"""));
        using var client = NewClient(server.Url);

        var e = await Assert.ThrowsAsync<ArmRequestException>(() => client.GetAsync(Target, expandInstanceView: true));

        Assert.Equal(HttpStatusCode.NotFound, e.StatusCode);
        Assert.Equal("ResourceNotFound", e.Error.Code);
        Assert.Equal("name", e.Error.Target);
        Assert.Equal("(ResourceNotFound) Run command 'hello' was not found. Target: name; (Inner) more", e.Message);
        Assert.EndsWith("&$expand=instanceView", Assert.Single(server.Requests).Request);
    }

    [Fact]
    public async Task Get_ServerAnswersNonArmError_ThrowsWithStatusAndText()
    {
        await using var server = await FakeArmServer.StartAsync((context, _) =>
        {
            context.Response.StatusCode = 502;
            return context.Response.WriteAsync("bad gateway");
        });
        using var client = NewClient(server.Url);

        var e = await Assert.ThrowsAsync<ArmRequestException>(() => client.GetAsync(Target));

        Assert.Equal("(BadGateway) HTTP 502: bad gateway", e.Message);
    }

    [Fact]
    public async Task List_ServerPagesWithNextLink_FollowsEveryPage()
    {
        await using var server = await FakeArmServer.StartAsync((context, _) =>
        {
            var next = $"http://{context.Request.Host}/page2?api-version=2023-07-01";
            return context.Request.Path == "/page2"
                ? FakeArmServer.WriteJsonAsync(context, 200, """{"value":[{"name":"c"}]}""")
                : FakeArmServer.WriteJsonAsync(context, 200, $$"""{"value":[{"name":"a"},{"name":"b"}],"nextLink":"{{next}}"}""");
        });
        using var client = NewClient(server.Url);

        var items = await client.ListAsync(Target.Vm, expandInstanceView: true);

        Assert.Equal(["a", "b", "c"], items.Select(i => i.Name));
        Assert.Equal(
            $"GET /subscriptions/{Sub}/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/vm1/runCommands?api-version=2023-07-01&$expand=instanceView",
            server.Requests.First().Request);
    }

    [Fact]
    public async Task List_PageWithoutValue_ReturnsEmpty()
    {
        await using var server = await FakeArmServer.StartAsync((context, _) => FakeArmServer.WriteJsonAsync(context, 200, "{}"));
        using var client = NewClient(server.Url);

        Assert.Empty(await client.ListVmsAsync(Sub));
    }

    [Fact]
    public async Task Delete_ServerAnswers204_ReturnsNoOperation()
    {
        await using var server = await FakeArmServer.StartAsync((context, _) =>
        {
            context.Response.StatusCode = 204;
            return Task.CompletedTask;
        });
        using var client = NewClient(server.Url);

        Assert.Null(await client.DeleteAsync(Target));
    }

    [Fact]
    public async Task Delete_ServerAnswers202_ReturnsOperationUrl()
    {
        await using var server = await FakeArmServer.StartAsync((context, _) =>
        {
            context.Response.Headers["Azure-AsyncOperation"] = "/subscriptions/s/providers/Microsoft.Compute/locations/local/operations/op2?api-version=2023-07-01";
            context.Response.Headers.Location = "/subscriptions/s/providers/Microsoft.Compute/locations/local/operations/op2?api-version=2023-07-01";
            context.Response.StatusCode = 202;
            return Task.CompletedTask;
        });
        using var client = NewClient(server.Url);

        var operation = await client.DeleteAsync(Target);

        Assert.Equal(new Uri(server.Url, "/subscriptions/s/providers/Microsoft.Compute/locations/local/operations/op2?api-version=2023-07-01"), operation);
    }

    [Fact]
    public async Task GetLogs_Offsets_SendsOffsetsAndWaitAndParsesChunks()
    {
        await using var server = await FakeArmServer.StartAsync((context, _) => FakeArmServer.WriteJsonAsync(context, 200,
            """{"executionId":"e1","executionState":"Running","finished":false,"stdout":{"offset":5,"data":"aGk=","nextOffset":7},"stderr":{"offset":0,"data":"","nextOffset":0}}"""));
        using var client = NewClient(server.Url);

        var logs = await client.GetLogsAsync(Target, 5, 0, 30);

        Assert.Equal("hi"u8.ToArray(), logs.Stdout.Data);
        Assert.Equal(7, logs.Stdout.NextOffset);
        Assert.EndsWith("/runCommands/hello/logs?api-version=2023-07-01&stdoutOffset=5&stderrOffset=0&waitSeconds=30", Assert.Single(server.Requests).Request);
    }

    [Fact]
    public async Task GetDefaultSubscription_ServerListsTwo_ReturnsFirstAndUsesSubscriptionsApiVersion()
    {
        await using var server = await FakeArmServer.StartAsync((context, _) => FakeArmServer.WriteJsonAsync(context, 200,
            $$"""{"value":[{"id":"/subscriptions/{{Sub}}","subscriptionId":"{{Sub}}","displayName":"default","state":"Enabled","location":"local"},{"subscriptionId":"other"}]}"""));
        using var client = NewClient(server.Url);

        var subscription = await client.GetDefaultSubscriptionAsync();

        Assert.Equal(Sub, subscription.SubscriptionId);
        Assert.Equal("local", subscription.Location);
        Assert.Equal("GET /subscriptions?api-version=2022-12-01", Assert.Single(server.Requests).Request);
    }

    [Fact]
    public async Task ListVms_ResourceGroupGiven_ReturnsVms()
    {
        await using var server = await FakeArmServer.StartAsync((context, _) => FakeArmServer.WriteJsonAsync(context, 200,
            """{"value":[{"id":"/subscriptions/s/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/vm1","name":"vm1","location":"local","properties":{"vmId":"x","agentInstanceView":{"status":"Connected"}}}]}"""));
        using var client = NewClient(server.Url);

        var vms = await client.ListVmsAsync(Sub, "rg1");

        Assert.Equal("Connected", Assert.Single(vms).Properties.AgentInstanceView.Status);
        Assert.Equal($"GET /subscriptions/{Sub}/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines?api-version=2023-07-01", Assert.Single(server.Requests).Request);
    }

    [Fact]
    public async Task AnyCall_NothingListening_ThrowsServerUnreachable()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        using var client = NewClient(new Uri($"http://127.0.0.1:{port}"));

        var e = await Assert.ThrowsAsync<ServerUnreachableException>(() => client.GetAsync(Target));

        Assert.StartsWith($"cannot reach the server at http://127.0.0.1:{port}: connection refused", e.Message);
    }

    [Fact]
    public async Task CreateOrUpdate_ThrottledTwiceWithRetryAfter_SendsTheSameBodyAgainAndSucceeds()
    {
        var calls = 0;
        await using var server = await FakeArmServer.StartAsync((context, _) =>
        {
            if (Interlocked.Increment(ref calls) <= 2)
            {
                context.Response.Headers.RetryAfter = "0";
                return FakeArmServer.WriteJsonAsync(context, 429, """{"error":{"code":"TooManyRequests","message":"slow down"}}""");
            }

            return FakeArmServer.WriteJsonAsync(context, 200, """{"name":"hello","location":"local","properties":{"provisioningState":"Succeeded"}}""");
        });
        using var client = NewClient(server.Url);

        var response = await client.CreateOrUpdateAsync(Target, new RunCommandResource
        {
            Location = "local",
            Properties = new RunCommandProperties { Source = new RunCommandSource { Script = "echo hi" } },
        });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(3, server.Requests.Count);
        Assert.All(server.Requests, r => Assert.Contains("\"script\":\"echo hi\"", r.Body));
    }

    [Fact]
    public async Task Get_ThrottledEveryTime_GivesUpAfterFourRetriesWithTheServersError()
    {
        await using var server = await FakeArmServer.StartAsync((context, _) =>
        {
            context.Response.Headers.RetryAfter = "0";
            return FakeArmServer.WriteJsonAsync(context, 429, """{"error":{"code":"TooManyRequests","message":"The request rate of 'admin' is over its limit; retry after 1 s."}}""");
        });
        using var client = NewClient(server.Url);

        var e = await Assert.ThrowsAsync<ArmRequestException>(() => client.GetAsync(Target));

        Assert.Equal(HttpStatusCode.TooManyRequests, e.StatusCode);
        Assert.Equal("TooManyRequests", e.Error.Code);
        Assert.Equal(5, server.Requests.Count);
    }

    [Theory]
    [InlineData(429, "3600")] // a wait too long to sit out silently
    [InlineData(503, null)] // a 503 without Retry-After may be a proxy's or a dying server's
    [InlineData(500, "0")] // not a "try later": never retried
    public async Task Get_ThrottledOrFailedWithoutAShortRetryAfter_IsNotRetried(int status, string? retryAfter)
    {
        await using var server = await FakeArmServer.StartAsync((context, _) =>
        {
            if (retryAfter is not null)
            {
                context.Response.Headers.RetryAfter = retryAfter;
            }

            return FakeArmServer.WriteJsonAsync(context, status, """{"error":{"code":"Busy","message":"not now"}}""");
        });
        using var client = NewClient(server.Url);

        var e = await Assert.ThrowsAsync<ArmRequestException>(() => client.GetAsync(Target));

        Assert.Equal(status, (int)e.StatusCode);
        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task Get_ServiceUnavailableWithShortRetryAfter_IsRetried()
    {
        var calls = 0;
        await using var server = await FakeArmServer.StartAsync((context, _) =>
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                context.Response.Headers.RetryAfter = "0";
                return FakeArmServer.WriteJsonAsync(context, 503, """{"error":{"code":"ServiceUnavailable","message":"starting"}}""");
            }

            return FakeArmServer.WriteJsonAsync(context, 200, """{"name":"hello","location":"local","properties":{"provisioningState":"Succeeded"}}""");
        });
        using var client = NewClient(server.Url);

        var resource = await client.GetAsync(Target);

        Assert.Equal("Succeeded", resource.Properties!.ProvisioningState);
        Assert.Equal(2, server.Requests.Count);
    }

    private static RunCommandClient NewClient(Uri url) =>
        new(new RunCommandClientOptions { Server = url, Token = "secret-token" });
}
