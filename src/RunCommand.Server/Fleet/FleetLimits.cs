using System.Globalization;
using System.Text.Json;
using RunCommand.Contracts.Arm;
using RunCommand.Server.Arm;

namespace RunCommand.Server.Fleet;

/// <summary>
/// <c>maxConcurrency</c> and <c>maxErrors</c>: a count ("10") or a percentage of the targets ("10%"). A concurrency
/// percentage rounds up and is at least 1 (10% of 5 targets runs one at a time, never none); an error percentage rounds
/// down (5% of 20 targets tolerates one failure).
/// </summary>
public static class FleetLimits
{
    /// <summary>Reads a limit given as a JSON string or number; null when absent.</summary>
    public static string? Read(JsonElement properties, string name, List<ArmError> errors)
    {
        if (!properties.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        var text = value.ValueKind switch
        {
            JsonValueKind.String => value.GetString()!,
            JsonValueKind.Number => value.GetRawText(),
            _ => null,
        };
        if (text is null || !TryParse(text, out _, out _))
        {
            errors.Add(ArmNames.Invalid("InvalidParameter", "properties." + name,
                $"'{name}' must be a whole number (\"10\") or a percentage of the targets (\"10%\", 0-100)."));
            return null;
        }

        return text.Trim();
    }

    public static int ResolveConcurrency(string? text, int targets)
    {
        if (text is null || !TryParse(text, out var value, out var percent))
        {
            return Math.Max(1, targets);
        }

        var resolved = percent ? (int)Math.Ceiling(value * targets / 100.0) : value;
        return Math.Max(1, resolved);
    }

    public static int ResolveErrors(string? text, int targets)
    {
        if (text is null || !TryParse(text, out var value, out var percent))
        {
            return targets;
        }

        return percent ? (int)Math.Floor(value * targets / 100.0) : value;
    }

    private static bool TryParse(string text, out int value, out bool percent)
    {
        text = text.Trim();
        percent = text.EndsWith('%');
        var number = percent ? text[..^1] : text;
        return int.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out value) && (!percent || value <= 100);
    }
}
