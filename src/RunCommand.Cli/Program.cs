using System.CommandLine;
using System.Runtime.InteropServices;
using RunCommand.Cli;
using RunCommand.Cli.Commands;
using RunCommand.Cli.Config;

// Ctrl-C, SIGTERM and SIGHUP cancel the running verb, which cleans up (runcmd up stops its children in order)
// and returns; System.CommandLine's own handler would give up after a fixed timeout.
using var interrupted = new CancellationTokenSource();
void OnSignal(PosixSignalContext context)
{
    context.Cancel = true;
    interrupted.Cancel();
}

using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
using var sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, OnSignal);

// This process may make a configured server certificate its only trust anchor (a fresh process then never reads
// the system trust store: docs/performance.md item 10).
ProcessTrust.Enable();
return await CliApp.RunAsync(args, Console.Out, Console.Error, interrupted.Token);
