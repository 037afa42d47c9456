using System.Globalization;
using RunCommand.Bench;
using RunCommand.Bench.Scenarios;
using RunCommand.Bench.Swarm;

// RunCommand's benchmarks (docs/performance.md):
//   suite [--quick] [--only NAME[,NAME]] [--agent native|jit] [--swarm-agents N] [--agent-long-poll SECONDS]
//                                           every figure of the performance targets beside its baseline, as one table
//   swarm --server URL --enroll-token-file FILE [--ca-cert FILE] [--count N] [--command-ms MS] [--tag T]
//                                           N simulated agents against a running server, until Ctrl+C
//   stop [--agents N] [--rounds N]          server and agent stop times on SIGTERM with agents connected (docs/scale-out.md)
return args.FirstOrDefault() switch
{
    "stop" => await StopBench.RunAsync(int.Parse(Read("--agents") ?? "10", CultureInfo.InvariantCulture), int.Parse(Read("--rounds") ?? "5", CultureInfo.InvariantCulture)),
    "suite" => await Suite.RunAsync(args.Contains("--quick"), (Read("--only") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries), Read("--agent"),
        int.Parse(Read("--swarm-agents") ?? TenThousandAgentsScenario.DefaultAgents.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture),
        Read("--agent-long-poll") is { } poll ? int.Parse(poll, CultureInfo.InvariantCulture) : null),
    "swarm" => await RunSwarmAsync(),
    _ => Usage(),
};

async Task<int> RunSwarmAsync()
{
    if (Read("--server") is not { } server || Read("--enroll-token-file") is not { } tokenFile)
    {
        return Usage();
    }

    var count = int.Parse(Read("--count") ?? "100", CultureInfo.InvariantCulture);
    var tag = Read("--tag") ?? "sim";
    var options = new SwarmOptions
    {
        Server = new Uri(server),
        CaCertificateFile = Read("--ca-cert"),
        NamePrefix = tag,
        Tags = new Dictionary<string, string> { ["swarm"] = tag },
        CommandDuration = TimeSpan.FromMilliseconds(int.Parse(Read("--command-ms") ?? "0", CultureInfo.InvariantCulture)),
    };
    using var stop = new CancellationTokenSource();
    Console.CancelKeyPress += (_, e) =>
    {
        e.Cancel = true;
        stop.Cancel();
    };
    await using var swarm = await AgentSwarm.StartAsync(options, count, File.ReadAllText(tokenFile).Trim(), stop.Token);
    Console.WriteLine($"{count} simulated agents enrolled in resource group {options.ResourceGroup}, tagged swarm={tag}; Ctrl+C stops them.");
    try
    {
        while (!stop.IsCancellationRequested)
        {
            await Task.Delay(TimeSpan.FromSeconds(5), stop.Token);
            Console.WriteLine($"polling {swarm.PollingCount}/{count}, commands completed {swarm.CompletedCount}, failures {string.Join(", ", swarm.Counters.Failures.Select(f => $"{f.Key} ×{f.Value}"))}");
        }
    }
    catch (OperationCanceledException)
    {
    }

    return 0;
}

static int Usage()
{
    Console.Error.WriteLine("""
        Usage:
          dotnet run --project bench/RunCommand.Bench -c Release -- suite [--quick] [--only NAME[,NAME]] [--agent native|jit]
              [--swarm-agents N] [--agent-long-poll SECONDS]
          dotnet run --project bench/RunCommand.Bench -c Release -- swarm --server URL --enroll-token-file FILE
              [--ca-cert FILE] [--count N] [--command-ms MS] [--tag T]
          dotnet run --project bench/RunCommand.Bench -c Release -- stop [--agents N] [--rounds N]
        Scenarios: latency, nodes-pg, fleet-real, cli, fleet-1k, swarm-10k (not in --quick), put-throughput,
            put-throughput-pg, big-output, append-blob.
        --agent: the builds the real-agent scenarios start; default "native" when packaging/build.sh has built them: the
            NativeAOT agent users install (dist/linux-x64/runcmd-agent) and, for the CLI figures, the NativeAOT
            runcmd (dist/server/runcmd); "jit" or no dist/: the development dlls under dotnet.
        --swarm-agents: how many simulated agents swarm-10k starts (10000; fewer to iterate on a shared machine).
        --agent-long-poll: the goal-state poll every server announces, in seconds (default: the server's, 300); 30 makes
            an idle figure count every agent's poll in its 20 s window, i.e. the cost per poll.
        """);
    return 2;
}

string? Read(string name)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
}
