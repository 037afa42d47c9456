using System.CommandLine;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using RunCommand.Agent;
using RunCommand.Agent.Protocol;

var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
try
{
    // --config FILE (the packages' /etc/runcmd/agent.conf): its settings as options, the command line winning.
    args = RunCommand.Contracts.ConfigFile.Expand(args);
}
catch (FormatException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}

var server = new Option<string>("--server")
{
    Description = "Server base URL, http:// or https://; several control-plane nodes as URL1,URL2,... (the agent moves to the next when its node goes away)",
    Required = true,
    HelpName = "URL[,URL...]",
};
var vmName = new Option<string?>("--vm-name") { Description = "Name of the VM resource this machine is (or give --vmss-name)", HelpName = "NAME" };
var vmssName = new Option<string?>("--vmss-name")
{
    Description = "Join this scale set as a new instance instead of being a VM; the server assigns the instance id, kept with the agent's credential",
    HelpName = "NAME",
};
var resourceGroup = new Option<string>("--resource-group", "-g")
{
    Description = "Resource group of the VM",
    DefaultValueFactory = _ => "default",
    HelpName = "RG",
};
var subscription = new Option<string?>("--subscription") { Description = "Subscription GUID (default: the server's default)", HelpName = "GUID" };
var location = new Option<string?>("--location", "-l") { Description = "Location name (default: the server's default)", HelpName = "L" };
var stateDir = new Option<string>("--state-dir")
{
    Description = "Directory for the agent token and executions (created 0700)",
    DefaultValueFactory = _ => Path.Combine(home, ".runcmd", "agent"),
    HelpName = "DIR",
};
var enrollTokenFile = new Option<string>("--enroll-token-file")
{
    Description = "File holding the server's enrollment token (used once, when there is no agent token yet)",
    DefaultValueFactory = _ => Path.Combine(home, ".runcmd", "enroll.token"),
    HelpName = "FILE",
};
var caCert = new Option<string?>("--ca-cert")
{
    Description = "Trust exactly this certificate (PEM or DER) for https: the server's own self-signed certificate or its root CA",
    HelpName = "FILE",
};
var serverFingerprint = new Option<string?>("--server-fingerprint")
{
    Description = "Trust exactly the server certificate with this SHA-256 fingerprint (hex; the server logs it at start), instead of --ca-cert",
    HelpName = "SHA256",
};
var maxScriptBytes = new Option<long>("--max-script-bytes")
{
    Description = "Largest script a scriptUri may deliver, in bytes (default 262144 = 256 KiB)",
    DefaultValueFactory = _ => 256 * 1024,
    HelpName = "BYTES",
};
var retentionDays = new Option<int>("--execution-retention-days")
{
    Description = "Delete a reported execution's directory (script, output) this many days after it ended (default 30)",
    DefaultValueFactory = _ => 30,
    HelpName = "DAYS",
};
var maxExecutionBytes = new Option<long>("--max-execution-bytes")
{
    Description = "Most bytes reported executions' directories may take; the oldest are deleted first beyond it (default 1073741824 = 1 GiB)",
    DefaultValueFactory = _ => 1024L * 1024 * 1024,
    HelpName = "BYTES",
};
var metricsListen = new Option<string?>("--metrics-listen")
{
    Description = "Serve Prometheus metrics at http://ADDRESS:PORT/metrics (plain http, no authentication: a loopback or private address); off by default",
    HelpName = "ADDRESS:PORT",
};
var storageCredentials = new Option<string?>("--storage-credentials")
{
    Description = "JSON file (mode 0600) mapping the managed identities run commands name (clientId, objectId, or the system-assigned one) "
        + "to storage account keys, used for a scriptUri, output or error blob without SAS (see docs/agent.md)",
    HelpName = "FILE",
};
var tags = new Option<string[]>("--tags")
{
    Description = "Tags of the machine as key=value pairs, set when its enrollment creates it",
    AllowMultipleArgumentsPerToken = true,
    HelpName = "k=v",
};

var root = new RootCommand(
    "RunCommand agent: enrolls this machine as a VM with a RunCommand server, then runs the run commands the server assigns to it. "
    + "Scripts keep running across agent restarts; stop the agent with SIGTERM or Ctrl-C.")
{
    server, vmName, vmssName, resourceGroup, subscription, location, stateDir, enrollTokenFile, caCert, serverFingerprint, maxScriptBytes, retentionDays, maxExecutionBytes, metricsListen, storageCredentials, tags,
};

// Every spelling of every option, for "did you mean" on a misspelt one.
var optionNames = root.Options.SelectMany(o => o.Aliases.Prepend(o.Name)).Where(n => n.StartsWith("--", StringComparison.Ordinal)).ToList();
var parsed = root.Parse(args);
if (parsed.Errors.Count > 0 && parsed.Action is not System.CommandLine.Help.HelpAction)
{
    Console.Error.WriteLine(parsed.UnmatchedTokens.FirstOrDefault(t => t.StartsWith('-')) is { } unknown
        ? "error: " + RunCommand.Contracts.OptionSuggestion.UnknownOption(unknown.Split('=', 2)[0], optionNames)
        : $"error: {parsed.Errors[0].Message} (see --help)");
    return 2;
}

if (parsed.Action is not null)
{
    // --help or --version. The agent itself is not run through System.CommandLine's invocation: that
    // installs its own SIGTERM handling (exit 143 after a timeout), while the agent exits 0 on SIGTERM.
    return await parsed.InvokeAsync();
}

return await RunAsync(parsed);

async Task<int> RunAsync(ParseResult result)
{
    if (Validate(result) is not { } options)
    {
        return 2;
    }

    X509Certificate2? trusted = null;
    if (options.CaCertificateFile is { } certFile)
    {
        try
        {
            var text = File.ReadAllText(certFile);
            trusted = text.Contains("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal)
                ? X509Certificate2.CreateFromPem(text)
                : X509CertificateLoader.LoadCertificateFromFile(certFile);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException or ArgumentException)
        {
            Console.Error.WriteLine($"error: cannot load --ca-cert {certFile}: {e.Message}");
            return 2;
        }
    }

    var time = TimeProvider.System;
    var logger = new ConsoleLogger(time, LogLevel.Information);
    using var shutdown = new CancellationTokenSource();
    void OnSignal(PosixSignalContext context)
    {
        // Handled here: stop polling and exit 0; scripts are in their own sessions and keep running.
        context.Cancel = true;
        shutdown.Cancel();
    }

    using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
    using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
    using var client = new AgentClient(new ServerEndpoints(options.Servers), trusted, options.ServerFingerprint, logger);
    RunCommand.Agent.Metrics.MetricsEndpoint? metricsEndpoint = null;
    if (options.MetricsListen is { } metricsAddress)
    {
        try
        {
            metricsEndpoint = RunCommand.Agent.Metrics.MetricsEndpoint.Start(metricsAddress, client.Metrics, logger);
        }
        catch (System.Net.Sockets.SocketException e)
        {
            Console.Error.WriteLine($"error: --metrics-listen {metricsAddress}: cannot listen there ({e.Message})");
            return 2;
        }

        Log.MetricsListening(logger, metricsEndpoint.Address.ToString());
    }

    await using var metricsLifetime = metricsEndpoint;
    Log.AgentStarting(logger, AgentService.Version, options.MachineDisplayName, options.ResourceGroup,
        string.Join(",", options.Servers.Select(s => s.GetLeftPart(UriPartial.Authority))));
    try
    {
        return await new AgentService(options, client, time, logger).RunAsync(shutdown.Token);
    }
    catch (Exception e) when (e is IOException or UnauthorizedAccessException)
    {
        // Typically an unusable --state-dir: one clear line, no stack trace.
        Console.Error.WriteLine($"error: {e.Message}");
        return 2;
    }
}

AgentOptions? Validate(ParseResult result)
{
    static void Fail(string message) => Console.Error.WriteLine($"error: {message}");

    var servers = ParseServers(result.GetValue(server)!, out var serverProblem);
    if (servers is null)
    {
        Fail(serverProblem!);
        return null;
    }

    var name = result.GetValue(vmName);
    var scaleSet = result.GetValue(vmssName);
    if ((name is null) == (scaleSet is null))
    {
        Fail("give exactly one of --vm-name (this machine is a VM) and --vmss-name (it joins a scale set)");
        return null;
    }

    var machineName = name ?? scaleSet!;
    if (machineName.Length is 0 or > 64 || !machineName.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
    {
        Fail($"{(name is null ? "--vmss-name" : "--vm-name")} must be 1-64 characters of letters, digits, '-', '_' or '.'");
        return null;
    }

    var group = result.GetValue(resourceGroup)!;
    if (group.Length is 0 or > 90 || !group.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '(' or ')'))
    {
        Fail("--resource-group must be 1-90 characters of letters, digits, '-', '_', '.', '(' or ')'");
        return null;
    }

    var sub = result.GetValue(subscription);
    if (sub is not null && !Guid.TryParse(sub, out _))
    {
        Fail($"--subscription must be a GUID, not '{sub}'");
        return null;
    }

    var scriptLimit = result.GetValue(maxScriptBytes);
    if (scriptLimit is < 1 or > 64L * 1024 * 1024)
    {
        Fail($"--max-script-bytes must be between 1 and 67108864, not {scriptLimit}");
        return null;
    }

    var keepDays = result.GetValue(retentionDays);
    if (keepDays is < 1 or > 3650)
    {
        Fail($"--execution-retention-days must be between 1 and 3650, not {keepDays}");
        return null;
    }

    var executionBudget = result.GetValue(maxExecutionBytes);
    if (executionBudget < 1024 * 1024)
    {
        Fail($"--max-execution-bytes must be at least 1048576 (1 MiB), not {executionBudget}");
        return null;
    }

    byte[]? fingerprint = null;
    if (result.GetValue(serverFingerprint) is { } pin)
    {
        fingerprint = AgentClient.ParseFingerprint(pin);
        if (fingerprint is null)
        {
            Fail($"--server-fingerprint must be a SHA-256 fingerprint (64 hex digits, colons allowed), not '{pin}'");
            return null;
        }

        if (servers.Any(s => s.Scheme != "https"))
        {
            Fail("--server-fingerprint needs https:// --server URLs");
            return null;
        }
    }

    var credentials = RunCommand.Agent.Blobs.StorageCredentials.None;
    if (result.GetValue(storageCredentials) is { } credentialsFile)
    {
        try
        {
            credentials = RunCommand.Agent.Blobs.StorageCredentials.Load(credentialsFile);
        }
        catch (InvalidDataException e)
        {
            Fail(e.Message);
            return null;
        }
    }

    var tagMap = new Dictionary<string, string>(StringComparer.Ordinal);
    foreach (var tag in result.GetValue(tags) ?? [])
    {
        // --tags takes every following token that is not a known option: a misspelt option lands here.
        if (tag.StartsWith('-'))
        {
            Fail(RunCommand.Contracts.OptionSuggestion.UnknownOption(tag.Split('=', 2)[0], optionNames));
            return null;
        }

        var eq = tag.IndexOf('=', StringComparison.Ordinal);
        if (eq <= 0)
        {
            Fail($"--tags takes key=value pairs, not '{tag}'");
            return null;
        }

        tagMap[tag[..eq]] = tag[(eq + 1)..];
    }

    System.Net.IPEndPoint? metricsAt = null;
    if (result.GetValue(metricsListen) is { } listen)
    {
        if (!System.Net.IPEndPoint.TryParse(listen, out metricsAt) || metricsAt.Port == 0 || !listen.Contains(':', StringComparison.Ordinal))
        {
            Fail($"--metrics-listen takes an IP address and a port, such as 127.0.0.1:9464 or [::1]:9464, not '{listen}'");
            return null;
        }
    }

    return new AgentOptions
    {
        Servers = servers,
        VmName = name,
        VmScaleSetName = scaleSet,
        ResourceGroup = group,
        SubscriptionId = sub,
        Location = result.GetValue(location),
        StateDirectory = Path.GetFullPath(result.GetValue(stateDir)!),
        EnrollTokenFile = Path.GetFullPath(result.GetValue(enrollTokenFile)!),
        CaCertificateFile = result.GetValue(caCert),
        ServerFingerprint = fingerprint,
        MaxScriptBytes = scriptLimit,
        ExecutionRetention = TimeSpan.FromDays(keepDays),
        ExecutionBudgetBytes = executionBudget,
        MetricsListen = metricsAt,
        StorageCredentials = credentials,
        Tags = tagMap,
    };
}

// Parses --server: one URL, or several control-plane nodes separated by commas (each http(s), no query; a trailing
// '/' is added so relative calls land under the URL's path).
static List<Uri>? ParseServers(string text, out string? problem)
{
    var servers = new List<Uri>();
    foreach (var url in text.Split(',', StringSplitOptions.TrimEntries))
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.Query.Length > 0)
        {
            problem = $"--server takes http:// or https:// URLs without a query, separated by commas; '{url}' is not one";
            return null;
        }

        uri = uri.AbsolutePath.EndsWith('/') ? uri : new Uri(uri + "/");
        if (servers.Contains(uri))
        {
            problem = $"--server names {uri} twice";
            return null;
        }

        servers.Add(uri);
    }

    problem = null;
    return servers;
}
