using System.Text.Json;
using System.Text.Json.Serialization;

namespace RunCommand.Agent.State;

/// <summary>Source-generated serialization of the agent's own on-disk state (NativeAOT-safe).</summary>
[JsonSourceGenerationOptions(
    JsonSerializerDefaults.Web,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    WriteIndented = true)]
[JsonSerializable(typeof(LocalExecutionRecord))]
internal sealed partial class AgentStateJsonContext : JsonSerializerContext;
