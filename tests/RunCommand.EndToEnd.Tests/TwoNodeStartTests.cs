using System.Net;
using Npgsql;
using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>Two server processes started at the same moment on one empty PostgreSQL database.</summary>
public sealed class TwoNodeStartTests : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("rc-two-nodes-").FullName;
    private readonly List<ServerProcess> _servers = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var server in _servers)
        {
            await server.DisposeAsync();
        }

        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Start_TwoNodesAtOnceOnAnEmptyDatabase_MigrateOnceAndBothServe()
    {
        var postgres = await PostgresServer.SharedAsync();
        var database = await postgres.CreateDatabaseAsync("rc_two_nodes");
        var subscription = Guid.NewGuid().ToString();
        // Nodes of one database share its secrets key (docs/scale-out.md): one key file, made before either starts.
        var key = Path.Combine(_dir, "secrets.key");
        File.WriteAllBytes(key, System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        // Node A is given the database on its command line, node B through RUNCMD_POSTGRES.
        var started = await Task.WhenAll(
            ServerProcess.StartAsync(Path.Combine(_dir, "a"), extraArgs: ["--postgres", database, "--subscription", subscription, "--secrets-key-file", key]),
            ServerProcess.StartAsync(Path.Combine(_dir, "b"), extraArgs: ["--subscription", subscription, "--secrets-key-file", key],
                environment: new Dictionary<string, string> { ["RUNCMD_POSTGRES"] = database }));
        _servers.AddRange(started);
        var (a, b) = (started[0], started[1]);

        // One admin for both: whichever node won the start minted admin.token, the other minted none.
        var minted = started.Where(s => File.Exists(Path.Combine(s.DataDir, "admin.token"))).ToList();
        Assert.Single(minted);
        var admin = minted[0].AdminToken;

        await using (var connection = new NpgsqlConnection(database))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("SELECT count(*), count(DISTINCT version), max(version) FROM schema_version", connection);
            await using var reader = await command.ExecuteReaderAsync();
            Assert.True(await reader.ReadAsync());
            Assert.Equal(reader.GetInt64(0), reader.GetInt64(1));
            Assert.Equal(reader.GetInt64(0), reader.GetInt32(2));
        }

        // A command document written through one node is read through the other.
        using var clientA = a.CreateHttpClient(admin);
        using var clientB = b.CreateHttpClient(admin);
        var path = $"/subscriptions/{subscription}/providers/Microsoft.Compute/locations/local/runCommands/two-nodes?api-version=2023-03-01";
        using var put = await clientA.PutAsync(path, new StringContent("""{"script":["echo both"]}""", System.Text.Encoding.UTF8, "application/json"));
        Assert.True(put.IsSuccessStatusCode, await put.Content.ReadAsStringAsync());
        using var get = await clientB.GetAsync(path);
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Contains("echo both", await get.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
