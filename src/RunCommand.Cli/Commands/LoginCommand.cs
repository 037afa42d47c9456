using System.CommandLine;
using RunCommand.Cli.Config;
using RunCommand.Client;

namespace RunCommand.Cli.Commands;

/// <summary><c>runcmd login</c>: checks a token against a server and remembers both.</summary>
internal static class LoginCommand
{
    public static Command Create()
    {
        var server = new Option<string>("--server") { Description = "Server base URL, e.g. http://127.0.0.1:5080.", Required = true };
        var tokenFile = new Option<string>("--token-file")
        {
            Description = "File holding the API token (the server writes <data-dir>/admin.token).",
            Required = true,
        };
        var caCert = new Option<string>("--ca-cert")
        {
            Description = "PEM or DER certificate to trust: the server's self-signed certificate or the CA that issued it.",
        };
        var command = new Command("login", "Check a server token and save it for the other commands (in $RUNCMD_CONFIG_DIR/config.json, default ~/.runcmd).")
        {
            server, tokenFile, caCert,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            var tokenPath = result.GetValue(tokenFile)!;
            if (!File.Exists(tokenPath))
            {
                throw CliException.Usage($"--token-file: {tokenPath} does not exist");
            }

            var token = (await File.ReadAllTextAsync(tokenPath, cancellationToken)).Trim();
            if (token.Length == 0)
            {
                throw CliException.Usage($"--token-file: {tokenPath} is empty");
            }

            var caPath = result.GetValue(caCert) is { } ca ? Path.GetFullPath(ca) : null;
            var config = await LoginAsync(result.GetValue(server)!.TrimEnd('/'), token, caPath, cancellationToken);
            result.InvocationConfiguration.Error.WriteLine($"Logged in to {config.Server}; default subscription {config.DefaultSubscription}.");
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>Checks the token (GET /subscriptions) and saves the config; shared with <c>runcmd up</c>.</summary>
    public static async Task<CliConfig> LoginAsync(string server, string token, string? caCert, CancellationToken cancellationToken)
    {
        using var client = Session.CreateClient(server, token, caCert);
        var subscription = await client.GetDefaultSubscriptionAsync(cancellationToken);
        var config = new CliConfig
        {
            Server = server,
            Token = token,
            CaCert = caCert,
            DefaultSubscription = subscription.SubscriptionId,
            DefaultLocation = subscription.Location,
        };
        ConfigStore.Save(ConfigStore.DefaultPath, config);
        return config;
    }
}
