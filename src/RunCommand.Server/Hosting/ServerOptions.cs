using System.ComponentModel.DataAnnotations;

namespace RunCommand.Server.Hosting;

/// <summary>Server settings; bound from the "RunCommand" configuration section and the command line.</summary>
public sealed class ServerOptions
{
    public const string Section = "RunCommand";

    /// <summary>Directory holding the database, tokens, TLS files and the secrets key. Created 0700.</summary>
    [Required]
    public string DataDir { get; set; } = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".runcmd");

    /// <summary>
    /// Npgsql connection string of the PostgreSQL database every node of a multi-node deployment shares; null keeps the
    /// embedded SQLite file in <see cref="DataDir"/>. Also read from <c>RUNCMD_POSTGRES</c>. It may hold a password, so
    /// it is never logged nor echoed in an error.
    /// </summary>
    public string? Postgres { get; set; }

    /// <summary>Location name of every resource this server hosts.</summary>
    [Required]
    [RegularExpression("^[A-Za-z0-9-]{1,40}$")]
    public string Location { get; set; } = "local";

    /// <summary>The subscription GUID; null means one generated at first start and kept in the data dir.</summary>
    public string? SubscriptionId { get; set; }

    /// <summary>At most this many run commands per VM (Azure's limit is 25).</summary>
    [Range(1, 10_000)]
    public int MaxRunCommandsPerVm { get; set; } = 25;

    /// <summary>PEM certificate for https URLs; null generates a self-signed one into the data dir.</summary>
    public string? TlsCertFile { get; set; }

    /// <summary>PEM private key matching <see cref="TlsCertFile"/>.</summary>
    public string? TlsKeyFile { get; set; }

    /// <summary>File with the 32-byte key sealing secrets; null keeps it at <c>secrets.key</c> in the data dir.</summary>
    public string? SecretsKeyFile { get; set; }

    /// <summary>
    /// Directory of the agent builds this server hands out (<c>linux-x64/runcmd-agent</c>, <c>linux-arm64/runcmd-agent</c>,
    /// and the <c>-compat</c> builds for older glibc); null: the server distributes no agent (downloads answer 404).
    /// </summary>
    public string? AgentBinariesDir { get; set; }

    /// <summary>How long after its last call an agent still counts as connected.</summary>
    [Range(typeof(TimeSpan), "00:00:05", "01:00:00")]
    public TimeSpan AgentPresenceWindow { get; set; } = TimeSpan.FromSeconds(75);

    /// <summary>Longest a client's wait (<c>waitSeconds</c> of an operation, a fleet run, logs) is held open.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "00:05:00")]
    public TimeSpan MaxLongPoll { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// How long an idle agent's goal-state poll is held (docs/agent-protocol.md, "Goal state"): announced to the agent in
    /// every goal state (<c>pollSeconds</c>), which asks for that long from then on; also the most any agent may ask for.
    /// Each poll costs a signed request, so this sets the idle load: 10,000 agents make 33 polls a second at 300 s,
    /// 333 at 30 s. Behind a reverse proxy it must stay under the proxy's read timeout (nginx and AWS ALB: 60 s by
    /// default), e.g. <c>--RunCommand:AgentLongPoll 00:00:50</c>, or every poll ends as a 504.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:05", "00:30:00")]
    public TimeSpan AgentLongPoll { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Longest a goal-state poll's assertion waits for others to share the commit that records it (docs/agent-protocol.md,
    /// "Replay"; <see cref="Auth.AgentAssertionReplay"/>): fewer transactions for idle renewals. A poll with work to
    /// answer never waits it out. Tests set it long to prove that.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:30:00")]
    public TimeSpan AgentAssertionBatchDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// How long a GET of an operation that is still in progress is held for it to end when the client asked for no
    /// <c>waitSeconds</c> (an ARM client: the Azure SDK, or one polling every few milliseconds). The Azure SDK waits at
    /// least a second between polls whatever the server says, so answering its first poll as soon as a short script has
    /// ended, rather than "InProgress" at once, is what makes it fast. Zero answers at once, as ARM does.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:01:00")]
    public TimeSpan OperationPollHold { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// True fsyncs every database commit (survives a power cut; costs a disk flush per write, ~5 ms on many
    /// virtual disks). False (the default) survives a kill -9 of the server and a clean reboot.
    /// </summary>
    public bool DurableCommits { get; set; }

    /// <summary>Page size of list operations when the client gives no <c>$top</c>.</summary>
    [Range(1, 1000)]
    public int DefaultPageSize { get; set; } = 50;

    /// <summary>
    /// Sustained requests per second each principal may make (a token bucket refilled every second); beyond it the
    /// answer is 429 with Retry-After. Each agent has its own bucket (<see cref="AgentRequestsPerSecond"/>), so agents'
    /// polls never use a person's budget.
    /// </summary>
    [Range(1, 100_000)]
    public int RequestsPerSecond { get; set; } = 50;

    /// <summary>Requests a principal may make at once above <see cref="RequestsPerSecond"/> (the bucket size).</summary>
    [Range(1, 1_000_000)]
    public int RequestBurst { get; set; } = 500;

    /// <summary>
    /// Directory of the web portal's built files (index.html and assets/), served at /portal; null: the
    /// <c>portal</c> folder beside the server's binaries, where the build puts them.
    /// </summary>
    public string? PortalDir { get; set; }

    /// <summary>Failed authentications one client address may make per <see cref="FailedAuthenticationWindow"/>; beyond them its requests get 429 until the window ends.</summary>
    [Range(1, 1_000_000)]
    public int FailedAuthenticationsPerWindow { get; set; } = 30;

    /// <summary>The window of <see cref="FailedAuthenticationsPerWindow"/>.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan FailedAuthenticationWindow { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Sustained requests per second of one agent (polls and reports), with a burst of ten times this.</summary>
    [Range(1, 100_000)]
    public int AgentRequestsPerSecond { get; set; } = 50;

    /// <summary>Finished executions and their output are deleted this many days after they ended (retention; docs/storage.md). The agent's option has the same name.</summary>
    [Range(1, 3650)]
    public int ExecutionRetentionDays { get; set; } = 30;

    /// <summary>Most bytes of output the store keeps; beyond it the output of the finished executions that ended first is deleted.</summary>
    [Range(1024L * 1024, long.MaxValue)]
    public long MaxOutputBytes { get; set; } = 16L * 1024 * 1024 * 1024;

    /// <summary>Time between retention passes (prune, then give the freed space back to the file system).</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan RetentionInterval { get; set; } = TimeSpan.FromHours(1);
}
