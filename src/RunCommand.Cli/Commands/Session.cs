using RunCommand.Cli.Config;
using RunCommand.Client;

namespace RunCommand.Cli.Commands;

/// <summary>The saved login and a client built from it; what every verb but login and up starts with.</summary>
internal sealed class Session : IDisposable
{
    private Session(CliConfig config, RunCommandClient client)
    {
        Config = config;
        Client = client;
    }

    public CliConfig Config { get; }

    public RunCommandClient Client { get; }

    /// <param name="systemTrust">
    /// Keep the system trust store beside a configured certificate (<c>agent install</c> asks whether the system
    /// trusts the server); otherwise the configured certificate is the process's only trust anchor (<see cref="ProcessTrust"/>).
    /// </param>
    public static Session Open(bool systemTrust = false)
    {
        var path = ConfigStore.DefaultPath;
        var config = ConfigStore.Load(path)
            ?? throw new CliException(
                $"not logged in: run ./runcmd login --server URL --token-file FILE (or ./runcmd up to start a local server); no config at {path}",
                ExitCodes.Failure);
        return new Session(config, CreateClient(config.Server, config.Token, config.CaCert, systemTrust));
    }

    public static RunCommandClient CreateClient(string server, string token, string? caCert, bool systemTrust = false)
    {
        if (!Uri.TryCreate(server, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw CliException.Usage($"the server URL '{server}' is not an http(s) URL");
        }

        if (caCert is not null && !File.Exists(caCert))
        {
            throw CliException.Usage($"the CA certificate file {caCert} does not exist");
        }

        if (caCert is not null && uri.Scheme == Uri.UriSchemeHttps && !systemTrust)
        {
            ProcessTrust.TrustOnly(caCert);
        }

        return new RunCommandClient(new RunCommandClientOptions { Server = uri, Token = token, CaCertificatePath = caCert });
    }

    /// <summary>
    /// --subscription as given (an id, or a display name the server lists), else the saved default, else the server's first.
    /// </summary>
    public async Task<string> SubscriptionAsync(string? given, CancellationToken cancellationToken)
    {
        if (!string.IsNullOrEmpty(given))
        {
            if (Guid.TryParse(given, out _))
            {
                return given;
            }

            var subscriptions = await Client.ListSubscriptionsAsync(cancellationToken);
            var match = subscriptions.FirstOrDefault(s =>
                string.Equals(s.DisplayName, given, StringComparison.OrdinalIgnoreCase)
                || string.Equals(s.SubscriptionId, given, StringComparison.OrdinalIgnoreCase));
            return match?.SubscriptionId ?? given;
        }

        if (!string.IsNullOrEmpty(Config.DefaultSubscription))
        {
            return Config.DefaultSubscription;
        }

        return (await Client.GetDefaultSubscriptionAsync(cancellationToken)).SubscriptionId;
    }

    public void Dispose() => Client.Dispose();
}
