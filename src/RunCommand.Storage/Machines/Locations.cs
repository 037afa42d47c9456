namespace RunCommand.Storage;

/// <summary>How ARM compares Azure locations: "East US" and "eastus" are the same region.</summary>
public static class Locations
{
    /// <summary>True when <paramref name="a"/> and <paramref name="b"/> name the same location, ignoring case and spaces.</summary>
    public static bool Same(string a, string b) =>
        string.Equals(a.Replace(" ", "", StringComparison.Ordinal), b.Replace(" ", "", StringComparison.Ordinal), StringComparison.OrdinalIgnoreCase);
}
