using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using RunCommand.Server.Hosting;
using RunCommand.Storage;

namespace RunCommand.Server.Tests.Hosting;

public sealed class ArmErrorHandlingTests
{
    [Fact]
    public async Task StorageBusy_IsAnswered503WithRetryAfterNever500()
    {
        await using var services = new ServiceCollection().AddLogging().BuildServiceProvider();
        var http = new DefaultHttpContext { RequestServices = services };
        http.Response.Body = new MemoryStream();
        var middleware = new ArmErrorHandling(_ => throw new StorageBusyException(new TimeoutException("inner detail 40001")));

        await middleware.InvokeAsync(http, NullLogger<ArmErrorHandling>.Instance);

        Assert.Equal(StatusCodes.Status503ServiceUnavailable, http.Response.StatusCode);
        Assert.Equal("1", http.Response.Headers.RetryAfter.ToString());
        var body = Encoding.UTF8.GetString(((MemoryStream)http.Response.Body).ToArray());
        Assert.Contains("\"code\":\"ServiceUnavailable\"", body, StringComparison.Ordinal);
        Assert.DoesNotContain("inner detail", body, StringComparison.Ordinal);
    }
}
