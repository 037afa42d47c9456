using System.Reflection;
using System.Text.RegularExpressions;

namespace RunCommand.Storage.Relational;

/// <summary>One numbered schema script of a backend; applied once, in order, inside the migration transaction.</summary>
public sealed record Migration(int Version, string Name, string Sql)
{
    /// <summary>
    /// The scripts embedded in <paramref name="assembly"/> under <c>Migrations/NNNN_name.sql</c>, in order. Numbers
    /// must run 1, 2, 3... without gaps, so two developers adding "the next" script collide at build time, not in production.
    /// </summary>
    public static IReadOnlyList<Migration> FromResources(Assembly assembly)
    {
        var migrations = new List<Migration>();
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            var match = Regex.Match(resource, @"Migrations\.(\d{4})_([A-Za-z0-9_]+)\.sql$");
            if (!match.Success)
            {
                continue;
            }

            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var reader = new StreamReader(stream);
            migrations.Add(new Migration(int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), match.Groups[2].Value, reader.ReadToEnd()));
        }

        migrations.Sort((a, b) => a.Version.CompareTo(b.Version));
        for (var i = 0; i < migrations.Count; i++)
        {
            if (migrations[i].Version != i + 1)
            {
                throw new InvalidOperationException($"Migrations of {assembly.GetName().Name} must be numbered 1, 2, 3... without gaps; found {migrations[i].Version} at position {i + 1}.");
            }
        }

        return migrations;
    }
}
