namespace RunCommand.Agent.Execution;

/// <summary>Internal tuning of the executor; the defaults are the production values, tests shorten some.</summary>
public sealed record ExecutionSettings
{
    /// <summary>Time between SIGTERM and SIGKILL of a process group on timeout or cancel.</summary>
    public TimeSpan TerminationGracePeriod { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Delay before the first Running report; a script that ends sooner is reported once, when it ends.</summary>
    public TimeSpan FirstReportDelay { get; init; } = TimeSpan.FromMilliseconds(20);

    /// <summary>How often a running execution checks whether its output grew.</summary>
    public TimeSpan ProgressInterval { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>How often a re-attached execution (not our child any more) checks whether it ended.</summary>
    public TimeSpan ReattachPollInterval { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>How often a signalled process group is checked for being gone.</summary>
    public TimeSpan GroupPollInterval { get; init; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Largest output chunk per stream in one report.</summary>
    public int MaxChunkBytes { get; init; } = 1024 * 1024;

    public TimeSpan RetryInitialDelay { get; init; } = TimeSpan.FromMilliseconds(250);

    public TimeSpan RetryMaxDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Largest script a <c>scriptUri</c> may deliver (agent option <c>--max-script-bytes</c>).</summary>
    public long MaxScriptBytes { get; init; } = 256 * 1024;

    /// <summary>Overall limit of one script download, retries included; the execution fails when it passes.</summary>
    public TimeSpan ScriptDownloadTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>First wait between download attempts (then doubling, with jitter); 1 s leaves a waiting client time to show each failure.</summary>
    public TimeSpan ScriptDownloadRetryInitialDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Attempts in all for a failure that usually heals (connection error, 408, 429, 5xx), within <see cref="ScriptDownloadTimeout"/>.</summary>
    public int ScriptDownloadAttempts { get; init; } = 8;

    /// <summary>Attempts in all when the host's name does not exist (NXDOMAIN): a record may be on its way, rarely.</summary>
    public int ScriptDownloadAttemptsNameNotFound { get; init; } = 3;

    public TimeSpan ScriptDownloadRetryMaxDelay { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Passes in a row that may fail before an output/error blob is given up (3 for a refusal such as HTTP 403); the
    /// waits between them follow <see cref="RetryInitialDelay"/> doubling up to <see cref="RetryMaxDelay"/>.
    /// </summary>
    public int BlobAttempts { get; init; } = 8;

    /// <summary>Storage account keys that managed identities named by run commands stand for (agent option <c>--storage-credentials</c>).</summary>
    public Blobs.StorageCredentials StorageCredentials { get; init; } = Blobs.StorageCredentials.None;

    /// <summary>The HTTP client of every output/error blob call; null: the agent's shared one (tests wrap it to hold or fail calls).</summary>
    public HttpClient? BlobHttpClient { get; init; }

    /// <summary>After a restart, how long to wait for the goal state to bring an execution's blob URLs again.</summary>
    public TimeSpan BlobUrlWait { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>How a script's processes are tracked; null: the best the machine allows (see <see cref="ProcessTracker.Detect"/>).</summary>
    public ProcessTrackingMode? ProcessTracking { get; init; }

    /// <summary>
    /// Keep a wrapper spawned ahead of the next script, already in its cgroup (<see cref="SpareWrapper"/>); off, every
    /// script starts a fresh wrapper (tests compare the two).
    /// </summary>
    public bool SpareWrapper { get; init; } = true;

    /// <summary>A reported execution's directory (script, output, state) is deleted this long after it ended.</summary>
    public TimeSpan ExecutionRetention { get; init; } = TimeSpan.FromDays(30);

    /// <summary>Most bytes the directories of reported executions may take; beyond it the oldest go first.</summary>
    public long ExecutionBudgetBytes { get; init; } = 1024L * 1024 * 1024;

    /// <summary>Time between two pruning passes over the executions directory.</summary>
    public TimeSpan PruneInterval { get; init; } = TimeSpan.FromHours(1);
}
