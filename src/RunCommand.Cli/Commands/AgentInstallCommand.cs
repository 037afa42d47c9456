using System.CommandLine;
using RunCommand.Client;

namespace RunCommand.Cli.Commands;

/// <summary>
/// <c>vm agent install-command -g RG [--vmss-name SS] [--tags k=v]</c>: prints the one line that installs (or upgrades)
/// the agent on a machine and joins it, with a fresh single-use enrollment token and the server's public key pinned.
/// </summary>
internal static class AgentInstallCommand
{
    public static Command Create()
    {
        var (group, subscription) = (Options.ResourceGroup(), Options.Subscription());
        var vmss = new Option<string>("--vmss-name") { Description = "The machine joins this scale set as a new instance (default: a VM named after its hostname)." };
        var tags = new Option<string[]>("--tags")
        {
            Description = "Tags the machine gets when it enrolls, space-separated key=value pairs.",
            AllowMultipleArgumentsPerToken = true,
            HelpName = "k=v",
        };
        var expiresIn = new Option<string>("--expires-in")
        {
            Description = "How long the line's enrollment token stays usable (default 1h); it is good for one machine.",
            DefaultValueFactory = _ => "1h",
            HelpName = "duration",
        };
        var command = new Command("install-command",
            "Print a one-line install of the agent (curl ... | sudo sh) with a new single-use enrollment token. Run again on an "
            + "installed machine, the line upgrades the agent in place; running scripts keep running.")
        {
            group, vmss, tags, expiresIn, subscription,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            var tagValues = result.GetValue(tags) ?? [];
            if (tagValues.FirstOrDefault(t => t.IndexOf('=', StringComparison.Ordinal) <= 0) is { } bad)
            {
                throw CliException.Usage($"--tags takes key=value pairs, not '{bad}'");
            }

            var lifetime = AuthCommands.ParseDuration(result.GetValue(expiresIn)!);
            // The system store too: the install line pins the certificate only when the system does not trust it.
            using var session = Session.Open(systemTrust: true);
            var server = new Uri(session.Config.Server);
            var resourceGroup = result.GetValue(group)!;
            var scaleSet = result.GetValue(vmss);

            // The pin first: no token is created for a server whose certificate cannot be checked.
            ServerCertificate? certificate = null;
            if (server.Scheme == Uri.UriSchemeHttps)
            {
                try
                {
                    certificate = await ServerCertificate.FetchAsync(server, session.Config.CaCert, cancellationToken);
                }
                catch (Exception e) when (e is System.Security.Authentication.AuthenticationException or IOException or System.Net.Sockets.SocketException)
                {
                    throw new CliException($"cannot read the server's certificate at {server.GetLeftPart(UriPartial.Authority)}: {e.Message}", ExitCodes.Failure);
                }
            }
            else
            {
                result.InvocationConfiguration.Error.WriteLine(
                    "warning: the server is plain http: the install line and the agent's traffic are not protected. Use an https server for real machines.");
            }

            var token = await session.Client.CreateEnrollmentTokenAsync(
                await session.SubscriptionAsync(result.GetValue(subscription), cancellationToken), resourceGroup, lifetime, maxUses: 1, cancellationToken, scaleSet);
            result.InvocationConfiguration.Output.WriteLine(Line(server, certificate, token.Token!, resourceGroup, scaleSet, tagValues));
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>The install line; every value single-quoted for sh.</summary>
    internal static string Line(Uri server, ServerCertificate? certificate, string token, string resourceGroup, string? scaleSet, IEnumerable<string> tags)
    {
        var url = new Uri(server, "agent/install.sh").ToString();
        var curl = new List<string> { "curl", "-fsSL" };
        var script = new List<string> { "--token", Quote(token), "--resource-group", Quote(resourceGroup) };
        if (certificate is not null)
        {
            // A self-signed (or private-CA) certificate fails curl's CA check; the pin is the stronger check, so skip the other.
            string[] insecure = certificate.TrustedBySystem ? [] : ["-k"];
            curl.AddRange([.. insecure, "--pinnedpubkey", Quote(certificate.PublicKeyPin)]);
            script.AddRange([.. insecure, "--pin", Quote(certificate.PublicKeyPin)]);
        }

        if (scaleSet is not null)
        {
            script.AddRange(["--vmss-name", Quote(scaleSet)]);
        }

        foreach (var tag in tags)
        {
            script.AddRange(["--tags", Quote(tag)]);
        }

        return $"{string.Join(' ', curl)} {Quote(url)} | sudo sh -s -- {string.Join(' ', script)}";
    }

    private static string Quote(string value) => "'" + value.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
