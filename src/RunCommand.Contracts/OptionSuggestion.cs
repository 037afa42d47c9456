namespace RunCommand.Contracts;

/// <summary>
/// The valid option nearest to a misspelt one (by edit distance), for the "did you mean" of the server's and the
/// agent's command lines.
/// </summary>
public static class OptionSuggestion
{
    /// <summary>The nearest of <paramref name="known"/>, or null when none is within a quarter of its length (at least 2 edits).</summary>
    public static string? Nearest(string given, IEnumerable<string> known)
    {
        string? best = null;
        var bestDistance = int.MaxValue;
        foreach (var candidate in known)
        {
            var distance = Distance(given.ToLowerInvariant(), candidate.ToLowerInvariant());
            if (distance < bestDistance)
            {
                (best, bestDistance) = (candidate, distance);
            }
        }

        return best is not null && bestDistance <= Math.Max(2, best.Length / 4) ? best : null;
    }

    /// <summary>"unknown option 'x'" with the nearest valid one, as every program of RunCommand words it.</summary>
    public static string UnknownOption(string given, IEnumerable<string> known) =>
        Nearest(given, known) is { } nearest
            ? $"unknown option '{given}'; did you mean '{nearest}'? (see --help)"
            : $"unknown option '{given}' (see --help)";

    // Levenshtein distance with two rows.
    private static int Distance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
            }

            (previous, current) = (current, previous);
        }

        return previous[b.Length];
    }
}
