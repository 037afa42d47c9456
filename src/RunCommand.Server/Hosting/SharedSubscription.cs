using System.Text;
using RunCommand.Storage;

namespace RunCommand.Server.Hosting;

/// <summary>
/// One database serves one subscription, whichever node answers: the first node to start records its subscription
/// in the database (beside the well-known tokens' hashes), and a later node with a fresh data dir adopts it (and
/// keeps it in its <c>subscription.id</c>). A node told another one with <c>--subscription</c> refuses to start.
/// </summary>
public static class SharedSubscription
{
    public const string Purpose = "subscription";

    /// <summary>The subscription this node serves, or (null, why not).</summary>
    public static async Task<(string? Subscription, string? Problem)> AgreeAsync(IIdentityStore store, DataDirectory dataDir, string? configured, CancellationToken cancellationToken)
    {
        var mine = dataDir.ResolveSubscription(configured);
        var agreed = Encoding.UTF8.GetString(await store.SetTokenHashIfAbsentAsync(Purpose, Encoding.UTF8.GetBytes(mine), cancellationToken));
        if (agreed == mine)
        {
            return (mine, null);
        }

        if (configured is not null)
        {
            return (null, $"--subscription {mine} was given, but this database serves subscription {agreed}");
        }

        dataDir.KeepSubscription(agreed);
        return (agreed, null);
    }
}
