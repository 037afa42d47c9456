using System.Diagnostics;
using System.Globalization;
using Npgsql;

namespace RunCommand.Testing;

/// <summary>
/// A real PostgreSQL server the tests start themselves: <c>initdb</c> into a temporary directory and <c>pg_ctl</c> on a
/// free 127.0.0.1 port (as user <c>postgres</c> through <c>runuser</c> when the tests run as root, since initdb refuses
/// root). One server per test run (<see cref="SharedAsync"/>), stopped when the test process exits; each test gets a
/// fresh database from <see cref="CreateDatabaseAsync"/>. Missing binaries are a failure that says what to install,
/// never a skip.
/// </summary>
public sealed class PostgresServer
{
    private static readonly Lazy<Task<PostgresServer>> Shared = new(StartAsync);

    private readonly string _dir;
    private readonly string _binDir;

    private PostgresServer(string dir, string binDir, int port)
    {
        _dir = dir;
        _binDir = binDir;
        Port = port;
    }

    public int Port { get; }

    /// <summary>The server of this test run, started on first use.</summary>
    public static Task<PostgresServer> SharedAsync() => Shared.Value;

    public string ConnectionString(string database) => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = Port,
        Username = "postgres",
        Database = database,
        Pooling = true,
        Timeout = 30,
        CommandTimeout = 60,
    }.ToString();

    /// <summary>Creates an empty database with a unique name and returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(string prefix)
    {
        var name = $"{prefix}_{Guid.NewGuid():N}".ToLowerInvariant();
        await using var connection = new NpgsqlConnection(ConnectionString("postgres"));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'", connection);
        await command.ExecuteNonQueryAsync();
        return ConnectionString(name);
    }

    /// <summary>
    /// The connection string of the database belonging to <paramref name="owner"/> (e.g. a server's data dir): created
    /// empty on first use, the same one afterwards.
    /// </summary>
    public async Task<string> EnsureDatabaseAsync(string owner)
    {
        var name = "rc_" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(owner)))[..24];
        await using var connection = new NpgsqlConnection(ConnectionString("postgres"));
        await connection.OpenAsync();
        await using (var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = @name", connection))
        {
            exists.Parameters.AddWithValue("name", name);
            if (await exists.ExecuteScalarAsync() is not null)
            {
                return ConnectionString(name);
            }
        }

        await using var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'", connection);
        await create.ExecuteNonQueryAsync();
        return ConnectionString(name);
    }

    /// <summary>Drops a database made by <see cref="CreateDatabaseAsync"/>, closing whatever is still connected to it.</summary>
    public async Task DropDatabaseAsync(string connectionString)
    {
        var name = new NpgsqlConnectionStringBuilder(connectionString).Database!;
        NpgsqlConnection.ClearAllPools();
        await using var connection = new NpgsqlConnection(ConnectionString("postgres"));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)", connection);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>The directory holding initdb and pg_ctl: the one on PATH, else the newest of /usr/lib/postgresql/*/bin.</summary>
    public static string FindBinDir()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            if (File.Exists(Path.Combine(dir, "initdb")) && File.Exists(Path.Combine(dir, "pg_ctl")))
            {
                return dir;
            }
        }

        var installed = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql")
                .Select(d => Path.Combine(d, "bin"))
                .Where(d => File.Exists(Path.Combine(d, "initdb")))
                .OrderByDescending(d => int.TryParse(Path.GetFileName(Path.GetDirectoryName(d)), out var v) ? v : 0)
                .FirstOrDefault()
            : null;
        return installed ?? throw new InvalidOperationException(
            "PostgreSQL is not installed: the storage and end-to-end tests on PostgreSQL need initdb and pg_ctl " +
            "(Debian/Ubuntu: apt-get install postgresql; .ci/run installs it).");
    }

    private static async Task<PostgresServer> StartAsync()
    {
        var binDir = FindBinDir();
        RemoveLeftovers(Path.GetTempPath(), LeftoverAge);
        var dir = Directory.CreateTempSubdirectory("rc-postgres-").FullName;
        // initdb runs as postgres and creates data/ inside; the parent must let it.
        File.SetUnixFileMode(dir, (UnixFileMode)0b111_111_111 | UnixFileMode.StickyBit);
        var data = Path.Combine(dir, "data");
        var port = ServerProcess.FreePort();
        await RunAsync(binDir, "initdb", ["-D", data, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"]);
        await RunAsync(binDir, "pg_ctl",
        [
            "-D", data, "-l", Path.Combine(dir, "server.log"), "-w", "-t", "120", "start",
            "-o", $"-p {port.ToString(CultureInfo.InvariantCulture)} -c listen_addresses=127.0.0.1 -k {data} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300",
        ]);
        var server = new PostgresServer(dir, binDir, port);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => server.Stop();
        return server;
    }

    /// <summary>How old a stopped server's directory must be before <see cref="RemoveLeftovers"/> removes it.</summary>
    public static readonly TimeSpan LeftoverAge = TimeSpan.FromHours(1);

    /// <summary>
    /// Removes the directories of earlier test runs' servers (<c>rc-postgres-*</c> in <paramref name="tempDir"/>) that no
    /// server runs in (no <c>postmaster.pid</c>) and that were created longer than <paramref name="age"/> ago. A test
    /// process ended before its exit handler ran leaves its server's directory behind, a few hundred MB each, and a day
    /// of test runs on a development machine filled its disk with them. A directory another test run is setting up is
    /// younger than that, and one whose server still runs (or was killed -9) keeps its <c>postmaster.pid</c>: both stay.
    /// </summary>
    public static void RemoveLeftovers(string tempDir, TimeSpan age)
    {
        foreach (var dir in Directory.EnumerateDirectories(tempDir, "rc-postgres-*"))
        {
            try
            {
                if (File.Exists(Path.Combine(dir, "data", "postmaster.pid")) || DateTime.UtcNow - Directory.GetLastWriteTimeUtc(dir) < age)
                {
                    continue;
                }

                Directory.Delete(dir, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Another run removed it first, or it is not ours to remove: leave it.
            }
        }
    }

    /// <summary>Stops the server at once (tests keep nothing) and removes its directory.</summary>
    private void Stop()
    {
        try
        {
            RunAsync(_binDir, "pg_ctl", ["-D", Path.Combine(_dir, "data"), "-m", "immediate", "-w", "stop"]).GetAwaiter().GetResult();
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    Directory.Delete(_dir, recursive: true);
                    return;
                }
                catch (IOException) when (attempt < 20)
                {
                    // The last server process may still be removing its files.
                    Thread.Sleep(100);
                }
            }
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"Stopping the test PostgreSQL in {_dir} failed: {e.Message}");
        }
    }

    /// <summary>Runs a PostgreSQL program to its end (as user postgres when this process is root); throws with its output when it fails.</summary>
    private static async Task RunAsync(string binDir, string program, IReadOnlyList<string> args)
    {
        var asRoot = Environment.UserName == "root";
        var psi = new ProcessStartInfo(asRoot ? "runuser" : Path.Combine(binDir, program))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (asRoot)
        {
            foreach (var arg in new[] { "-u", "postgres", "--", Path.Combine(binDir, program) })
            {
                psi.ArgumentList.Add(arg);
            }
        }

        foreach (var arg in args)
        {
            psi.ArgumentList.Add(arg);
        }

        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"Could not start {program}.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', args)} exited with {process.ExitCode}:\n{await stdout}{await stderr}");
        }
    }
}
