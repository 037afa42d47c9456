using System.Text;
using RunCommand.Contracts.Arm;
using RunCommand.Server.Agents;
using RunCommand.Server.Secrets;
using RunCommand.Storage;

namespace RunCommand.Server.Arm;

/// <summary>
/// Turns stored records into what the API shows: the resource, its instance view and the status of its
/// operations. Provisioning and operation status are derived from the execution, never stored twice.
/// </summary>
public sealed class RunCommandViews
{
    /// <summary>Size of the output/error tails in an instance view (Azure's 4 KiB).</summary>
    public const int TailBytes = 4096;

    private readonly IRunCommandStore _store;
    private readonly IMachineStore _machines;
    private readonly AgentPresence _presence;

    public RunCommandViews(IRunCommandStore store, IMachineStore machines, AgentPresence presence)
    {
        _store = store;
        _machines = machines;
        _presence = presence;
    }

    public async Task<RunCommandResource> ToResourceAsync(RunCommandRecord record, bool expandInstanceView, CancellationToken cancellationToken)
    {
        var spec = record.Spec;
        return new RunCommandResource
        {
            Id = record.Command.ResourceId,
            Name = record.Command.Name,
            Type = record.Command.Vm.IsScaleSetInstance ? ResourceTypes.VmssVmRunCommand : ResourceTypes.VmRunCommand,
            Location = record.Location,
            Tags = record.Tags,
            Properties = new RunCommandProperties
            {
                Source = new RunCommandSource { Script = spec.Script, ScriptUri = spec.ScriptUri, CommandId = spec.CommandId, ScriptUriManagedIdentity = spec.ScriptUriManagedIdentity },
                Parameters = spec.Parameters,
                AsyncExecution = spec.AsyncExecution,
                RunAsUser = spec.RunAsUser,
                TimeoutInSeconds = spec.TimeoutInSeconds,
                // Split again: records written before SAS tokens were sealed still hold them in the spec.
                OutputBlobUri = spec.OutputBlobUri is null ? null : SasUrl.Split(spec.OutputBlobUri).BaseUrl,
                ErrorBlobUri = spec.ErrorBlobUri is null ? null : SasUrl.Split(spec.ErrorBlobUri).BaseUrl,
                OutputBlobManagedIdentity = spec.OutputBlobManagedIdentity,
                ErrorBlobManagedIdentity = spec.ErrorBlobManagedIdentity,
                TreatFailureAsDeploymentFailure = spec.TreatFailureAsDeploymentFailure,
                ProvisioningState = ProvisioningState(record),
                InstanceView = expandInstanceView ? await InstanceViewAsync(record, cancellationToken) : null,
            },
        };
    }

    public static string ProvisioningState(RunCommandRecord record)
    {
        if (record.Deleting)
        {
            return "Deleting";
        }

        return PutStatus(record.Execution, record.Spec).Status switch
        {
            OperationStatus.InProgress => record.IsFirstExecution ? "Creating" : "Updating",
            var done => done,
        };
    }

    /// <summary>
    /// Status of the PUT that started <paramref name="execution"/>: done when the script has ended (or, with
    /// asyncExecution, started); Failed only when the script failed and treatFailureAsDeploymentFailure is set.
    /// </summary>
    public static (string Status, DateTimeOffset? End, ArmError? Error) PutStatus(ExecutionRecord execution, RunCommandSpec spec)
    {
        if (!execution.IsTerminal)
        {
            return spec.AsyncExecution && execution.State == ExecutionState.Running
                ? (OperationStatus.Succeeded, execution.StartTime, null)
                : (OperationStatus.InProgress, null, null);
        }

        if (execution.State == ExecutionState.Canceled)
        {
            return (OperationStatus.Canceled, execution.EndTime, new ArmError
            {
                Code = "OperationCanceled",
                Message = execution.Message ?? "The run command execution was canceled.",
            });
        }

        if (execution.State != ExecutionState.Succeeded && spec.TreatFailureAsDeploymentFailure)
        {
            return (OperationStatus.Failed, execution.EndTime, new ArmError
            {
                Code = "VMExtensionProvisioningError",
                Message = $"The script ended with execution state {execution.State}" +
                    (execution.ExitCode is { } code ? $" and exit code {code}" : "") +
                    (execution.Message is { } message ? $": {message}" : ".") +
                    " (treatFailureAsDeploymentFailure is true).",
            });
        }

        return (OperationStatus.Succeeded, execution.EndTime, null);
    }

    public async Task<RunCommandInstanceView> InstanceViewAsync(RunCommandRecord record, CancellationToken cancellationToken)
    {
        var execution = record.Execution;
        var stdout = await TailAsync(_store, execution, OutputStream.Stdout, cancellationToken);
        var stderr = await TailAsync(_store, execution, OutputStream.Stderr, cancellationToken);
        return new RunCommandInstanceView
        {
            ExecutionState = execution.State.ToString(),
            ExecutionMessage = await ExecutionMessageAsync(record, cancellationToken),
            ExitCode = execution.ExitCode,
            Output = Utf8Tail(stdout),
            Error = Utf8Tail(stderr),
            StartTime = execution.StartTime,
            EndTime = execution.EndTime,
            Statuses = [],
        };
    }

    private async Task<string> ExecutionMessageAsync(RunCommandRecord record, CancellationToken cancellationToken)
    {
        var execution = record.Execution;
        if (execution.Message is { Length: > 0 } message)
        {
            return message;
        }

        switch (execution.State)
        {
            case ExecutionState.Succeeded:
                return "Execution completed";
            case ExecutionState.Pending:
                var vm = await _machines.GetVmAsync(record.Command.Vm, cancellationToken);
                if (vm is null)
                {
                    return "Waiting for the agent.";
                }

                return _presence.StatusOf(vm) switch
                {
                    "Connected" => "Delivered to the agent; waiting for the script to start.",
                    "NeverConnected" => $"Waiting for the agent of VM '{vm.Vm.VmName}': it has never connected.",
                    _ => $"Waiting for the agent of VM '{vm.Vm.VmName}': it is disconnected (last contact {_presence.LastContact(vm):u}). The command runs when it returns.",
                };
            case ExecutionState.Running:
                return "Execution in progress";
            default:
                return $"Execution ended: {execution.State}";
        }
    }

    /// <summary>
    /// The last <see cref="TailBytes"/> of a stream as of <paramref name="execution"/>'s snapshot: output that
    /// arrived after the state was read is left out, so a view never shows output of a later report beside an
    /// earlier state (say, Pending with output).
    /// </summary>
    public static async Task<byte[]> TailAsync(IRunCommandStore store, ExecutionRecord execution, OutputStream stream, CancellationToken cancellationToken)
    {
        var length = stream == OutputStream.Stdout ? execution.StdoutLength : execution.StderrLength;
        var from = Math.Max(0, length - TailBytes);
        return length == 0 ? [] : await store.ReadOutputAsync(execution.ExecutionId, stream, from, (int)(length - from), cancellationToken);
    }

    /// <summary>
    /// Decodes the last bytes of a stream: starts at a UTF-8 character boundary (continuation bytes at the
    /// front are dropped), so a tail never begins with half a character.
    /// </summary>
    public static string Utf8Tail(ReadOnlySpan<byte> tail)
    {
        var start = 0;
        while (start < tail.Length && start < 3 && (tail[start] & 0xC0) == 0x80)
        {
            start++;
        }

        return Encoding.UTF8.GetString(tail[start..]);
    }
}
