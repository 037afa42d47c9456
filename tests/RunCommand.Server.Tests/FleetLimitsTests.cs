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

    [Fact]
    public void StartRound_NoFailureCanReachMaxErrors_SendsEveryBatchAtOnce() =>
        Assert.Equal([100, 100, 100, 50], FleetLimits.StartRound(waiting: 350, freeSlots: 1000, failures: 0, maxErrors: 350, batchSize: 100, maxBatches: 10));

    [Fact]
    public void StartRound_FailuresOfThisRoundCouldExceedMaxErrors_SendsOneBatch()
    {
        // Had all 350 failed, 2 + 350 > 351: the first batch's failures must be counted before the next starts.
        Assert.Equal([100], FleetLimits.StartRound(waiting: 350, freeSlots: 1000, failures: 2, maxErrors: 351, batchSize: 100, maxBatches: 10));
        Assert.Equal([100], FleetLimits.StartRound(waiting: 350, freeSlots: 1000, failures: 0, maxErrors: 0, batchSize: 100, maxBatches: 10));
    }

    [Fact]
    public void StartRound_IsBoundedByFreeSlotsAndBatchesInFlight()
    {
        Assert.Equal([100, 20], FleetLimits.StartRound(waiting: 350, freeSlots: 120, failures: 0, maxErrors: 350, batchSize: 100, maxBatches: 10));
        Assert.Equal([100, 100], FleetLimits.StartRound(waiting: 10_000, freeSlots: 10_000, failures: 0, maxErrors: 10_000, batchSize: 100, maxBatches: 2));
        Assert.Equal([5], FleetLimits.StartRound(waiting: 350, freeSlots: 5, failures: 3, maxErrors: 3, batchSize: 100, maxBatches: 10));
        Assert.Empty(FleetLimits.StartRound(waiting: 350, freeSlots: 0, failures: 0, maxErrors: 350, batchSize: 100, maxBatches: 10));
    }
}
