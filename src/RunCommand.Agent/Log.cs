using Microsoft.Extensions.Logging;

namespace RunCommand.Agent;

/// <summary>
/// Every log line of the agent, with stable event ids: 1xxx connection and enrollment, 2xxx executions.
/// No message takes a secret: tokens, protected values, passwords and script URIs never reach a log.
/// </summary>
internal static partial class Log
{
    [LoggerMessage(1000, LogLevel.Information, "Agent {Version} starting as {Machine} (resource group {ResourceGroup}), server {Server}")]
    public static partial void AgentStarting(ILogger logger, string version, string machine, string resourceGroup, string server);

    [LoggerMessage(1001, LogLevel.Information, "Enrolled as {VmResourceId}; agent credential saved to {CredentialPath}")]
    public static partial void Enrolled(ILogger logger, string vmResourceId, string credentialPath);

    [LoggerMessage(1002, LogLevel.Information, "Using the saved agent token {TokenPath}")]
    public static partial void UsingSavedToken(ILogger logger, string tokenPath);

    [LoggerMessage(1003, LogLevel.Critical, "The server refused the enrollment token from {TokenFile} (HTTP {StatusCode}); get a fresh one from the server's data dir")]
    public static partial void EnrollmentRejected(ILogger logger, string tokenFile, int statusCode);

    [LoggerMessage(1004, LogLevel.Critical, "The server refused this agent's credential (HTTP 401): it was revoked or the VM enrolled elsewhere. Delete {CredentialPath} and restart to enroll again")]
    public static partial void AgentTokenRejected(ILogger logger, string credentialPath);

    [LoggerMessage(1019, LogLevel.Warning, "The server refused a poll's credential (HTTP {StatusCode}); polling again at once with a new one: a request sent twice over a broken connection is refused as a replay, a revoked credential again")]
    public static partial void PollRefusedOnce(ILogger logger, int statusCode);

    [LoggerMessage(1012, LogLevel.Information, "Using the saved agent key {KeyPath} as {VmResourceId}")]
    public static partial void UsingSavedKey(ILogger logger, string keyPath, string vmResourceId);

    [LoggerMessage(1013, LogLevel.Critical, "Cannot read the agent key {KeyPath}: {Detail}; delete it and restart to enroll again")]
    public static partial void AgentKeyUnreadable(ILogger logger, string keyPath, string detail);

    [LoggerMessage(1014, LogLevel.Warning, "Server {Server} is gone ({Kind}); moving to {Next}")]
    public static partial void MovingToServer(ILogger logger, string server, string kind, string next);

    [LoggerMessage(1005, LogLevel.Warning, "Cannot reach the server ({Kind}: {Detail}); retrying with backoff, next in {DelayMs} ms (further failures of this kind are not logged)")]
    public static partial void ServerUnreachable(ILogger logger, string kind, string detail, long delayMs);

    [LoggerMessage(1006, LogLevel.Information, "Connected to the server again")]
    public static partial void ServerReachableAgain(ILogger logger);

    [LoggerMessage(1007, LogLevel.Information, "Shutting down: polling stopped, running scripts keep running and are picked up at the next start")]
    public static partial void ShuttingDown(ILogger logger);

    // 1008 was "tags not sent"; tags now travel with the enrollment. Event ids are not reused.

    [LoggerMessage(1009, LogLevel.Critical, "Cannot read the enrollment token file {TokenFile}: {Detail}")]
    public static partial void EnrollTokenUnreadable(ILogger logger, string tokenFile, string detail);

    [LoggerMessage(1010, LogLevel.Warning, "Goal state lists execution id {ExecutionId} that is not a safe directory name; ignored")]
    public static partial void UnsafeExecutionId(ILogger logger, string executionId);

    [LoggerMessage(1011, LogLevel.Critical, "The server answered HTTP {StatusCode} to {Operation}; giving up")]
    public static partial void ServerRefused(ILogger logger, int statusCode, string operation);

    [LoggerMessage(2000, LogLevel.Information, "Execution {ExecutionId} of run command {RunCommandName} accepted")]
    public static partial void ExecutionAccepted(ILogger logger, string executionId, string runCommandName);

    [LoggerMessage(2001, LogLevel.Information, "Execution {ExecutionId} started as process group {Pgid}")]
    public static partial void ExecutionStarted(ILogger logger, string executionId, int pgid);

    [LoggerMessage(2002, LogLevel.Information, "Execution {ExecutionId} ended: {State} (exit code {ExitCode}) {Message}")]
    public static partial void ExecutionEnded(ILogger logger, string executionId, string state, int? exitCode, string? message);

    [LoggerMessage(2003, LogLevel.Information, "Execution {ExecutionId} re-attached to its running process group {Pgid}")]
    public static partial void ExecutionReattached(ILogger logger, string executionId, int pgid);

    [LoggerMessage(2004, LogLevel.Information, "Terminating execution {ExecutionId} (process group {Pgid}): {Reason}")]
    public static partial void Terminating(ILogger logger, string executionId, int pgid, string reason);

    [LoggerMessage(2005, LogLevel.Warning, "Execution {ExecutionId}: process group {Pgid} outlived the grace period; sent SIGKILL")]
    public static partial void GroupKilled(ILogger logger, string executionId, int pgid);

    [LoggerMessage(2006, LogLevel.Warning, "Execution {ExecutionId}: report failed ({Kind}: {Detail}); will retry (further failures of this kind are not logged)")]
    public static partial void ReportFailed(ILogger logger, string executionId, string kind, string detail);

    [LoggerMessage(2007, LogLevel.Warning, "Execution {ExecutionId} is unknown to the server (HTTP 404); stopped reporting it")]
    public static partial void ExecutionUnknownToServer(ILogger logger, string executionId);

    [LoggerMessage(2008, LogLevel.Error, "Execution {ExecutionId}: unexpected agent error")]
    public static partial void ExecutionCrashed(ILogger logger, string executionId, Exception exception);

    [LoggerMessage(2009, LogLevel.Information, "Execution {ExecutionId}: resending its final report")]
    public static partial void ResendingFinalReport(ILogger logger, string executionId);

    [LoggerMessage(2010, LogLevel.Warning, "Execution {ExecutionId}: the server stopped accepting output at stdout {StdoutLength}, stderr {StderrLength} bytes")]
    public static partial void OutputStalled(ILogger logger, string executionId, long stdoutLength, long stderrLength);

    [LoggerMessage(2011, LogLevel.Information, "Execution {ExecutionId}: script downloaded from host {Host} ({Bytes} bytes, attempt {Attempt})")]
    public static partial void ScriptDownloaded(ILogger logger, string executionId, string host, int bytes, int attempt);

    [LoggerMessage(2012, LogLevel.Warning, "Execution {ExecutionId}: {Failure}; retrying in {DelayMs} ms")]
    public static partial void ScriptDownloadRetry(ILogger logger, string executionId, string failure, long delayMs);

    [LoggerMessage(2013, LogLevel.Warning, "Execution {ExecutionId}: {Blob} blob call failed ({Detail}); will retry")]
    public static partial void BlobFailed(ILogger logger, string executionId, string blob, string detail);

    [LoggerMessage(2014, LogLevel.Warning, "Execution {ExecutionId}: gave up writing the {Blob} blob ({Detail}); the execution goes on")]
    public static partial void BlobGivenUp(ILogger logger, string executionId, string blob, string detail);

    [LoggerMessage(2015, LogLevel.Information, "Tracking each script's processes with {Mode} (cgroups under {CgroupRoot})")]
    public static partial void ProcessTracking(ILogger logger, RunCommand.Agent.Execution.ProcessTrackingMode mode, string cgroupRoot);

    [LoggerMessage(2016, LogLevel.Warning, "Execution {ExecutionId}: cannot make its cgroup {Cgroup} ({Detail}); only its process group is tracked")]
    public static partial void CgroupUnavailable(ILogger logger, string executionId, string cgroup, string detail);

    [LoggerMessage(2017, LogLevel.Error, "Execution {ExecutionId}: cannot save its state ({Detail}); going on from memory")]
    public static partial void StateNotSaved(ILogger logger, string executionId, string detail);

    [LoggerMessage(2018, LogLevel.Error, "Execution {ExecutionId}: cannot record it in the state dir ({Detail}); not started, reporting it Failed")]
    public static partial void CannotAccept(ILogger logger, string executionId, string detail);

    [LoggerMessage(2019, LogLevel.Information, "Retention: deleted {Count} reported executions ({Bytes} bytes) that were old or over the budget")]
    public static partial void ExecutionsPruned(ILogger logger, int count, long bytes);

    [LoggerMessage(2020, LogLevel.Information, "Execution {ExecutionId}: its run command was deleted; deleted its files ({Bytes} bytes)")]
    public static partial void ExecutionForgotten(ILogger logger, string executionId, long bytes);

    [LoggerMessage(2021, LogLevel.Warning, "Execution {ExecutionId}: its run command was deleted but its files could not be deleted ({Reason}); trying again later")]
    public static partial void CannotForget(ILogger logger, string executionId, string reason);

    [LoggerMessage(2022, LogLevel.Warning, "Cannot keep a wrapper spawned ahead of the next script ({Detail}); each script starts a fresh one, a few milliseconds later")]
    public static partial void SpareWrapperFailed(ILogger logger, string detail);

    [LoggerMessage(1015, LogLevel.Information, "Signed off: the server shows this machine Disconnected until the agent starts again")]
    public static partial void SignedOff(ILogger logger);

    [LoggerMessage(1016, LogLevel.Warning, "Could not sign off ({Reason}); the server shows this machine Disconnected once its presence window ends")]
    public static partial void SignOffFailed(ILogger logger, string reason);

    [LoggerMessage(1017, LogLevel.Information, "Metrics: serving Prometheus text at http://{Address}/metrics")]
    public static partial void MetricsListening(ILogger logger, string address);

    [LoggerMessage(1018, LogLevel.Warning, "Metrics: could not accept a connection ({Reason})")]
    public static partial void MetricsAcceptFailed(ILogger logger, string reason);
}
