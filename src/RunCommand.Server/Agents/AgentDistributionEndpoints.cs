using RunCommand.Server.Arm;
using RunCommand.Server.Auth;

namespace RunCommand.Server.Agents;

/// <summary>
/// <c>GET /agent/install.sh</c> and <c>GET /agent/download/{platform}</c>: a machine joins with one pasted line
/// (<c>runcmd vm agent install-command</c>). Anonymous: the script and the binaries hold no secret; the enrollment token
/// travels in the pasted line, and the download is pinned to the server's public key.
/// </summary>
public static class AgentDistributionEndpoints
{
    private static readonly Lazy<string> Template = new(() =>
    {
        var assembly = typeof(AgentDistributionEndpoints).Assembly;
        string Read(string name)
        {
            using var stream = assembly.GetManifestResourceStream(name)
                ?? throw new InvalidOperationException($"The server was built without its embedded {name}.");
            using var reader = new StreamReader(stream);
            return reader.ReadToEnd();
        }

        return Read("install.sh").Replace("@AGENT_UNIT@", Read("runcmd-agent.service").TrimEnd('\n'), StringComparison.Ordinal);
    });

    public static void MapAgentDistribution(this IEndpointRouteBuilder app)
    {
        app.MapGet("/agent/install.sh", InstallScript).AllowAnonymousCaller();
        app.MapGet("/agent/download/{platform}", Download).AllowAnonymousCaller();
    }

    /// <summary>The installer, with this server's URL (as the caller reached it) and certificate fingerprint filled in.</summary>
    private static IResult InstallScript(HttpRequest request, AgentDistribution distribution)
    {
        var server = $"{request.Scheme}://{request.Host}{request.PathBase}";
        var script = Template.Value
            .Replace("@SERVER_URL@", server, StringComparison.Ordinal)
            .Replace("@SERVER_FINGERPRINT@", distribution.ServerFingerprint ?? "", StringComparison.Ordinal);
        return Results.Text(script, "text/x-shellscript; charset=utf-8");
    }

    private static IResult Download(string platform, AgentDistribution distribution)
    {
        if (!AgentDistribution.Platforms.Contains(platform))
        {
            return ArmResults.Error(StatusCodes.Status404NotFound, "UnknownAgentPlatform",
                $"There is no agent build for '{platform}'. Builds: {string.Join(", ", AgentDistribution.Platforms)}.", "platform");
        }

        if (distribution.BinaryFor(platform) is not { } path)
        {
            var where = distribution.BinariesDirectory is null
                ? "the server was started without --agent-binaries-dir"
                : $"{Path.Combine(distribution.BinariesDirectory, platform, AgentDistribution.BinaryName)} does not exist";
            return ArmResults.Error(StatusCodes.Status404NotFound, "AgentBinaryNotAvailable",
                $"This server has no agent build for '{platform}': {where}. packaging/build.sh builds every platform into dist/.", "platform");
        }

        return Results.File(path, "application/octet-stream", AgentDistribution.BinaryName);
    }
}
