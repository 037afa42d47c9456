using System.Globalization;

namespace RunCommand.Bench.Measure;

/// <summary>Timings of one figure, in milliseconds; percentiles by the nearest-rank method.</summary>
public sealed class Samples
{
    private readonly List<double> _values = [];

    public int Count => _values.Count;

    public void Add(double milliseconds) => _values.Add(milliseconds);

    public double P50 => Percentile(50);

    public double P99 => Percentile(99);

    public double Median => Percentile(50);

    public double Percentile(double percentile)
    {
        if (_values.Count == 0)
        {
            return double.NaN;
        }

        var sorted = _values.Order().ToList();
        var rank = (int)Math.Ceiling(percentile / 100 * sorted.Count) - 1;
        return sorted[Math.Clamp(rank, 0, sorted.Count - 1)];
    }

    public static string Ms(double milliseconds) => milliseconds.ToString(milliseconds < 100 ? "F1" : "F0", CultureInfo.InvariantCulture) + " ms";

    public static string Seconds(double milliseconds) => (milliseconds / 1000).ToString("F2", CultureInfo.InvariantCulture) + " s";

    public static string Mb(long bytes) => (bytes / 1024.0 / 1024.0).ToString("F0", CultureInfo.InvariantCulture) + " MB";

    public static string F(double value, string format = "F0") => value.ToString(format, CultureInfo.InvariantCulture);
}
