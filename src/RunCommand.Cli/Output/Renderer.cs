using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization.Metadata;
using RunCommand.Contracts;
using RunCommand.Contracts.Arm;

namespace RunCommand.Cli.Output;

/// <summary>
/// Prints the CLI's results through <see cref="AzOutput"/>, in az's shape (<see cref="AzShape"/>): run commands with
/// az's own rules (no table transformer in az for them), VMs, command documents, fleet runs and deployments with the
/// columns their tables choose when no <c>--query</c> is given.
/// </summary>
internal static class Renderer
{
    /// <summary>vm list / vmss list-instances: the agent's state and version beside az's Name, ResourceGroup, Location.</summary>
    public const string VmTable =
        "[].{Name:name, ResourceGroup:resourceGroup, Location:location, AgentStatus:agentInstanceView.status, "
        + "AgentVersion:agentInstanceView.agentVersion, LastContact:agentInstanceView.lastContact}";

    public const string FleetTable =
        "[].{Name:name, ProvisioningState:provisioningState, Targets:length(instanceView.targets || `[]`), "
        + "Running:instanceView.counts.Running || `0`, Succeeded:instanceView.counts.Succeeded || `0`, "
        + "Failed:instanceView.counts.Failed || `0`, NotStarted:instanceView.counts.NotStarted || `0`}";

    /// <summary>
    /// Command documents: the id is the column a reader needs (it is what --command-id takes), and az's generic table
    /// would drop it (as every <c>id</c>); the schema URL, the same on every row, is left out instead.
    /// </summary>
    public const string DocumentTable = "[].{CommandId:id, OsType:osType, Label:label, Description:description}";

    public const string DeploymentTable =
        "[].{Name:name, State:provisioningState, Timestamp:timestamp, Duration:duration}";

    public const string DeploymentOperationTable =
        "[].{ResourceName:targetResource.resourceName, State:provisioningState, StatusCode:statusCode, StartTime:startTime, EndTime:endTime}";

    public static void RunCommand(TextWriter writer, RunCommandResource resource, OutputSettings settings) =>
        Print(writer, resource, ContractsJsonContext.Default.RunCommandResource, settings);

    public static void RunCommands(TextWriter writer, IReadOnlyList<RunCommandResource> resources, OutputSettings settings) =>
        PrintList(writer, resources, ContractsJsonContext.Default.RunCommandResource, settings);

    public static void Vm(TextWriter writer, VirtualMachineResource vm, OutputSettings settings) =>
        Print(writer, vm, ContractsJsonContext.Default.VirtualMachineResource, settings, VmTable[3..]);

    public static void Vms(TextWriter writer, IReadOnlyList<VirtualMachineResource> vms, OutputSettings settings) =>
        PrintList(writer, vms, ContractsJsonContext.Default.VirtualMachineResource, settings, VmTable);

    public static void Documents(TextWriter writer, IReadOnlyList<RunCommandDocumentBase> documents, OutputSettings settings) =>
        PrintList(writer, documents, ContractsJsonContext.Default.RunCommandDocumentBase, settings, DocumentTable);

    public static void Document(TextWriter writer, RunCommandDocument document, OutputSettings settings) =>
        Print(writer, document, ContractsJsonContext.Default.RunCommandDocument, settings, DocumentTable[3..]);

    /// <summary>The action run's result, az's <c>{"value":[...]}</c>.</summary>
    public static void ActionResult(TextWriter writer, RunCommandResult result, OutputSettings settings) =>
        Print(writer, result, ContractsJsonContext.Default.RunCommandResult, settings);

    public static void FleetRun(TextWriter writer, FleetRunResource run, OutputSettings settings) =>
        Print(writer, run, ContractsJsonContext.Default.FleetRunResource, settings, FleetTable[3..]);

    public static void FleetRuns(TextWriter writer, IReadOnlyList<FleetRunResource> runs, OutputSettings settings) =>
        PrintList(writer, runs, ContractsJsonContext.Default.FleetRunResource, settings, FleetTable);

    public static void Deployment(TextWriter writer, DeploymentResource deployment, OutputSettings settings) =>
        Print(writer, deployment, ContractsJsonContext.Default.DeploymentResource, settings, DeploymentTable[3..]);

    public static void Deployments(TextWriter writer, IReadOnlyList<DeploymentResource> deployments, OutputSettings settings) =>
        PrintList(writer, deployments, ContractsJsonContext.Default.DeploymentResource, settings, DeploymentTable);

    public static void DeploymentOperations(TextWriter writer, IReadOnlyList<DeploymentOperation> operations, OutputSettings settings) =>
        PrintList(writer, operations, ContractsJsonContext.Default.DeploymentOperation, settings, DeploymentOperationTable);

    /// <summary>The resource group segment of an ARM id, or "" when the id has none.</summary>
    public static string ResourceGroupOf(string? id)
    {
        var segments = (id ?? "").Split('/', StringSplitOptions.RemoveEmptyEntries);
        for (var i = 0; i + 1 < segments.Length; i++)
        {
            if (segments[i].Equals("resourceGroups", StringComparison.OrdinalIgnoreCase))
            {
                return segments[i + 1];
            }
        }

        return "";
    }

    /// <summary>One value as az prints it: serialized as the API sends it, then shaped, queried and formatted.</summary>
    public static void Print<T>(TextWriter writer, T value, JsonTypeInfo<T> typeInfo, OutputSettings settings, string? tableTransformer = null) =>
        AzOutput.Write(writer, AzShape.Of(JsonSerializer.SerializeToNode(value, typeInfo)), settings, tableTransformer);

    public static void PrintList<T>(TextWriter writer, IReadOnlyList<T> values, JsonTypeInfo<T> typeInfo, OutputSettings settings, string? tableTransformer = null) =>
        AzOutput.Write(writer, AzShape.Of(new JsonArray(values.Select(v => JsonSerializer.SerializeToNode(v, typeInfo)).ToArray())), settings, tableTransformer);
}
