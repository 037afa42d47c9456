using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using RunCommand.Contracts;
using RunCommand.Contracts.Arm;

namespace RunCommand.Cli.Output;

/// <summary>Prints resources as indented JSON (the default, as in az), an aligned table, or tsv.</summary>
internal static class Renderer
{
    private static readonly string[] RunCommandColumns = ["Name", "ProvisioningState", "ExecutionState", "ExitCode", "StartTime", "EndTime"];
    private static readonly string[] VmColumns = ["Name", "ResourceGroup", "Location", "AgentStatus", "LastContact"];

    /// <summary>The shared contracts context, indented and without escaping non-ASCII text.</summary>
    private static readonly ContractsJsonContext Indented = new(new JsonSerializerOptions(ContractsJsonContext.Default.Options)
    {
        WriteIndented = true,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });

    public static void RunCommand(TextWriter writer, RunCommandResource resource, OutputFormat format)
    {
        switch (format)
        {
            case OutputFormat.Json:
                Json(writer, resource, Indented.RunCommandResource);
                break;
            case OutputFormat.Table:
                TextTable.Write(writer, RunCommandColumns, [RunCommandRow(resource, Table)]);
                if (resource.Properties?.InstanceView is { } view)
                {
                    WriteSection(writer, "Output", view.Output);
                    WriteSection(writer, "Error", view.Error);
                }

                break;
            case OutputFormat.Tsv:
                TextTable.WriteTsv(writer, [RunCommandRow(resource, Tsv)]);
                break;
            case OutputFormat.None:
                break;
        }
    }

    public static void RunCommands(TextWriter writer, IReadOnlyList<RunCommandResource> resources, OutputFormat format)
    {
        switch (format)
        {
            case OutputFormat.Json:
                JsonArray(writer, resources, Indented.RunCommandResource);
                break;
            case OutputFormat.Table:
                TextTable.Write(writer, RunCommandColumns, resources.Select(r => RunCommandRow(r, Table)));
                break;
            case OutputFormat.Tsv:
                TextTable.WriteTsv(writer, resources.Select(r => RunCommandRow(r, Tsv)));
                break;
            case OutputFormat.None:
                break;
        }
    }

    public static void Vm(TextWriter writer, VirtualMachineResource vm, OutputFormat format) =>
        Vms(writer, [vm], format, single: true);

    public static void Vms(TextWriter writer, IReadOnlyList<VirtualMachineResource> vms, OutputFormat format, bool single = false)
    {
        switch (format)
        {
            case OutputFormat.Json when single:
                Json(writer, vms[0], Indented.VirtualMachineResource);
                break;
            case OutputFormat.Json:
                JsonArray(writer, vms, Indented.VirtualMachineResource);
                break;
            case OutputFormat.Table:
                TextTable.Write(writer, VmColumns, vms.Select(vm => VmRow(vm, Table)));
                break;
            case OutputFormat.Tsv:
                TextTable.WriteTsv(writer, vms.Select(vm => VmRow(vm, Tsv)));
                break;
            case OutputFormat.None:
                break;
        }
    }

    private static readonly string[] DocumentColumns = ["Id", "OsType", "Label"];

    public static void Documents(TextWriter writer, IReadOnlyList<RunCommandDocumentBase> documents, OutputFormat format)
    {
        switch (format)
        {
            case OutputFormat.Json:
                JsonArray(writer, documents, Indented.RunCommandDocumentBase);
                break;
            case OutputFormat.Table:
                TextTable.Write(writer, DocumentColumns, documents.Select(d => new[] { d.Id, d.OsType, d.Label ?? "" }));
                break;
            case OutputFormat.Tsv:
                TextTable.WriteTsv(writer, documents.Select(d => new[] { d.Id, d.OsType, d.Label ?? "" }));
                break;
            case OutputFormat.None:
                break;
        }
    }

    public static void Document(TextWriter writer, RunCommandDocument document, OutputFormat format)
    {
        switch (format)
        {
            case OutputFormat.Json:
                Json(writer, document, Indented.RunCommandDocument);
                break;
            case OutputFormat.Table:
                TextTable.Write(writer, DocumentColumns, [[document.Id, document.OsType, document.Label ?? ""]]);
                WriteSection(writer, "Script", string.Join("\n", document.Script));
                break;
            case OutputFormat.Tsv:
                TextTable.WriteTsv(writer, [[document.Id, document.OsType, document.Label ?? ""]]);
                break;
            case OutputFormat.None:
                break;
        }
    }

    /// <summary>The action run's result: az's <c>{"value":[...]}</c> as JSON; the status and its message otherwise.</summary>
    public static void ActionResult(TextWriter writer, RunCommandResult result, OutputFormat format)
    {
        switch (format)
        {
            case OutputFormat.Json:
                Json(writer, result, Indented.RunCommandResult);
                break;
            case OutputFormat.Table or OutputFormat.Tsv:
                foreach (var status in result.Value)
                {
                    writer.WriteLine(status.Code);
                    WriteSection(writer, "Message", status.Message);
                }

                break;
            case OutputFormat.None:
                break;
        }
    }

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

    private static string[] RunCommandRow(RunCommandResource resource, Func<DateTimeOffset?, string> time)
    {
        var view = resource.Properties?.InstanceView;
        return
        [
            resource.Name ?? "",
            resource.Properties?.ProvisioningState ?? "",
            view?.ExecutionState ?? "",
            view?.ExitCode?.ToString(CultureInfo.InvariantCulture) ?? "",
            time(view?.StartTime),
            time(view?.EndTime),
        ];
    }

    private static string[] VmRow(VirtualMachineResource vm, Func<DateTimeOffset?, string> time) =>
    [
        vm.Name,
        ResourceGroupOf(vm.Id),
        vm.Location,
        vm.Properties.AgentInstanceView.Status,
        time(vm.Properties.AgentInstanceView.LastContact),
    ];

    /// <summary>Readable to the second in tables, always in UTC.</summary>
    private static string Table(DateTimeOffset? time) =>
        time?.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture) ?? "";

    /// <summary>Round-trip precision for scripts.</summary>
    private static string Tsv(DateTimeOffset? time) =>
        time?.ToString("O", CultureInfo.InvariantCulture) ?? "";

    private static void WriteSection(TextWriter writer, string title, string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return;
        }

        writer.WriteLine();
        writer.WriteLine($"{title}:");
        writer.Write(text);
        if (!text.EndsWith('\n'))
        {
            writer.WriteLine();
        }
    }

    private static readonly string[] FleetColumns = ["Name", "ProvisioningState", "Targets", "Running", "Succeeded", "Failed", "NotStarted"];

    public static void FleetRunJson(TextWriter writer, FleetRunResource run) => Json(writer, run, Indented.FleetRunResource);

    public static void FleetRuns(TextWriter writer, IReadOnlyList<FleetRunResource> runs, OutputFormat format)
    {
        static string[] Row(FleetRunResource run)
        {
            var counts = run.Properties?.InstanceView?.Counts ?? new Dictionary<string, int>();
            string Count(string state) => (counts.TryGetValue(state, out var n) ? n : 0).ToString(CultureInfo.InvariantCulture);
            return
            [
                run.Name ?? "", run.Properties?.ProvisioningState ?? "", (run.Properties?.InstanceView?.Targets.Count ?? 0).ToString(CultureInfo.InvariantCulture),
                Count(ExecutionStates.Running), Count(ExecutionStates.Succeeded), Count(ExecutionStates.Failed), Count(FleetTargetStates.NotStarted),
            ];
        }

        switch (format)
        {
            case OutputFormat.Json:
                JsonArray(writer, runs, Indented.FleetRunResource);
                break;
            case OutputFormat.Table:
                TextTable.Write(writer, FleetColumns, runs.Select(Row));
                break;
            case OutputFormat.Tsv:
                TextTable.WriteTsv(writer, runs.Select(Row));
                break;
            case OutputFormat.None:
                break;
        }
    }

    private static void Json<T>(TextWriter writer, T value, JsonTypeInfo<T> typeInfo) =>
        writer.WriteLine(JsonSerializer.Serialize(value, typeInfo));

    private static void JsonArray<T>(TextWriter writer, IReadOnlyList<T> values, JsonTypeInfo<T> typeInfo)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartArray();
            foreach (var value in values)
            {
                JsonSerializer.Serialize(json, value, typeInfo);
            }

            json.WriteEndArray();
        }

        writer.WriteLine(System.Text.Encoding.UTF8.GetString(buffer.ToArray()));
    }
}
