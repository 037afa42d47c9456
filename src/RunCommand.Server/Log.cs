namespace RunCommand.Server;

/// <summary>Every log line of the server, with stable event ids. No secret is ever a parameter here.</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Information, "RunCommand server listening on {Urls}; data in {DataDir}; subscription {SubscriptionId}, location {Location}")]
    public static partial void Started(ILogger logger, string urls, string dataDir, string subscriptionId, string location);

    [LoggerMessage(2, LogLevel.Information, "Run command {ResourceId}: {Outcome}, execution {ExecutionId}")]
    public static partial void RunCommandWritten(ILogger logger, string resourceId, string outcome, string executionId);

    [LoggerMessage(3, LogLevel.Information, "Run command {ResourceId}: delete accepted (operation {OperationId})")]
    public static partial void RunCommandDeleteAccepted(ILogger logger, string resourceId, string operationId);

    [LoggerMessage(4, LogLevel.Information, "Agent enrolled for {VmResourceId} from host {Hostname}")]
    public static partial void AgentEnrolled(ILogger logger, string vmResourceId, string? hostname);

    [LoggerMessage(5, LogLevel.Information, "Execution {ExecutionId} on {VmResourceId} is {State}")]
    public static partial void ExecutionState(ILogger logger, string executionId, string vmResourceId, string state);

    [LoggerMessage(6, LogLevel.Warning, "Refused a request to {Path}: {Reason}")]
    public static partial void Unauthorized(ILogger logger, string path, string reason);

    [LoggerMessage(7, LogLevel.Error, "Unhandled error serving {Method} {Path}")]
    public static partial void Unhandled(ILogger logger, Exception exception, string method, string path);

    [LoggerMessage(8, LogLevel.Information, "TLS: using certificate {Subject} (thumbprint {Thumbprint}, SHA-256 {Sha256}); clients trust it with --ca-cert {CertFile}, agents also with --server-fingerprint {Sha256}")]
    public static partial void Tls(ILogger logger, string subject, string thumbprint, string sha256, string certFile);

    [LoggerMessage(9, LogLevel.Critical, "Could not write the activity log entry of {Method} {Path}")]
    public static partial void AuditFailed(ILogger logger, Exception exception, string method, string path);

    [LoggerMessage(10, LogLevel.Warning, "Rate limit: refused a request of {Caller} to {Path}")]
    public static partial void RateLimited(ILogger logger, string caller, string path);

    [LoggerMessage(12, LogLevel.Information, "The {Purpose} token is the one the first node of this database minted; this node mints none ({File} {State})")]
    private static partial void WellKnownTokenFromDatabaseCore(ILogger logger, string purpose, string file, string state);

    public static void WellKnownTokenFromDatabase(ILogger logger, string purpose, string file, bool staleFile) =>
        WellKnownTokenFromDatabaseCore(logger, purpose, file, staleFile ? "holds another token, which is not accepted" : "is absent; copy it from the first node where needed");

    // Deployments: 100-109, apart from the ids other features take.
    [LoggerMessage(11, LogLevel.Warning, "Refused a request from {Address} to {Path}: too many failed authentications from that address")]
    public static partial void AuthenticationThrottled(ILogger logger, string address, string path);

    [LoggerMessage(100, LogLevel.Information, "Deployment {DeploymentId}: resumed by this node ({State}): new, restarted, or its node stopped")]
    public static partial void DeploymentResumed(ILogger logger, string deploymentId, string state);

    [LoggerMessage(101, LogLevel.Information, "Deployment {DeploymentId}: {ResourceName} started, execution {ExecutionId}")]
    public static partial void DeploymentOperationStarted(ILogger logger, string deploymentId, string resourceName, string executionId);

    [LoggerMessage(102, LogLevel.Information, "Deployment {DeploymentId}: {ResourceName} ended {State}")]
    public static partial void DeploymentOperationEnded(ILogger logger, string deploymentId, string resourceName, string state);

    [LoggerMessage(103, LogLevel.Information, "Deployment {DeploymentId}: {State}")]
    public static partial void DeploymentFinished(ILogger logger, string deploymentId, string state);

    [LoggerMessage(104, LogLevel.Critical, "Deployment runner failed on {DeploymentId}; stopping the server")]
    public static partial void DeploymentRunnerFailed(ILogger logger, Exception exception, string deploymentId);

    [LoggerMessage(105, LogLevel.Warning, "Storage full: {Method} {Path} answered 507 and nothing of it was stored ({Detail})")]
    public static partial void StorageFull(ILogger logger, string method, string path, string detail);

    [LoggerMessage(106, LogLevel.Warning, "Storage unavailable to {Component} ({Reason}); retrying in {DelaySeconds} s")]
    public static partial void BackgroundStorageUnavailable(ILogger logger, string component, string reason, double delaySeconds);

    [LoggerMessage(107, LogLevel.Warning, "Storage busy: {Method} {Path} answered 503 after its transaction kept conflicting ({Detail})")]
    public static partial void StorageBusy(ILogger logger, string method, string path, string detail);

    [LoggerMessage(108, LogLevel.Information, "Retention: deleted {Executions} finished executions and {OutputBytes} bytes of output (ended before {Cutoff:o} or over the budget of {BudgetBytes} bytes)")]
    public static partial void Pruned(ILogger logger, int executions, long outputBytes, DateTimeOffset cutoff, long budgetBytes);

    [LoggerMessage(110, LogLevel.Warning, "Agent assertions: the database cannot record one ({Reason}); this node alone refuses its replay until space returns")]
    public static partial void AssertionReplayStoreUnavailable(ILogger logger, string reason);

    [LoggerMessage(111, LogLevel.Warning, "Agent assertions: purging expired ids failed ({Reason}); the next purge, a minute later, retries")]
    public static partial void AssertionPurgeFailed(ILogger logger, string reason);

    [LoggerMessage(121, LogLevel.Warning, "Agent presence: writing agents' last contacts failed ({Reason}); the next write retries")]
    public static partial void PresenceWriteFailed(ILogger logger, string reason);

    [LoggerMessage(13, LogLevel.Information, "Agent of {VmResourceId} signed off (stopping); shown Disconnected")]
    public static partial void AgentSignedOff(ILogger logger, string vmResourceId);

    [LoggerMessage(120, LogLevel.Warning, "Not ready: {Reason}")]
    public static partial void NotReady(ILogger logger, string reason);

    [LoggerMessage(400, LogLevel.Information, "Storage: {Backend}, schema version {SchemaVersion}")]
    public static partial void StorageReady(ILogger logger, string backend, int schemaVersion);
}
