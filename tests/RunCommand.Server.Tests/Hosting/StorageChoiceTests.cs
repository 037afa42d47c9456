using RunCommand.Server.Hosting;

namespace RunCommand.Server.Tests.Hosting;

public sealed class StorageChoiceTests
{
    [Fact]
    public void IsValidPostgres_HostAndDatabase_IsAccepted()
    {
        Assert.True(StorageChoice.IsValidPostgres("Host=db;Database=runcmd;Username=runcmd;Password=s3cret-pw", out var error));
        Assert.Null(error);
    }

    [Theory]
    [InlineData("Database=runcmd;Password=s3cret-pw")]
    [InlineData("Host=db;Bogus Keyword=1;Password=s3cret-pw")]
    [InlineData("Host=db;Port=not-a-port;Password=s3cret-pw")]
    public void IsValidPostgres_Invalid_SaysWhyWithoutQuotingThePassword(string connectionString)
    {
        Assert.False(StorageChoice.IsValidPostgres(connectionString, out var error));
        Assert.False(string.IsNullOrWhiteSpace(error));
        Assert.DoesNotContain("s3cret-pw", error, StringComparison.Ordinal);
    }
}
