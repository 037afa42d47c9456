using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using CsCheck;
using Microsoft.Data.Sqlite;
using RunCommand.Contracts.Agents;
using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>
/// Issue 12's fuzz test: CsCheck generates hostile and malformed requests across the ARM API, the agent protocol and
/// the template language and sends them to a real server process. Each is built so that no correct server could
/// accept it (a required field broken, a forged credential, an unsupported resource type after a random expression),
/// so every answer must be a 4xx with an ARM error body; afterwards the server still answers and every table but the
/// activity log (which records refusals by design) is unchanged.
/// </summary>
public sealed class FuzzTests : IAsyncLifetime
{
    /// <summary>Requests sent; the issue asks for at least 10,000.</summary>
    private const int RequestCount = 12_000;

    private readonly string _dir = Directory.CreateTempSubdirectory("rc-fuzz-").FullName;
    private ServerProcess _server = null!;
    private HttpClient _http = null!;
    private string _vmId = "";

    public async Task InitializeAsync()
    {
        // Rate limits high: the test is about what each request does, not about throttling (tested on its own).
        _server = await ServerProcess.StartAsync(Path.Combine(_dir, "server"), extraArgs:
        [
            "--requests-per-second", "100000", "--request-burst", "1000000",
            "--RunCommand:FailedAuthenticationsPerWindow", "1000000",
        ]);
        _http = new HttpClient { BaseAddress = new Uri(_server.Url), Timeout = TimeSpan.FromSeconds(60) };
        using var enroll = _server.CreateHttpClient(File.ReadAllText(_server.EnrollTokenFile).Trim());
        var response = await enroll.PostAsJsonAsync("/agent/v1/enroll", new EnrollRequest { ResourceGroup = "rg", VmName = "vm1" });
        response.EnsureSuccessStatusCode();
        _vmId = (await response.Content.ReadFromJsonAsync<EnrollResponse>())!.VmResourceId;
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _server.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>One hostile request: what it is (for the failure message), method, path, bearer token, body.</summary>
    private sealed record Hostile(string Kind, HttpMethod Method, string Path, string? Token, string? Body);

    private static readonly Gen<string> Junk = Gen.OneOf(
        Gen.String,
        Gen.String[Gen.Char["{}[]\":,\\ \u0000\u00e9'"], 0, 200],
        Gen.Int[1, 20_000].Select(n => new string('[', n)),
        Gen.Int[33, 3_000].Select(n => string.Concat(Enumerable.Repeat("{\"a\":", n)) + "1" + new string('}', n)));

    private static readonly Gen<string> ExpressionToken = Gen.OneOf<string>(
        "concat(", "format(", "parameters(", "variables(", "resourceId(", "resourceGroup()", "subscription()", "'x'", "''", "'",
        ")", "(", ",", "[", "]", ".", ".name", "1", "-9223372036854775809", "true", "null", "{0,99999}", "'{0,2000000000}'", " ");

    private static readonly Gen<string> Expression = Gen.OneOf(
        ExpressionToken.Array[0, 60].Select(tokens => string.Concat(tokens)),
        Gen.Int[60, 4_000].Select(depth => string.Concat(Enumerable.Repeat("concat(", depth)) + "'a'" + new string(')', depth)),
        Gen.Int[1, 200].Select(n => "resourceGroup()" + string.Concat(Enumerable.Repeat(".name", n))),
        Gen.String);

    private Gen<Hostile> Requests(string sub, string admin) => Gen.OneOf(
        // ARM API, admin token, bodies that cannot be a run command (junk, too deep, or a negative timeout).
        Junk.Select(body => new Hostile("run command junk body", HttpMethod.Put,
            $"/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1/runCommands/fuzz?api-version=2023-07-01", admin, body)),
        Gen.String.Select(Gen.Int[int.MinValue, -1], (script, timeout) => new Hostile("run command negative timeout", HttpMethod.Put,
            $"/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1/runCommands/fuzz?api-version=2023-07-01", admin,
            JsonSerializer.Serialize(new { location = "local", properties = new { source = new { script }, timeoutInSeconds = timeout } }))),
        Gen.String.Select(name => new Hostile("run command bad name", HttpMethod.Put,
            $"/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1/runCommands/-{Uri.EscapeDataString(name)}?api-version=2023-07-01", admin,
            """{"location":"local","properties":{"source":{"script":"true"}}}""")),
        Gen.String.Select(version => new Hostile("bad api-version", HttpMethod.Get,
            $"/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1/runCommands?api-version=x{Uri.EscapeDataString(version)}", admin, null)),
        // Template language: a random expression, then a resource type no template may deploy.
        Expression.Select(expression => new Hostile("template expression", HttpMethod.Put,
            $"/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.Resources/deployments/fuzz?api-version=2021-04-01", admin,
            JsonSerializer.Serialize(new
            {
                properties = new
                {
                    mode = "Incremental",
                    template = new { resources = new[] { new { type = "Fuzz.Bogus/things", apiVersion = "2023-07-01", name = "[" + expression + "]", location = "[" + expression + "]" } } },
                },
            }))),
        Junk.Select(body => new Hostile("deployment junk body", HttpMethod.Put,
            $"/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.Resources/deployments/fuzz?api-version=2021-04-01", admin, body)),
        // Agent protocol: forged, malformed or missing credentials.
        Gen.OneOf(Gen.String, Gen.Const<string>((string)null!), Gen.String.Select(s => "rck1." + s), Gen.String.Select(s => AgentAssertion.Prefix
            + Convert.ToBase64String(Encoding.UTF8.GetBytes(_vmId + "|" + DateTimeOffset.UtcNow.ToUnixTimeSeconds())).TrimEnd('=').Replace('+', '-').Replace('/', '_')
            + "." + Convert.ToBase64String(Encoding.UTF8.GetBytes(s.PadRight(64))).TrimEnd('=').Replace('+', '-').Replace('/', '_')))
            .Select(Gen.OneOf<string>("/agent/v1/goalstate", "/agent/v1/executions/x/report", "/agent/v1/enroll"), Junk,
                (token, path, body) => new Hostile("agent forged credential", path.EndsWith("goalstate", StringComparison.Ordinal) ? HttpMethod.Get : HttpMethod.Post, path, token, body)),
        // Any path and method without a valid token.
        Gen.String.Select(Gen.OneOf<string>("GET", "PUT", "DELETE", "POST", "PATCH"), (path, method) => new Hostile("no credential", new HttpMethod(method),
            $"/subscriptions/{sub}/{Uri.EscapeDataString(path)}", "wrong-token", null)));

    private async Task SendAsync(Hostile hostile)
    {
        using var request = new HttpRequestMessage(hostile.Method, hostile.Path);
        if (hostile.Token is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", "Bearer " + hostile.Token);
        }

        if (hostile.Body is not null)
        {
            request.Content = new StringContent(hostile.Body, Encoding.UTF8, "application/json");
        }

        using var response = await _http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        var status = (int)response.StatusCode;
        Interlocked.Increment(ref _outcomes[Math.Clamp(status / 100, 0, 5)]);
        Assert.True(status is >= 400 and < 500, $"{hostile.Kind}: {hostile.Method} {hostile.Path[..Math.Min(hostile.Path.Length, 200)]} answered {status}: {text[..Math.Min(text.Length, 300)]}");
        using var document = JsonDocument.Parse(text);
        Assert.False(string.IsNullOrEmpty(document.RootElement.GetProperty("error").GetProperty("code").GetString()), $"{hostile.Kind}: no error code in {text}");
        Assert.True(response.Headers.Contains("X-Content-Type-Options"), $"{hostile.Kind}: no security headers");
    }

    private readonly int[] _outcomes = new int[6];

    /// <summary>Every table but the activity log (and its autoincrement counter), row by row, in a stable order.</summary>
    private string Dump()
    {
        using var connection = new SqliteConnection($"Data Source={Path.Combine(_server.DataDir, "runcommand.db")};Mode=ReadOnly;Pooling=False");
        connection.Open();
        var tables = new List<string>();
        using (var list = connection.CreateCommand())
        {
            list.CommandText = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT IN ('audit', 'sqlite_sequence') ORDER BY name";
            using var reader = list.ExecuteReader();
            while (reader.Read())
            {
                tables.Add(reader.GetString(0));
            }
        }

        var dump = new StringBuilder();
        foreach (var table in tables)
        {
            using var select = connection.CreateCommand();
            select.CommandText = $"SELECT * FROM \"{table}\" ORDER BY rowid";
            using var reader = select.ExecuteReader();
            dump.Append("== ").AppendLine(table);
            while (reader.Read())
            {
                for (var i = 0; i < reader.FieldCount; i++)
                {
                    dump.Append(reader.IsDBNull(i) ? "NULL" : Convert.ToString(reader.GetValue(i) is byte[] b ? Convert.ToHexString(b) : reader.GetValue(i), System.Globalization.CultureInfo.InvariantCulture)).Append('|');
                }

                dump.AppendLine();
            }
        }

        return dump.ToString();
    }

    [Fact]
    public async Task HostileRequests_AcrossArmAgentAndTemplates_AreAll4xxArmErrorsAndChangeNothing()
    {
        var before = Dump();
        var started = DateTime.UtcNow;

        await Requests(_server.SubscriptionId, _server.AdminToken).SampleAsync(SendAsync, iter: RequestCount, threads: 4);

        var elapsed = DateTime.UtcNow - started;
        Console.WriteLine($"fuzz: {_outcomes.Sum()} hostile requests in {elapsed.TotalSeconds:F0} s; 4xx: {_outcomes[4]}, 2xx: {_outcomes[2]}, 5xx: {_outcomes[5]}");
        Assert.True(_outcomes.Sum() >= 10_000, $"only {_outcomes.Sum()} requests were sent");
        Assert.False(_server.Process.HasExited, "the server died:\n" + _server.Process.Output);
        Assert.Equal(HttpStatusCode.OK, (await _http.GetAsync("/healthz")).StatusCode);
        Assert.Equal(before, Dump());
    }
}
