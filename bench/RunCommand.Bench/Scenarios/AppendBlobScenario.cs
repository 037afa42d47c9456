using System.Diagnostics;
using System.Security.Cryptography;
using RunCommand.Bench.Measure;
using RunCommand.Bench.Swarm;
using RunCommand.Client;
using RunCommand.Contracts.Arm;
using RunCommand.Testing;

namespace RunCommand.Bench.Scenarios;

/// <summary>
/// 1 GiB of stdout (128 MiB in the quick suite) from a real agent to an append blob in Azurite (outputBlobUri with a
/// SAS): MB/s from the PUT until the client sees the terminal state, and the blob checked byte for byte against the
/// SHA-256 the script computed of what it wrote. Baseline: the same bytes uploaded straight to a block blob in the
/// same Azurite with the Azure SDK (what the blob store itself can take here).
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

        // The script's bytes: a repeating but not constant pattern, hashed as they are written.
        var script = $"yes 'RunCommand append blob benchmark 0123456789 abcdefghijklmnopqrstuvwxyz' | head -c {bytes} | tee >(sha256sum | cut -c1-64 > {hashFile})";
        await Baselines.RunMsAsync("/bin/bash", "-c", $"{script.Replace(hashFile, hashFile + ".base", StringComparison.Ordinal)} > {dataFile}");
        var baselineBlob = container.GetBlobClient("baseline.bin");
        var baselineStarted = Stopwatch.GetTimestamp();
        await using (var data = File.OpenRead(dataFile))
        {
            await baselineBlob.UploadAsync(data);
        }

        var baseline = Stopwatch.GetElapsedTime(baselineStarted).TotalMilliseconds;
        File.Delete(dataFile);

        var blob = container.GetBlobClient("out.log");
        var resource = Stack.Script(script);
        resource = resource with { Properties = resource.Properties! with { OutputBlobUri = AzuriteProcess.SasUri(blob, AzuriteProcess.AppendBlobPermissions).ToString() } };
        var target = new RunCommandRef(server.SubscriptionId, "bench", "blob-vm", "blob");
        var started = Stopwatch.GetTimestamp();
        var operation = await client.CreateOrUpdateAsync(target, resource);
        var result = await client.WaitForOperationAsync(operation.OperationUrl!);
        var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        if (result.Status != OperationStatus.Succeeded)
        {
            throw new InvalidOperationException($"The {label} blob run ended {result.Status}: {result.Error?.Message}");
        }

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
            Name = $"{label} of stdout to an append blob (Azurite), byte-exact ({context.AgentLabel})",
            Measured = $"{mbPerSecond:F0} MB/s ({Samples.Seconds(elapsed)}), SHA-256 matches",
            Baseline = $"same bytes as one SDK block-blob upload to the same Azurite {bytes / 1e6 / (baseline / 1000):F0} MB/s",
            Target = "≥ 100 MB/s, byte-exact",
            Met = mbPerSecond >= 100,
        });
    }
}
