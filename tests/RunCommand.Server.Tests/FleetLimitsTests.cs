using RunCommand.Server.Fleet;

namespace RunCommand.Server.Tests;

public sealed class FleetLimitsTests
{
    [Theory]
    [InlineData("5", 20, 5)]
    [InlineData("10%", 20, 2)]
    [InlineData("10%", 5, 1)]
    [InlineData("1%", 20, 1)]
    [InlineData("100%", 20, 20)]
    [InlineData(null, 20, 20)]
    public void ResolveConcurrency_CountOrPercent_RoundsUpAndIsAtLeastOne(string? given, int targets, int expected) =>
        Assert.Equal(expected, FleetLimits.ResolveConcurrency(given, targets));

    [Theory]
    [InlineData("2", 20, 2)]
    [InlineData("0", 20, 0)]
    [InlineData("5%", 20, 1)]
    [InlineData("5%", 10, 0)]
    [InlineData(null, 20, 20)]
    public void ResolveErrors_CountOrPercent_RoundsDown(string? given, int targets, int expected) =>
        Assert.Equal(expected, FleetLimits.ResolveErrors(given, targets));

    [Theory]
    [InlineData("\"10%\"", "10%")]
    [InlineData("3", "3")]
    [InlineData("\"101%\"", null)]
    [InlineData("\"-1\"", null)]
    [InlineData("\"ten\"", null)]
    [InlineData("true", null)]
    public void Read_StringOrNumber_AcceptsCountsAndPercentagesOnly(string json, string? expected)
    {
        using var document = System.Text.Json.JsonDocument.Parse($"{{\"maxErrors\":{json}}}");
        var errors = new List<RunCommand.Contracts.Arm.ArmError>();

        var read = FleetLimits.Read(document.RootElement, "maxErrors", errors);

        Assert.Equal(expected, read);
        Assert.Equal(expected is null ? 1 : 0, errors.Count);
    }
}
