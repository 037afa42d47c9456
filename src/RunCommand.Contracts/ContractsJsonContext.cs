using System.Text.Json;
using System.Text.Json.Serialization;
using RunCommand.Contracts.Agents;
using RunCommand.Contracts.Arm;

namespace RunCommand.Contracts;

/// <summary>Source-generated serialization for every wire type (camelCase, nulls omitted; NativeAOT-safe).</summary>
[JsonSourceGenerationOptions(
    JsonSerializerDefaults.Web,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    WriteIndented = false)]
[JsonSerializable(typeof(RunCommandResource))]
[JsonSerializable(typeof(ResourceList<RunCommandResource>))]
[JsonSerializable(typeof(ResourceList<VirtualMachineResource>))]
[JsonSerializable(typeof(VirtualMachineResource))]
[JsonSerializable(typeof(VirtualMachineUpdate))]
[JsonSerializable(typeof(VirtualMachineScaleSetResource))]
[JsonSerializable(typeof(FleetRunResource))]
[JsonSerializable(typeof(ResourceList<FleetRunResource>))]
[JsonSerializable(typeof(ArmErrorResponse))]
[JsonSerializable(typeof(AsyncOperation))]
[JsonSerializable(typeof(RunCommandResult))]
[JsonSerializable(typeof(RunCommandLogs))]
[JsonSerializable(typeof(RunCommandDocument))]
[JsonSerializable(typeof(ResourceList<RunCommandDocumentBase>))]
[JsonSerializable(typeof(RunCommandInput))]
[JsonSerializable(typeof(ResourceList<SubscriptionResource>))]
[JsonSerializable(typeof(EnrollRequest))]
[JsonSerializable(typeof(EnrollResponse))]
[JsonSerializable(typeof(GoalState))]
[JsonSerializable(typeof(ExecutionReport))]
[JsonSerializable(typeof(ReportAck))]
public sealed partial class ContractsJsonContext : JsonSerializerContext;
