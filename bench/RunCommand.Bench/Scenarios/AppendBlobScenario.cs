using System.Diagnostics;
using System.Security.Cryptography;
using Azure.Storage.Blobs;
using RunCommand.Bench.Measure;
using RunCommand.Bench.Swarm;
using RunCommand.Client;
using RunCommand.Contracts.Arm;
using RunCommand.Testing;

namespace RunCommand.Bench.Scenarios;

/// <summary>
/// 1 GiB of stdout (128 MiB in the quick suite) from a real agent to an append blob in Azurite (outputBlobUri with a
/// SAS), on a warm server: MB/s from the PUT until the client sees the terminal state, and the blob checked byte for
/// byte against the SHA-256 the script computed of what it wrote. Baselines: the same bytes uploaded straight to a
/// block blob in the same Azurite with the Azure SDK (what the blob store itself can take here), and the fresh server's
/// first GiB (the warm-up run, as in big-output).
/// </summary>
public sealed class AppendBlobScenario : IScenario
{
    public string Name => "append-blob";

    public bool InQuick => true;

    public async Task RunAsync(SuiteContext context)
    {
        var (bytes, label) = context.OutputSize;
        await using var azurite = await AzuriteProcess.StartAsync();
        await using var server = await context.StartServerAsync("append-blob");
        await using var agent = await context.StartAgentAsync(server, "blob-vm", "bench", Path.Combine(context.NewDir("blob-agent"), "agent"));
        using var client = SwarmFleet.Client(server);
        var container = await azurite.CreateContainerAsync();
        var work = context.NewDir("blob-work");
        var hashFile = Path.Combine(work, "sha256");
        var dataFile = Path.Combine(work, "data");

        await Baselines.RunMsAsync("/bin/bash", "-c", $"{Script(bytes, hashFile + ".base")} > {dataFile}");
        var baselineBlob = container.GetBlobClient("baseline.bin");
        var baselineStarted = Stopwatch.GetTimestamp();
        await using (var data = File.OpenRead(dataFile))
        {
            await baselineBlob.UploadAsync(data);
        }

        var baseline = Stopwatch.GetElapsedTime(baselineStarted).TotalMilliseconds;
        File.Delete(dataFile);

        // Warm the server as big-output does (docs/performance.md, items 16 and 41): a server's first GiB after a start
        // is measured while the JIT still compiles its per-upload code (39 % of the server's CPU in that run). A run
        // command of its own to a blob of its own; its rate is shown beside the warm one.
        var target = new RunCommandRef(server.SubscriptionId, "bench", "blob-vm", "blob");
        var coldElapsed = await RunToBlobAsync(client, target with { Name = "warm-up" }, container.GetBlobClient("warm-up.log"),
            Script(context.WarmUpSize.Bytes, Path.Combine(work, "sha256.warm-up")), "warm-up");
        var coldMbPerSecond = context.WarmUpSize.Bytes / 1e6 / (coldElapsed / 1000);
        await ProcessStats.WaitUntilIdleAsync(server.Process.Pid);
        await ProcessStats.WaitUntilIdleAsync(agent.Process.Pid);
        var dirtyMiB = await ProcessStats.WaitForWritebackAsync();

        var blob = container.GetBlobClient("out.log");
        var (agentCpu, serverCpu, azuriteCpu) = (ProcessStats.CpuTime(agent.Process.Pid), ProcessStats.CpuTime(server.Process.Pid), ProcessStats.CpuTime(azurite.Process.Pid));
        var elapsed = await RunToBlobAsync(client, target, blob, Script(bytes, hashFile), label);
        // CPU seconds each process spent on the run: what the output costs, whatever else shares the cores.
        agentCpu = ProcessStats.CpuTime(agent.Process.Pid) - agentCpu;
        serverCpu = ProcessStats.CpuTime(server.Process.Pid) - serverCpu;
        azuriteCpu = ProcessStats.CpuTime(azurite.Process.Pid) - azuriteCpu;

        var expected = (await File.ReadAllTextAsync(hashFile)).Trim();
        using var sha = SHA256.Create();
        await using (var stream = await blob.OpenReadAsync())
        {
            var actual = Convert.ToHexStringLower(await sha.ComputeHashAsync(stream));
            if (actual != expected)
            {
                throw new InvalidOperationException($"The append blob's SHA-256 {actual} is not the script's {expected}.");
            }
        }

        var mbPerSecond = bytes / 1e6 / (elapsed / 1000);
        context.Add(new Figure
        {
            Name = $"{label} of stdout to an append blob (Azurite), byte-exact, warm server ({context.AgentLabel})",
            Measured = $"{mbPerSecond:F0} MB/s ({Samples.Seconds(elapsed)}), SHA-256 matches; "
                + $"CPU agent {agentCpu.TotalSeconds:F1} s, server {serverCpu.TotalSeconds:F1} s, Azurite {azuriteCpu.TotalSeconds:F1} s",
            Baseline = $"same bytes as one SDK block-blob upload to the same Azurite {bytes / 1e6 / (baseline / 1000):F0} MB/s; "
                + $"the fresh server's first {context.WarmUpSize.Label} (the warm-up, JIT compiling) {coldMbPerSecond:F0} MB/s; {dirtyMiB} MiB it left unwritten to disk waited for",
            Target = "≥ 100 MB/s, byte-exact",
            Met = mbPerSecond >= 100,
        });
    }

    /// <summary>The script's bytes: a repeating but not constant pattern, hashed as they are written.</summary>
    private static string Script(long bytes, string hashFile) =>
        $"yes 'RunCommand append blob benchmark 0123456789 abcdefghijklmnopqrstuvwxyz' | head -c {bytes} | tee >(sha256sum | cut -c1-64 > {hashFile})";

    /// <summary>PUTs the script with <paramref name="blob"/> as its outputBlobUri; milliseconds until the client saw it Succeeded.</summary>
    private static async Task<double> RunToBlobAsync(RunCommandClient client, RunCommandRef target, BlobClient blob, string script, string label)
    {
        var resource = Stack.Script(script);
        resource = resource with { Properties = resource.Properties! with { OutputBlobUri = AzuriteProcess.SasUri(blob, AzuriteProcess.AppendBlobPermissions).ToString() } };
        var started = Stopwatch.GetTimestamp();
        var operation = await client.CreateOrUpdateAsync(target, resource);
        var result = await client.WaitForOperationAsync(operation.OperationUrl!);
        var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        if (result.Status != OperationStatus.Succeeded)
        {
            throw new InvalidOperationException($"The {label} blob run ended {result.Status}: {result.Error?.Message}");
        }

        return elapsed;
    }
}
