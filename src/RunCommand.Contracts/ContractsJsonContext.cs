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
[JsonSerializable(typeof(ResourceList<VirtualMachineScaleSetResource>))]
[JsonSerializable(typeof(FleetRunResource))]
[JsonSerializable(typeof(ResourceList<FleetRunResource>))]
[JsonSerializable(typeof(ArmErrorResponse))]
[JsonSerializable(typeof(AsyncOperation))]
[JsonSerializable(typeof(DeploymentResource))]
[JsonSerializable(typeof(ResourceList<DeploymentResource>))]
[JsonSerializable(typeof(ResourceList<DeploymentOperation>))]
[JsonSerializable(typeof(IReadOnlyList<DeploymentResource>))]
[JsonSerializable(typeof(IReadOnlyList<DeploymentOperation>))]
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
[JsonSerializable(typeof(PrincipalResource))]
[JsonSerializable(typeof(PrincipalCreate))]
[JsonSerializable(typeof(ResourceList<PrincipalResource>))]
[JsonSerializable(typeof(ApiTokenResource))]
[JsonSerializable(typeof(ApiTokenCreate))]
[JsonSerializable(typeof(ResourceList<ApiTokenResource>))]
[JsonSerializable(typeof(RoleDefinitionResource))]
[JsonSerializable(typeof(RoleDefinitionCreate))]
[JsonSerializable(typeof(ResourceList<RoleDefinitionResource>))]
[JsonSerializable(typeof(RoleAssignmentResource))]
[JsonSerializable(typeof(RoleAssignmentCreate))]
[JsonSerializable(typeof(ResourceList<RoleAssignmentResource>))]
[JsonSerializable(typeof(ResourceList<ActivityLogEvent>))]
[JsonSerializable(typeof(IReadOnlyList<PrincipalResource>))]
[JsonSerializable(typeof(IReadOnlyList<ApiTokenResource>))]
[JsonSerializable(typeof(IReadOnlyList<RoleDefinitionResource>))]
[JsonSerializable(typeof(IReadOnlyList<RoleAssignmentResource>))]
[JsonSerializable(typeof(IReadOnlyList<ActivityLogEvent>))]
[JsonSerializable(typeof(EnrollmentTokenResource))]
[JsonSerializable(typeof(EnrollmentTokenCreate))]
[JsonSerializable(typeof(ResourceList<EnrollmentTokenResource>))]
[JsonSerializable(typeof(IReadOnlyList<EnrollmentTokenResource>))]
[JsonSerializable(typeof(SignedInPrincipal))]
[JsonSerializable(typeof(ResourceList<RolePermission>))]
public sealed partial class ContractsJsonContext : JsonSerializerContext;
