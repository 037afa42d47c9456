using Microsoft.Extensions.Logging.Abstractions;
using RunCommand.Server.Auth;
using RunCommand.Server.Hosting;
using RunCommand.Server.Secrets;

namespace RunCommand.Server.Tests.Auth;

/// <summary>
/// Several nodes on one database (issue 8 item 3): the first node's admin and enrollment tokens are everyone's, a later
/// node mints no competing one, and nodes must share the secrets key. Real SQLite database file; each "node" is a
/// TokenService with its own data dir.
/// </summary>
public sealed class WellKnownTokenTests() : SqliteStoreTests("rc-tokens-")
{

    private DataDirectory Node(string name)
    {
        var dir = new DataDirectory(Path.Combine(Root, name));
        dir.EnsureExists();
        return dir;
    }

    [Fact]
    public async Task EnsureWellKnownTokens_LaterNodeOnSharedDatabase_AcceptsFirstNodesTokensAndMintsNone()
    {
        var (first, later) = (Node("a"), Node("b"));
        var a = new TokenService(Storage.Identity);
        await a.EnsureWellKnownTokensAsync(first, databaseIsLocal: false, NullLogger.Instance, CancellationToken.None);
        var b = new TokenService(Storage.Identity);
        await b.EnsureWellKnownTokensAsync(later, databaseIsLocal: false, NullLogger.Instance, CancellationToken.None);

        var admin = File.ReadAllText(first.AdminTokenFile).Trim();
        var enroll = File.ReadAllText(first.EnrollTokenFile).Trim();
        Assert.False(File.Exists(later.AdminTokenFile));
        Assert.False(File.Exists(later.EnrollTokenFile));
        Assert.True(b.IsAdmin(admin));
        Assert.True(b.IsEnrollment(enroll));
        Assert.True(a.IsAdmin(admin));
    }

    [Fact]
    public async Task EnsureWellKnownTokens_LaterNodeWithStaleFile_KeepsTheStoredAdmin()
    {
        var (first, later) = (Node("a"), Node("b"));
        await new TokenService(Storage.Identity).EnsureWellKnownTokensAsync(first, databaseIsLocal: false, NullLogger.Instance, CancellationToken.None);
        File.WriteAllText(later.AdminTokenFile, "rca_not-the-real-one\n");
        var b = new TokenService(Storage.Identity);

        await b.EnsureWellKnownTokensAsync(later, databaseIsLocal: false, NullLogger.Instance, CancellationToken.None);

        Assert.False(b.IsAdmin("rca_not-the-real-one"));
        Assert.True(b.IsAdmin(File.ReadAllText(first.AdminTokenFile).Trim()));
    }

    [Fact]
    public async Task EnsureWellKnownTokens_TwoNodesAtOnceOnEmptyDatabase_AgreeOnOneAdmin()
    {
        var nodes = Enumerable.Range(0, 4).Select(i => (Dir: Node("n" + i), Tokens: new TokenService(Storage.Identity))).ToList();

        await Task.WhenAll(nodes.Select(n => Task.Run(() => n.Tokens.EnsureWellKnownTokensAsync(n.Dir, databaseIsLocal: false, NullLogger.Instance, CancellationToken.None))));

        var files = nodes.Where(n => File.Exists(n.Dir.AdminTokenFile)).ToList();
        var admin = Assert.Single(files).Dir.AdminTokenFile;
        Assert.All(nodes, n => Assert.True(n.Tokens.IsAdmin(File.ReadAllText(admin).Trim())));
    }

    [Fact]
    public async Task EnsureWellKnownTokens_LocalDatabaseFileRemoved_RotatesTheToken()
    {
        var dir = Node("a");
        await new TokenService(Storage.Identity).EnsureWellKnownTokensAsync(dir, databaseIsLocal: true, NullLogger.Instance, CancellationToken.None);
        var old = File.ReadAllText(dir.AdminTokenFile).Trim();
        File.Delete(dir.AdminTokenFile);
        var restarted = new TokenService(Storage.Identity);

        await restarted.EnsureWellKnownTokensAsync(dir, databaseIsLocal: true, NullLogger.Instance, CancellationToken.None);

        Assert.False(restarted.IsAdmin(old));
        Assert.True(restarted.IsAdmin(File.ReadAllText(dir.AdminTokenFile).Trim()));
    }

    [Fact]
    public async Task SecretsKeyCheck_SameKeyFileOnEveryNode_IsAccepted()
    {
        var key = Path.Combine(Root, "secrets.key");
        Assert.Null(await SecretsKeyCheck.VerifyAsync(key, Storage.Identity, CancellationToken.None));
        var copy = Path.Combine(Node("b").Path, "secrets.key");
        File.Copy(key, copy);

        Assert.Null(await SecretsKeyCheck.VerifyAsync(copy, Storage.Identity, CancellationToken.None));
    }

    [Fact]
    public async Task SecretsKeyCheck_OtherKeyOrNoKeyFile_IsRefusedWithoutCreatingOne()
    {
        Assert.Null(await SecretsKeyCheck.VerifyAsync(Path.Combine(Node("a").Path, "secrets.key"), Storage.Identity, CancellationToken.None));
        var missing = Path.Combine(Node("b").Path, "secrets.key");
        var other = Path.Combine(Node("c").Path, "secrets.key");
        File.WriteAllBytes(other, System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));

        var noFile = await SecretsKeyCheck.VerifyAsync(missing, Storage.Identity, CancellationToken.None);
        var wrongKey = await SecretsKeyCheck.VerifyAsync(other, Storage.Identity, CancellationToken.None);

        Assert.Contains("does not exist", noFile, StringComparison.Ordinal);
        Assert.False(File.Exists(missing));
        Assert.Contains("is not the key this database's secrets are sealed with", wrongKey, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SharedSubscription_LaterNodeWithFreshDataDir_AdoptsTheDatabasesSubscription()
    {
        var (first, later) = (Node("a"), Node("b"));
        var (served, _) = await SharedSubscription.AgreeAsync(Storage.Identity, first, null, CancellationToken.None);

        var (adopted, problem) = await SharedSubscription.AgreeAsync(Storage.Identity, later, null, CancellationToken.None);

        Assert.Null(problem);
        Assert.Equal(served, adopted);
        Assert.Equal(served, File.ReadAllText(later.SubscriptionFile).Trim());
    }

    [Fact]
    public async Task SharedSubscription_OtherSubscriptionConfigured_IsRefused()
    {
        await SharedSubscription.AgreeAsync(Storage.Identity, Node("a"), null, CancellationToken.None);

        var (subscription, problem) = await SharedSubscription.AgreeAsync(Storage.Identity, Node("b"), Guid.NewGuid().ToString(), CancellationToken.None);

        Assert.Null(subscription);
        Assert.Contains("this database serves subscription", problem, StringComparison.Ordinal);
    }
}
