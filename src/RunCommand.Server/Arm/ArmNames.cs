using System.Text.RegularExpressions;
using RunCommand.Contracts.Arm;

namespace RunCommand.Server.Arm;

/// <summary>Checks of the names and versions in a request URL, with ARM's error codes.</summary>
public static partial class ArmNames
{
    /// <summary>Oldest and newest api-version of the Run Command API this server speaks.</summary>
    public const string OldestApiVersion = "2019-12-01";
    public const string NewestApiVersion = "2024-11-01";

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}(-preview)?$")]
    private static partial Regex ApiVersionShape();

    [GeneratedRegex(@"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,79}$")]
    private static partial Regex RunCommandName();

    [GeneratedRegex(@"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")]
    private static partial Regex VmName();

    [GeneratedRegex(@"^[-\w._()]{1,90}$")]
    private static partial Regex ResourceGroupName();

    /// <summary>Validates <c>api-version</c> for Microsoft.Compute calls (dated versions within the supported range).</summary>
    public static void RequireComputeApiVersion(HttpRequest request)
    {
        var version = RequireApiVersion(request);
        var date = version.Split("-preview")[0];
        if (string.CompareOrdinal(date, OldestApiVersion) < 0 || string.CompareOrdinal(date, NewestApiVersion) > 0)
        {
            throw new ArmRequestException(StatusCodes.Status400BadRequest, "InvalidApiVersionParameter",
                $"The api-version '{version}' is invalid. The supported versions are from '{OldestApiVersion}' to '{NewestApiVersion}'.", "api-version");
        }
    }

    /// <summary>Validates that an <c>api-version</c> is present and well formed (any date).</summary>
    public static string RequireApiVersion(HttpRequest request)
    {
        var values = request.Query["api-version"];
        if (values.Count == 0 || string.IsNullOrWhiteSpace(values[0]))
        {
            throw new ArmRequestException(StatusCodes.Status400BadRequest, "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.", "api-version");
        }

        var version = values[0]!;
        if (!ApiVersionShape().IsMatch(version))
        {
            throw new ArmRequestException(StatusCodes.Status400BadRequest, "InvalidApiVersionParameter",
                $"The api-version '{version}' is invalid. The supported versions are from '{OldestApiVersion}' to '{NewestApiVersion}'.", "api-version");
        }

        return version;
    }

    public static void RequireSubscription(string subscriptionId, string expected)
    {
        if (!Guid.TryParse(subscriptionId, out _))
        {
            throw new ArmRequestException(StatusCodes.Status400BadRequest, "InvalidSubscriptionId",
                $"The provided subscription identifier '{subscriptionId}' is malformed or invalid: it must be a GUID.", "subscriptionId");
        }

        if (!string.Equals(subscriptionId, expected, StringComparison.OrdinalIgnoreCase))
        {
            throw new ArmRequestException(StatusCodes.Status404NotFound, "SubscriptionNotFound",
                $"The subscription '{subscriptionId}' could not be found.", "subscriptionId");
        }
    }

    public static IEnumerable<ArmError> CheckResourceGroup(string name)
    {
        if (!ResourceGroupName().IsMatch(name) || name.EndsWith('.'))
        {
            yield return Invalid("InvalidResourceGroupName", "resourceGroupName",
                $"Resource group name '{name}' is invalid: use 1-90 letters, digits, '_', '-', '.', '(' or ')', not ending with '.'.");
        }
    }

    public static IEnumerable<ArmError> CheckVmName(string name)
    {
        if (!VmName().IsMatch(name) || name.EndsWith('.'))
        {
            yield return Invalid("InvalidResourceName", "vmName",
                $"Virtual machine name '{name}' is invalid: use 1-64 letters, digits, '_', '-' or '.', starting with a letter, digit or '_' and not ending with '.'.");
        }
    }

    public static IEnumerable<ArmError> CheckRunCommandName(string name)
    {
        if (!RunCommandName().IsMatch(name) || name.EndsWith('.'))
        {
            yield return Invalid("InvalidResourceName", "runCommandName",
                $"Run command name '{name}' is invalid: use 1-80 letters, digits, '_', '-' or '.', starting with a letter, digit or '_' and not ending with '.'.");
        }
    }

    /// <summary>A scale-set instance id: a whole number ("0", "1", ...).</summary>
    public static IEnumerable<ArmError> CheckInstanceId(string instanceId)
    {
        if (instanceId.Length is 0 or > 10 || !instanceId.All(char.IsAsciiDigit))
        {
            yield return Invalid("InvalidParameter", "instanceId", $"'{instanceId}' is not an instance id: instance ids are whole numbers (\"0\", \"1\", ...).");
        }
    }

    public static ArmError Invalid(string code, string target, string message) => new() { Code = code, Target = target, Message = message };
}
