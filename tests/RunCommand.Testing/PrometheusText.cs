using System.Globalization;
using System.Text.RegularExpressions;

namespace RunCommand.Testing;

/// <summary>
/// Reads the Prometheus text exposition format (0.0.4) strictly: every line must be a <c># HELP</c>/<c># TYPE</c> line
/// or a sample <c>name{label="value",...} number [timestamp]</c>; anything else is an error naming the line.
/// </summary>
public static partial class PrometheusText
{
    /// <summary>The samples by <c>name{labels}</c> as written; throws <see cref="FormatException"/> on a line that is neither.</summary>
    public static Dictionary<string, double> Parse(string text)
    {
        var samples = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (line.StartsWith('#'))
            {
                if (!MetaLine().IsMatch(line))
                {
                    throw new FormatException($"not a Prometheus comment line: '{line}'");
                }

                continue;
            }

            var match = SampleLine().Match(line);
            if (!match.Success)
            {
                throw new FormatException($"not a Prometheus sample line: '{line}'");
            }

            samples[match.Groups["key"].Value] = match.Groups["value"].Value switch
            {
                "+Inf" => double.PositiveInfinity,
                "-Inf" => double.NegativeInfinity,
                var v => double.Parse(v, CultureInfo.InvariantCulture),
            };
        }

        return samples;
    }

    /// <summary>The sum of every series of <paramref name="name"/> whose labels contain <paramref name="label"/>.</summary>
    public static double Sum(Dictionary<string, double> samples, string name, string label) =>
        samples.Where(s => s.Key.StartsWith(name + "{", StringComparison.Ordinal) && s.Key.Contains(label, StringComparison.Ordinal)).Sum(s => s.Value);

    [GeneratedRegex(@"^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .*$")]
    private static partial Regex MetaLine();

    [GeneratedRegex(@"^(?<key>[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*=""([^""\\]|\\.)*"",?)*\})?) (?<value>[-+]?([0-9.]+([eE][-+]?[0-9]+)?|Inf|NaN))( [0-9]+)?$")]
    private static partial Regex SampleLine();
}
