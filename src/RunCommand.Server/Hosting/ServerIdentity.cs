namespace RunCommand.Server.Hosting;

/// <summary>The subscription and location this server hosts, resolved once at start-up.</summary>
public sealed record ServerIdentity(string SubscriptionId, string Location);
