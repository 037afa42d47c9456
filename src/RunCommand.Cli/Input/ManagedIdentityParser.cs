using RunCommand.Contracts.Arm;

namespace RunCommand.Cli.Input;

/// <summary>
/// Parses <c>--output-blob-managed-identity</c>, <c>--error-blob-managed-identity</c> and <c>--script-uri-managed-identity</c>
/// as az takes them: <c>clientId=ID</c> or <c>objectId=ID</c> (az's shorthand, also <c>{clientId:ID}</c>), a JSON object
/// (<c>{"clientId":"ID"}</c>), or <c>{}</c> (or an empty value) for the machine's system-assigned identity.
/// </summary>
internal static class ManagedIdentityParser
{
    public static RunCommandManagedIdentity? Parse(string option, string? value)
    {
        if (value is null)
        {
            return null;
        }

        var text = value.Trim();
        if (text.StartsWith('{') && text.EndsWith('}'))
        {
            text = text[1..^1].Trim();
        }

        if (text.Length == 0)
        {
            return new RunCommandManagedIdentity();
        }

        var separator = text.IndexOfAny(['=', ':']);
        var key = separator < 0 ? "" : text[..separator].Trim().Trim('"');
        var id = separator < 0 ? "" : text[(separator + 1)..].Trim().Trim('"');
        if (id.Length == 0 || id.Contains(',', StringComparison.Ordinal))
        {
            throw Invalid(option, value);
        }

        return key.ToLowerInvariant() switch
        {
            "clientid" or "client_id" => new RunCommandManagedIdentity { ClientId = id },
            "objectid" or "object_id" => new RunCommandManagedIdentity { ObjectId = id },
            _ => throw Invalid(option, value),
        };
    }

    private static CliException Invalid(string option, string value) => CliException.Usage(
        $"{option}: '{value}' is not an identity; give clientId=ID, objectId=ID, or {{}} for the system-assigned identity");
}
