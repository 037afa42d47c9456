using System.Globalization;

namespace RunCommand.Faults.Tests;

/// <summary>
/// A file every script of a test appends its own id to when it starts, so the test proves each ran exactly once.
/// Lines are short (well under PIPE_BUF) and appended with O_APPEND, so concurrent scripts never tear them.
/// </summary>
internal sealed class Ledger(string path)
{
    public string Path { get; } = path;

    /// <summary>Shell text that records <paramref name="id"/> (a constant of the test, no shell syntax in it).</summary>
    public string Record(string id) => $"echo {id} >> {Path}";

    public IReadOnlyList<string> Entries => File.Exists(Path) ? File.ReadAllLines(Path) : [];

    /// <summary>Each expected id exactly once and nothing else.</summary>
    public void AssertEachOnce(IEnumerable<string> ids)
    {
        var counts = Entries.GroupBy(e => e, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var expected = ids.ToList();
        var twice = counts.Where(c => c.Value > 1).Select(c => $"{c.Key} x{c.Value.ToString(CultureInfo.InvariantCulture)}").ToList();
        var missing = expected.Where(id => !counts.ContainsKey(id)).ToList();
        var unknown = counts.Keys.Except(expected, StringComparer.Ordinal).ToList();
        Assert.True(twice.Count == 0, "ran more than once: " + string.Join(", ", twice));
        Assert.True(missing.Count == 0, "never ran: " + string.Join(", ", missing));
        Assert.True(unknown.Count == 0, "unexpected entries: " + string.Join(", ", unknown));
    }
}
