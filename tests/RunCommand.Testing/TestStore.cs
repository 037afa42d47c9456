namespace RunCommand.Testing;

/// <summary>
/// Which backend the servers of an end-to-end run use: <c>RUNCMD_TEST_STORE=postgres</c> puts each on a database of
/// the run's PostgreSQL (<see cref="PostgresServer"/>); unset or <c>sqlite</c> keeps the embedded default.
/// test.sh runs the storage-touching classes a second time with postgres.
/// </summary>
public static class TestStore
{
    public const string Sqlite = "sqlite";
    public const string Postgres = "postgres";

    public static string Current { get; } = Environment.GetEnvironmentVariable("RUNCMD_TEST_STORE") switch
    {
        null or "" or Sqlite => Sqlite,
        Postgres => Postgres,
        var other => throw new InvalidOperationException($"RUNCMD_TEST_STORE must be '{Sqlite}' or '{Postgres}', not '{other}'."),
    };
}
