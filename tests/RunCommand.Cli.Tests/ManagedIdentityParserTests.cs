using RunCommand.Cli;
using RunCommand.Cli.Input;

namespace RunCommand.Cli.Tests;

public sealed class ManagedIdentityParserTests
{
    [Theory]
    [InlineData("clientId=abc", "abc", null)]
    [InlineData("{clientId:abc}", "abc", null)]
    [InlineData("""{"clientId": "abc"}""", "abc", null)]
    [InlineData("objectId=0f1e", null, "0f1e")]
    [InlineData("{objectId:0f1e}", null, "0f1e")]
    [InlineData("{}", null, null)]
    [InlineData("", null, null)]
    public void Parse_AzSpellings_GiveTheIdentity(string value, string? clientId, string? objectId)
    {
        var identity = ManagedIdentityParser.Parse("--output-blob-managed-identity", value);

        Assert.NotNull(identity);
        Assert.Equal(clientId, identity.ClientId);
        Assert.Equal(objectId, identity.ObjectId);
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("tenantId=abc")]
    [InlineData("clientId=")]
    [InlineData("{clientId:a,objectId:b}")]
    public void Parse_NotAnIdentity_IsAUsageErrorNamingTheOption(string value)
    {
        var error = Assert.Throws<CliException>(() => ManagedIdentityParser.Parse("--error-blob-managed-identity", value));

        Assert.StartsWith("--error-blob-managed-identity: ", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_NotGiven_IsNull() => Assert.Null(ManagedIdentityParser.Parse("--script-uri-managed-identity", null));
}
