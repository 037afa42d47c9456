using RunCommand.Contracts.Arm;

namespace RunCommand.Storage;

/// <summary>
/// Everything the server persists, in the server's own verbs. Each backend (SQLite embedded, PostgreSQL for
/// several nodes) writes its own SQL. Every method is atomic: when it returns, what it did is durable; when
/// it throws, it did nothing. Secrets reach the store sealed and are never inspected here.
/// </summary>
public interface IRunCommandStore
{
    /// <summary>Creates or migrates the schema. Called once at start-up.</summary>
    Task InitializeAsync(CancellationToken cancellationToken);

    // ---- credentials ----

    /// <summary>Stores the SHA-256 of a well-known token ("admin", "enroll"), replacing the previous one.</summary>
    Task SetTokenHashAsync(string purpose, byte[] tokenHash, CancellationToken cancellationToken);

    /// <summary>The stored hash for a purpose, or null.</summary>
    Task<byte[]?> GetTokenHashAsync(string purpose, CancellationToken cancellationToken);

    /// <summary>
    /// Stores <paramref name="tokenHash"/> for a purpose that has none yet, atomically; returns the hash stored afterwards
    /// (this one, or the one another node stored first). Two nodes bootstrapping one database at once agree on one value.
    /// </summary>
    Task<byte[]> AddTokenHashIfAbsentAsync(string purpose, byte[] tokenHash, CancellationToken cancellationToken);

    /// <summary>
    /// Enrolls an agent for a VM: creates the VM if it does not exist (with <paramref name="tags"/>; an existing VM keeps
    /// its tags), and replaces the VM's agent credential with <paramref name="agentTokenHash"/> or
    /// <paramref name="agentPublicKey"/> (exactly one is non-null; a previous agent of that VM is refused from then on).
    /// </summary>
    Task<VmRecord> EnrollAgentAsync(VmKey vm, string location, byte[]? agentTokenHash, byte[]? agentPublicKey, string? hostname, string? agentVersion, IReadOnlyDictionary<string, string>? tags, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>
    /// Enrolls an agent as a new instance of a scale set: creates the scale set if it does not exist, hands out the next
    /// instance id ("0", "1", ...; never reused) and binds the credential to that instance. The agent keeps its
    /// credential, so a restarted agent stays the same instance.
    /// </summary>
    Task<VmRecord> EnrollScaleSetInstanceAsync(string subscriptionId, string resourceGroup, string scaleSetName, string location, byte[]? agentTokenHash, byte[]? agentPublicKey, string? hostname, string? agentVersion, IReadOnlyDictionary<string, string>? tags, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>The VM whose agent holds this credential, or null.</summary>
    Task<VmRecord?> FindVmByAgentTokenAsync(byte[] agentTokenHash, CancellationToken cancellationToken);

    /// <summary>
    /// The VM or scale-set instance with this resource id (any casing) and the public key (SubjectPublicKeyInfo) its
    /// agent enrolled with; null when there is no such machine or its agent has no key (enrolled with a token, or revoked).
    /// </summary>
    Task<(VmRecord Vm, byte[] PublicKey)?> FindVmAgentKeyAsync(string vmResourceId, CancellationToken cancellationToken);

    /// <summary>
    /// Removes the VM's agent credential (token hash and public key): its agent is refused from the next request on, until an agent enrolls
    /// again with an enrollment token. False when the VM does not exist.
    /// </summary>
    Task<bool> RevokeAgentAsync(VmKey vm, CancellationToken cancellationToken);

    /// <summary>Records that the VM's agent called now.</summary>
    Task TouchAgentAsync(VmKey vm, DateTimeOffset now, CancellationToken cancellationToken);

    // ---- VMs ----

    Task<VmRecord?> GetVmAsync(VmKey vm, CancellationToken cancellationToken);

    /// <summary>VMs (not scale-set instances) of a subscription, optionally of one resource group, ordered by resource group then name.</summary>
    Task<IReadOnlyList<VmRecord>> ListVmsAsync(string subscriptionId, string? resourceGroup, CancellationToken cancellationToken);

    /// <summary>Every machine (VMs and scale-set instances) of a subscription, optionally of one resource group.</summary>
    Task<IReadOnlyList<VmRecord>> ListMachinesAsync(string subscriptionId, string? resourceGroup, CancellationToken cancellationToken);

    /// <summary>Replaces a VM's tags; null when the VM does not exist.</summary>
    Task<VmRecord?> SetVmTagsAsync(VmKey vm, IReadOnlyDictionary<string, string>? tags, CancellationToken cancellationToken);

    // ---- scale sets ----

    Task<ScaleSetRecord?> GetScaleSetAsync(string subscriptionId, string resourceGroup, string scaleSetName, CancellationToken cancellationToken);

    /// <summary>Instances of a scale set, ordered by instance id (numerically).</summary>
    Task<IReadOnlyList<VmRecord>> ListScaleSetInstancesAsync(string subscriptionId, string resourceGroup, string scaleSetName, CancellationToken cancellationToken);

    // ---- run commands ----

    /// <summary>
    /// Creates or updates a run command. When the fingerprint is unchanged nothing happens (no re-run). Otherwise
    /// a new execution (Pending) is recorded for the agent, a still-running previous execution is asked to stop,
    /// and a new operation is started; its id is the record's <see cref="RunCommandRecord.OperationId"/>.
    /// </summary>
    Task<WriteOutcome> PutRunCommandAsync(RunCommandWrite write, string newExecutionId, string newOperationId, DateTimeOffset now, CancellationToken cancellationToken);

    Task<RunCommandRecord?> GetRunCommandAsync(RunCommandKey command, CancellationToken cancellationToken);

    /// <summary>A page of a VM's run commands ordered by name (case-insensitive), starting after <paramref name="afterName"/>.</summary>
    Task<IReadOnlyList<RunCommandRecord>> ListRunCommandsAsync(VmKey vm, string? afterName, int pageSize, CancellationToken cancellationToken);

    /// <summary>
    /// Accepts a delete: an execution that never reached the agent is canceled at once, a running one is asked to
    /// stop, and the resource disappears as soon as its execution has ended.
    /// </summary>
    Task<DeleteOutcome> DeleteRunCommandAsync(RunCommandKey command, string newOperationId, DateTimeOffset now, CancellationToken cancellationToken);

    Task<OperationRecord?> GetOperationAsync(string operationId, CancellationToken cancellationToken);

    Task<ExecutionRecord?> GetExecutionAsync(string executionId, CancellationToken cancellationToken);

    /// <summary>
    /// Starts an action-style run: records a Pending execution for the VM's agent and an "action" operation tracking
    /// it. Returns false (and does nothing) when the VM does not exist.
    /// </summary>
    Task<bool> StartActionRunAsync(ActionRunWrite write, string newExecutionId, string newOperationId, DateTimeOffset now, CancellationToken cancellationToken);

    // ---- custom command documents ----

    /// <summary>Creates or replaces a custom command document (ids compare case-insensitively); true when it was new.</summary>
    Task<bool> PutCommandDocumentAsync(RunCommandDocument document, DateTimeOffset now, CancellationToken cancellationToken);

    Task<CommandDocumentRecord?> GetCommandDocumentAsync(string commandId, CancellationToken cancellationToken);

    /// <summary>Every custom command document, ordered by id (case-insensitive).</summary>
    Task<IReadOnlyList<CommandDocumentRecord>> ListCommandDocumentsAsync(CancellationToken cancellationToken);

    /// <summary>Removes a custom command document; false when there was none. Run commands already written keep the script they resolved.</summary>
    Task<bool> DeleteCommandDocumentAsync(string commandId, CancellationToken cancellationToken);

    // ---- agent protocol ----

    /// <summary>
    /// The VM's goal-state version and every execution the server does not hold as finished, oldest first;
    /// marks them delivered.
    /// </summary>
    Task<(long Version, IReadOnlyList<PendingWork> Work)> LeaseGoalStateAsync(VmKey vm, CancellationToken cancellationToken);

    /// <summary>The VM's current goal-state version (cheap; used to decide whether a poll must wait).</summary>
    Task<long> GetGoalStateVersionAsync(VmKey vm, CancellationToken cancellationToken);

    /// <summary>
    /// Records an agent's report: appends output past what is held (idempotent), moves the state forward (never
    /// back out of a terminal state) and, when the execution has ended, completes a pending delete.
    /// Returns null when the execution does not exist or is not this VM's.
    /// </summary>
    Task<ReportOutcome?> RecordReportAsync(VmKey vm, ReportWrite report, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>
    /// Stops one execution: one that never reached the agent is canceled at once, a delivered one is flagged and its
    /// agent told through its goal state. Returns false when it does not exist or has already ended.
    /// </summary>
    Task<bool> CancelExecutionAsync(string executionId, string message, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Up to <paramref name="maxBytes"/> bytes of an execution's stream from <paramref name="offset"/>.</summary>
    Task<byte[]> ReadOutputAsync(string executionId, OutputStream stream, long offset, int maxBytes, CancellationToken cancellationToken);

    // ---- principals, API tokens, roles ----

    /// <summary>Creates a principal; false (and nothing done) when its name is taken.</summary>
    Task<bool> CreatePrincipalAsync(PrincipalRecord principal, CancellationToken cancellationToken);

    /// <summary>A principal by object id or name (case-insensitive), or null.</summary>
    Task<PrincipalRecord?> FindPrincipalAsync(string idOrName, CancellationToken cancellationToken);

    /// <summary>Every principal, ordered by name.</summary>
    Task<IReadOnlyList<PrincipalRecord>> ListPrincipalsAsync(CancellationToken cancellationToken);

    /// <summary>Removes a principal with its tokens and role assignments (its tokens are refused at once); false when none.</summary>
    Task<bool> DeletePrincipalAsync(string principalId, CancellationToken cancellationToken);

    /// <summary>Stores a new API token: its metadata and the SHA-256 of its value.</summary>
    Task IssueApiTokenAsync(ApiTokenRecord token, byte[] tokenHash, CancellationToken cancellationToken);

    /// <summary>The token with this hash and its principal, whether or not expired or revoked; null when unknown.</summary>
    Task<(ApiTokenRecord Token, PrincipalRecord Principal)?> FindApiTokenAsync(byte[] tokenHash, CancellationToken cancellationToken);

    /// <summary>Tokens (metadata only) of one principal, or of all when null, oldest first.</summary>
    Task<IReadOnlyList<ApiTokenRecord>> ListApiTokensAsync(string? principalId, CancellationToken cancellationToken);

    /// <summary>Revokes a token from now on; false when it does not exist. Revoking twice keeps the first time.</summary>
    Task<bool> RevokeApiTokenAsync(string tokenId, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Creates or replaces a custom role definition; true when it was new.</summary>
    Task<bool> PutRoleDefinitionAsync(RoleDefinitionRecord role, CancellationToken cancellationToken);

    /// <summary>Custom role definitions, ordered by name.</summary>
    Task<IReadOnlyList<RoleDefinitionRecord>> ListRoleDefinitionsAsync(CancellationToken cancellationToken);

    /// <summary>Removes a custom role definition; false when none.</summary>
    Task<bool> DeleteRoleDefinitionAsync(string roleDefinitionId, CancellationToken cancellationToken);

    /// <summary>Creates a role assignment; false (and nothing done) when its id exists.</summary>
    Task<bool> CreateRoleAssignmentAsync(RoleAssignmentRecord assignment, CancellationToken cancellationToken);

    /// <summary>Role assignments of one principal, or all when null, oldest first.</summary>
    Task<IReadOnlyList<RoleAssignmentRecord>> ListRoleAssignmentsAsync(string? principalId, CancellationToken cancellationToken);

    /// <summary>Removes a role assignment; false when none.</summary>
    Task<bool> DeleteRoleAssignmentAsync(string assignmentId, CancellationToken cancellationToken);

    // ---- scoped enrollment tokens ----

    Task IssueEnrollmentTokenAsync(EnrollmentTokenRecord token, byte[] tokenHash, CancellationToken cancellationToken);

    /// <summary>The token with this hash (whatever its state), or null.</summary>
    Task<EnrollmentTokenRecord?> FindEnrollmentTokenAsync(byte[] tokenHash, CancellationToken cancellationToken);

    /// <summary>
    /// Atomically checks a token for an enrollment into <paramref name="vm"/>'s resource group and counts the use when
    /// it is accepted; a refused use is not counted.
    /// </summary>
    Task<EnrollmentTokenUse> ConsumeEnrollmentTokenAsync(byte[] tokenHash, VmKey vm, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Tokens of a resource group (or all when null), oldest first.</summary>
    Task<IReadOnlyList<EnrollmentTokenRecord>> ListEnrollmentTokensAsync(string subscriptionId, string? resourceGroup, CancellationToken cancellationToken);

    /// <summary>Revokes a token; false when it does not exist.</summary>
    Task<bool> RevokeEnrollmentTokenAsync(string tokenId, DateTimeOffset now, CancellationToken cancellationToken);

    // ---- activity log ----

    /// <summary>Appends an activity log entry. Entries are never changed or removed through this interface.</summary>
    Task AppendAuditAsync(AuditRecord entry, CancellationToken cancellationToken);

    /// <summary>Activity log entries matching the query, newest first.</summary>
    Task<IReadOnlyList<AuditRecord>> ListAuditAsync(AuditQuery query, CancellationToken cancellationToken);

    // ---- deployments ----

    /// <summary>
    /// Records a deployment with its operations (none started), replacing a finished one of the same name (its
    /// operation history goes; the run commands it created stay). Refuses while one of that name is not finished.
    /// </summary>
    Task<DeploymentPutOutcome> PutDeploymentAsync(DeploymentWrite write, DateTimeOffset now, CancellationToken cancellationToken);

    Task<DeploymentRecord?> GetDeploymentAsync(DeploymentKey deployment, CancellationToken cancellationToken);

    /// <summary>Deployments of a resource group, ordered by name (case-insensitive).</summary>
    Task<IReadOnlyList<DeploymentRecord>> ListDeploymentsAsync(string subscriptionId, string resourceGroup, CancellationToken cancellationToken);

    /// <summary>Every deployment still Accepted or Running: what the orchestrator resumes after a restart.</summary>
    Task<IReadOnlyList<DeploymentRecord>> ListUnfinishedDeploymentsAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Records that an operation's run command was written and which execution it waits on; the deployment becomes
    /// Running. False (nothing done) when that run of the deployment is gone or finished.
    /// </summary>
    Task<bool> RecordDeploymentOperationStartedAsync(DeploymentKey deployment, string deploymentId, int index, string executionId, string statusCode, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Records an operation's end (Succeeded, Failed or Canceled). False when that run of the deployment is gone or finished.</summary>
    Task<bool> RecordDeploymentOperationEndedAsync(DeploymentKey deployment, string deploymentId, int index, string state, string statusCode, ArmError? error, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Moves an unfinished deployment to a terminal state; false when it is gone, replaced or already finished.</summary>
    Task<bool> FinishDeploymentAsync(DeploymentKey deployment, string deploymentId, string state, ArmError? error, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Removes the deployment record and its operations (not the run commands it created); false when there was none.</summary>
    Task<bool> DeleteDeploymentAsync(DeploymentKey deployment, CancellationToken cancellationToken);

    // ---- fleet runs ----

    /// <summary>Records a new fleet run with its resolved targets (all waiting); does nothing when the name is taken.</summary>
    Task<FleetCreateOutcome> CreateFleetRunAsync(FleetRunRecord run, CancellationToken cancellationToken);

    Task<FleetRunRecord?> GetFleetRunAsync(FleetRunKey run, CancellationToken cancellationToken);

    /// <summary>Fleet runs of a resource group, ordered by name (case-insensitive).</summary>
    Task<IReadOnlyList<FleetRunRecord>> ListFleetRunsAsync(string subscriptionId, string resourceGroup, CancellationToken cancellationToken);

    /// <summary>Every fleet run not yet in a terminal state (what the orchestrator resumes after a restart).</summary>
    Task<IReadOnlyList<FleetRunRecord>> ListActiveFleetRunsAsync(CancellationToken cancellationToken);

    /// <summary>Records the outcome of starting a target: its execution, or (with no execution) why it could not start.</summary>
    Task RecordFleetTargetStartAsync(FleetRunKey run, int ordinal, string? executionId, string? failureMessage, CancellationToken cancellationToken);

    /// <summary>Marks every target that has not started as never to start, with the reason.</summary>
    Task SkipUnstartedFleetTargetsAsync(FleetRunKey run, string message, CancellationToken cancellationToken);

    /// <summary>Moves a fleet run to its terminal state.</summary>
    Task CompleteFleetRunAsync(FleetRunKey run, string state, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Asks a fleet run to stop; false when it does not exist. A finished run is left as it is.</summary>
    Task<bool> RequestFleetRunCancelAsync(FleetRunKey run, CancellationToken cancellationToken);
}
