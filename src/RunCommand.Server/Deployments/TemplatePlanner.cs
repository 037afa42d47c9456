using System.Text.Json;
using System.Text.Json.Nodes;
using RunCommand.Contracts.Arm;
using RunCommand.Server.Arm;
using RunCommand.Storage;

namespace RunCommand.Server.Deployments;

/// <summary>One run command a deployment creates, with its body evaluated and its dependencies resolved.</summary>
public sealed record PlannedResource
{
    /// <summary>Position in the template's <c>resources</c> array.</summary>
    public required int Index { get; init; }

    /// <summary>The VM's name, or the instance id when <see cref="ScaleSetName"/> is set.</summary>
    public required string VmName { get; init; }

    /// <summary>The scale set of the instance the run command is on; null for a VM.</summary>
    public string? ScaleSetName { get; init; }

    public required string Name { get; init; }

    /// <summary>Full resource id of the run command.</summary>
    public required string ResourceId { get; init; }

    /// <summary>The run command body (location, tags, properties) with every expression evaluated; may hold secrets.</summary>
    public required JsonObject Body { get; init; }

    /// <summary>Indexes of the resources of this template that must succeed before this one starts.</summary>
    public required IReadOnlyList<int> DependsOn { get; init; }

    /// <summary>The resource type: <see cref="TemplatePlanner.RunCommandType"/> or <see cref="TemplatePlanner.ScaleSetRunCommandType"/>.</summary>
    public string ResourceType => ScaleSetName is null ? TemplatePlanner.RunCommandType : TemplatePlanner.ScaleSetRunCommandType;

    /// <summary>Template name, <c>vm/runCommand</c> or <c>vmss/instanceId/runCommand</c>.</summary>
    public string DisplayName => ScaleSetName is null ? $"{VmName}/{Name}" : $"{ScaleSetName}/{VmName}/{Name}";
}

/// <summary>
/// Turns a template and its parameters into run commands to create: declares and checks parameters, evaluates
/// variables and every string of every resource, checks each body with the run command request parser, resolves
/// <c>dependsOn</c> (by id, by type-qualified name or by name; an existing VM, scale set or scale-set instance
/// satisfies a dependency on it) and rejects cycles. Every problem found is returned at once.
/// </summary>
public static class TemplatePlanner
{
    public const string RunCommandType = "Microsoft.Compute/virtualMachines/runCommands";

    public const string ScaleSetRunCommandType = "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/runCommands";

    /// <param name="existingMachines">The VMs and scale-set instances of the resource group (a scale set exists through its instances).</param>
    public static (IReadOnlyList<PlannedResource> Resources, IReadOnlyList<ArmError> Errors) Plan(
        JsonElement template, JsonElement? parameters, ExpressionScope scope, IEnumerable<VmKey> existingMachines)
    {
        var errors = new List<ArmError>();
        if (template.ValueKind != JsonValueKind.Object)
        {
            return ([], [Error("properties.template", "The template must be a JSON object.")]);
        }

        var declared = ReadObject(template, "parameters");
        var supplied = parameters is { ValueKind: JsonValueKind.Object } p ? p : (JsonElement?)null;
        var variables = ReadObject(template, "variables");

        CheckCount(errors, declared, "properties.template.parameters", "parameters", TemplateLimits.MaxParameters);
        CheckCount(errors, supplied, "properties.parameters", "parameter values", TemplateLimits.MaxParameters);
        CheckCount(errors, variables, "properties.template.variables", "variables", TemplateLimits.MaxVariables);
        if (template.TryGetProperty("resources", out var all) && all.ValueKind == JsonValueKind.Array && all.GetArrayLength() > TemplateLimits.MaxResources)
        {
            errors.Add(Error("properties.template.resources", $"The template has {all.GetArrayLength():N0} resources; the limit is {TemplateLimits.MaxResources}."));
        }

        if (errors.Count > 0)
        {
            return ([], errors);
        }

        var parameterValues = new Dictionary<string, JsonNode?>(StringComparer.OrdinalIgnoreCase);
        var variableValues = new Dictionary<string, JsonNode?>(StringComparer.OrdinalIgnoreCase);
        var evaluating = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        ExpressionScope full = null!;
        full = scope with
        {
            Parameter = name => Lazy(parameterValues, "parameter", name, evaluating, () => ParameterValue(name, declared, supplied, full)),
            Variable = name => Lazy(variableValues, "variable", name, evaluating, () =>
                variables is { } v && TryGet(v, name, out var value)
                    ? EvaluateTree(JsonNode.Parse(value.GetRawText()), full, $"variables.{name}")
                    : throw new TemplateException($"The template variable '{name}' is not found.")),
        };

        if (supplied is { } given)
        {
            foreach (var property in given.EnumerateObject())
            {
                if (declared is null || !TryGet(declared.Value, property.Name, out _))
                {
                    errors.Add(Error($"properties.parameters.{property.Name}", $"The parameter '{property.Name}' is given but the template does not declare it."));
                }
            }
        }

        if (declared is { } declaredParameters)
        {
            foreach (var property in declaredParameters.EnumerateObject())
            {
                Try(errors, $"properties.template.parameters.{property.Name}", () => full.Parameter(property.Name));
            }
        }

        if (!template.TryGetProperty("resources", out var resources) || resources.ValueKind != JsonValueKind.Array)
        {
            errors.Add(Error("properties.template.resources", "The template must have a 'resources' array."));
            return ([], errors);
        }

        var evaluated = new List<(int Index, string Target, string? ScaleSet, string Vm, string Name, JsonObject Body, List<(string Entry, string Target)> DependsOn)>();
        var index = -1;
        foreach (var resource in resources.EnumerateArray())
        {
            index++;
            var target = $"resources[{index}]";
            var before = errors.Count;
            if (resource.ValueKind != JsonValueKind.Object)
            {
                errors.Add(Error(target, $"Resource {index} must be a JSON object."));
                continue;
            }

            var node = (JsonObject)EvaluateTree(JsonNode.Parse(resource.GetRawText()), full, target, errors)!;
            if (errors.Count > before)
            {
                continue;
            }

            if (node.TryGetPropertyValue("condition", out var condition) && condition is JsonValue cv && cv.GetValueKind() == JsonValueKind.False)
            {
                continue;
            }

            var type = node["type"] is JsonValue t && t.GetValueKind() == JsonValueKind.String ? t.GetValue<string>() : null;
            var name = node["name"] is JsonValue n && n.GetValueKind() == JsonValueKind.String ? n.GetValue<string>() : null;
            var onScaleSet = string.Equals(type, ScaleSetRunCommandType, StringComparison.OrdinalIgnoreCase);
            if (!onScaleSet && !string.Equals(type, RunCommandType, StringComparison.OrdinalIgnoreCase))
            {
                errors.Add(Error($"{target}.type", $"Resource {index} has type '{type}'; RunCommand deploys only '{RunCommandType}' and '{ScaleSetRunCommandType}'.", "UnsupportedResourceType"));
                continue;
            }

            var parts = name?.Split('/') ?? [];
            if (parts.Length != (onScaleSet ? 3 : 2))
            {
                errors.Add(Error($"{target}.name", onScaleSet
                    ? $"Resource {index} is named '{name}'; a scale-set instance run command is named 'vmScaleSetName/instanceId/runCommandName'."
                    : $"Resource {index} is named '{name}'; a run command is named 'vmName/runCommandName'."));
                continue;
            }

            target = $"resources[{index}]({name})";
            var (scaleSet, vm, runCommand) = onScaleSet ? (parts[0], parts[1], parts[2]) : (null, parts[0], parts[1]);
            var nameErrors = (scaleSet is null ? ArmNames.CheckVmName(vm) : ArmNames.CheckVmName(scaleSet).Concat(ArmNames.CheckInstanceId(vm)))
                .Concat(ArmNames.CheckRunCommandName(runCommand))
                .Select(e => e with { Target = $"{target}.name" }).ToList();
            errors.AddRange(nameErrors);

            var body = new JsonObject();
            foreach (var field in new[] { "location", "tags", "properties" })
            {
                if (node[field] is { } value)
                {
                    body[field] = value.DeepClone();
                }
            }

            using (var document = JsonDocument.Parse(body.ToJsonString()))
            {
                var request = RunCommandRequest.Parse(document.RootElement, isPatch: false);
                errors.AddRange(request.Errors.Select(e => e with { Target = string.IsNullOrEmpty(e.Target) ? target : $"{target}.{e.Target}" }));
            }

            var dependsOn = new List<(string, string)>();
            if (node["dependsOn"] is JsonArray entries)
            {
                for (var i = 0; i < entries.Count; i++)
                {
                    if (entries[i] is JsonValue ev && ev.GetValueKind() == JsonValueKind.String)
                    {
                        dependsOn.Add((ev.GetValue<string>(), $"{target}.dependsOn[{i}]"));
                    }
                    else
                    {
                        errors.Add(Error($"{target}.dependsOn[{i}]", "A dependsOn entry must be a string: a resource id or name."));
                    }
                }
            }
            else if (node["dependsOn"] is not null)
            {
                errors.Add(Error($"{target}.dependsOn", "'dependsOn' must be an array of resource ids or names."));
            }

            if (nameErrors.Count == 0)
            {
                evaluated.Add((index, target, scaleSet, vm, runCommand, body, dependsOn));
            }
        }

        if (errors.Count > 0)
        {
            return ([], errors);
        }

        var planned = new List<PlannedResource>();
        var graph = new DependencyGraph(scope.SubscriptionId, scope.ResourceGroup, existingMachines);
        foreach (var item in evaluated)
        {
            if (!graph.Add(item.Index, item.ScaleSet, item.Vm, item.Name))
            {
                errors.Add(Error($"{item.Target}.name", $"The resource '{DependencyGraph.TemplateName(item.ScaleSet, item.Vm, item.Name)}' is defined more than once in the template."));
            }
        }

        foreach (var item in evaluated)
        {
            var dependencies = new List<int>();
            foreach (var (entry, target) in item.DependsOn)
            {
                switch (graph.Resolve(entry))
                {
                    case DependencyTarget.Resource resource:
                        dependencies.Add(resource.Index);
                        break;
                    case DependencyTarget.ExistingVm or DependencyTarget.ExistingScaleSet:
                        break;
                    default:
                        errors.Add(Error(target, $"The resource '{entry}' in dependsOn of '{DependencyGraph.TemplateName(item.ScaleSet, item.Vm, item.Name)}' could not be resolved: it is not defined in the template and is not an existing virtual machine, scale set or scale-set instance of resource group '{scope.ResourceGroup}'."));
                        break;
                }
            }

            planned.Add(new PlannedResource
            {
                Index = item.Index,
                VmName = item.Vm,
                ScaleSetName = item.ScaleSet,
                Name = item.Name,
                ResourceId = graph.IdOf(item.ScaleSet, item.Vm, item.Name),
                Body = item.Body,
                DependsOn = dependencies.Distinct().ToList(),
            });
        }

        if (errors.Count == 0 && DependencyGraph.FindCycle(planned) is { } cycle)
        {
            errors.Add(Error("properties.template.resources", $"Circular dependency detected: {string.Join(" -> ", cycle)}."));
        }

        return errors.Count > 0 ? ([], errors) : (planned, []);
    }

    private static JsonNode? ParameterValue(string name, JsonElement? declared, JsonElement? supplied, ExpressionScope scope)
    {
        if (declared is null || !TryGet(declared.Value, name, out var definition))
        {
            throw new TemplateException($"The template parameter '{name}' is not found: declare it in the template's 'parameters'.");
        }

        var type = definition.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()!.ToLowerInvariant() : null;
        JsonNode? value;
        if (supplied is { } s && TryGet(s, name, out var given))
        {
            if (given.ValueKind != JsonValueKind.Object || !given.TryGetProperty("value", out var raw))
            {
                throw new TemplateException($"The parameter '{name}' must be given as {{\"value\": ...}}.");
            }

            value = JsonNode.Parse(raw.GetRawText());
        }
        else if (definition.TryGetProperty("defaultValue", out var defaultValue))
        {
            value = EvaluateTree(JsonNode.Parse(defaultValue.GetRawText()), scope, $"parameters.{name}.defaultValue");
        }
        else
        {
            throw new TemplateException($"The template parameter '{name}' has no value: give it in the deployment's parameters or declare a defaultValue.");
        }

        var kind = value?.GetValueKind() ?? JsonValueKind.Null;
        var fits = type switch
        {
            "string" or "securestring" => kind == JsonValueKind.String,
            "int" => kind == JsonValueKind.Number && value!.AsValue().TryGetValue<long>(out _),
            "bool" => kind is JsonValueKind.True or JsonValueKind.False,
            "object" or "secureobject" => kind == JsonValueKind.Object,
            "array" => kind == JsonValueKind.Array,
            _ => throw new TemplateException($"The template parameter '{name}' has type '{type}'; use string, securestring, int, bool, object, secureobject or array."),
        };
        if (!fits)
        {
            throw new TemplateException($"The value of the template parameter '{name}' is not of type '{type}'.");
        }

        if (definition.TryGetProperty("allowedValues", out var allowed) && allowed.ValueKind == JsonValueKind.Array
            && !allowed.EnumerateArray().Any(a => JsonNode.DeepEquals(JsonNode.Parse(a.GetRawText()), value)))
        {
            throw new TemplateException($"The value of the template parameter '{name}' is not one of its allowedValues.");
        }

        return value;
    }

    /// <summary>Evaluates every string of a JSON tree (object keys stay literal). Errors go to the list, or throw when none is given.</summary>
    private static JsonNode? EvaluateTree(JsonNode? node, ExpressionScope scope, string target, List<ArmError>? errors = null)
    {
        switch (node)
        {
            case JsonObject obj:
                var result = new JsonObject();
                foreach (var (key, value) in obj.ToList())
                {
                    result[key] = EvaluateTree(value, scope, $"{target}.{key}", errors);
                }

                return result;
            case JsonArray array:
                var items = new JsonArray();
                for (var i = 0; i < array.Count; i++)
                {
                    items.Add(EvaluateTree(array[i], scope, $"{target}[{i}]", errors));
                }

                return items;
            case JsonValue value when value.GetValueKind() == JsonValueKind.String:
                if (errors is null)
                {
                    return TemplateExpression.EvaluateString(value.GetValue<string>(), scope);
                }

                try
                {
                    return TemplateExpression.EvaluateString(value.GetValue<string>(), scope);
                }
                catch (TemplateException e)
                {
                    errors.Add(Error(target, e.Message, e.Code));
                    return null;
                }

            default:
                return node?.DeepClone();
        }
    }

    private static JsonNode? Lazy(Dictionary<string, JsonNode?> cache, string kind, string name, HashSet<string> evaluating, Func<JsonNode?> compute)
    {
        if (cache.TryGetValue(name, out var cached))
        {
            return cached?.DeepClone();
        }

        if (!evaluating.Add(kind + ":" + name))
        {
            throw new TemplateException($"The template {kind} '{name}' refers to itself.");
        }

        try
        {
            var value = compute();
            cache[name] = value;
            return value?.DeepClone();
        }
        finally
        {
            evaluating.Remove(kind + ":" + name);
        }
    }

    private static void Try(List<ArmError> errors, string target, Action action)
    {
        try
        {
            action();
        }
        catch (TemplateException e)
        {
            errors.Add(Error(target, e.Message, e.Code));
        }
    }

    private static void CheckCount(List<ArmError> errors, JsonElement? obj, string target, string what, int limit)
    {
        var count = obj?.EnumerateObject().Count() ?? 0;
        if (count > limit)
        {
            errors.Add(Error(target, $"The deployment has {count:N0} {what}; the limit is {limit}."));
        }
    }

    private static JsonElement? ReadObject(JsonElement template, string name) =>
        template.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Object ? value : null;

    private static bool TryGet(JsonElement obj, string name, out JsonElement value)
    {
        foreach (var property in obj.EnumerateObject())
        {
            if (string.Equals(property.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                value = property.Value;
                return true;
            }
        }

        value = default;
        return false;
    }

    private static ArmError Error(string target, string message, string code = "InvalidTemplate") => new() { Code = code, Target = target, Message = message };
}

/// <summary>What a <c>dependsOn</c> entry names.</summary>
public abstract record DependencyTarget
{
    public sealed record Resource(int Index) : DependencyTarget;

    public sealed record ExistingVm(string VmName) : DependencyTarget;

    /// <summary>An existing scale set, or one of its instances when <paramref name="InstanceId"/> is set.</summary>
    public sealed record ExistingScaleSet(string ScaleSetName, string? InstanceId) : DependencyTarget;
}

/// <summary>
/// The run commands of one template and the machines that exist, indexed by every spelling a <c>dependsOn</c> may use:
/// full resource id, provider path (<c>Microsoft.Compute/virtualMachines/vm/runCommands/rc</c>), type then names
/// (<c>Microsoft.Compute/virtualMachines/runCommands/vm/rc</c>) and the template name (<c>vm/rc</c>); for a scale-set
/// instance the same with <c>virtualMachineScaleSets/vmss/virtualMachines/0</c> and <c>vmss/0/rc</c>. Case-insensitive.
/// </summary>
public sealed class DependencyGraph
{
    private const string ScaleSets = "Microsoft.Compute/virtualMachineScaleSets";
    private readonly Dictionary<string, DependencyTarget> _names = new(StringComparer.OrdinalIgnoreCase);
    private readonly string _subscriptionId;
    private readonly string _resourceGroup;

    public DependencyGraph(string subscriptionId, string resourceGroup, IEnumerable<VmKey> existingMachines)
    {
        _subscriptionId = subscriptionId;
        _resourceGroup = resourceGroup;
        foreach (var machine in existingMachines)
        {
            if (machine.ScaleSetName is { } scaleSet)
            {
                var set = new DependencyTarget.ExistingScaleSet(scaleSet, null);
                _names[$"{ScaleSets}/{scaleSet}"] = set;
                _names[Provider + $"{ScaleSets}/{scaleSet}"] = set;
                var instance = new DependencyTarget.ExistingScaleSet(scaleSet, machine.VmName);
                _names[$"{ScaleSets}/{scaleSet}/virtualMachines/{machine.VmName}"] = instance;
                _names[$"{ScaleSets}/virtualMachines/{scaleSet}/{machine.VmName}"] = instance;
                _names[MachineId(scaleSet, machine.VmName)] = instance;
            }
            else
            {
                var target = new DependencyTarget.ExistingVm(machine.VmName);
                _names[$"Microsoft.Compute/virtualMachines/{machine.VmName}"] = target;
                _names[MachineId(null, machine.VmName)] = target;
            }
        }
    }

    private string Provider => $"/subscriptions/{_subscriptionId}/resourceGroups/{_resourceGroup}/providers/";

    /// <summary>The id of a VM, or of a scale-set instance when <paramref name="scaleSet"/> is set (<paramref name="vm"/> is then the instance id).</summary>
    public string MachineId(string? scaleSet, string vm) => Provider + MachinePath(scaleSet, vm);

    public string IdOf(string? scaleSet, string vm, string name) => $"{MachineId(scaleSet, vm)}/runCommands/{name}";

    /// <summary>The template name: <c>vm/rc</c> or <c>vmss/instanceId/rc</c>.</summary>
    public static string TemplateName(string? scaleSet, string vm, string name) => scaleSet is null ? $"{vm}/{name}" : $"{scaleSet}/{vm}/{name}";

    private static string MachinePath(string? scaleSet, string vm) =>
        scaleSet is null ? $"Microsoft.Compute/virtualMachines/{vm}" : $"{ScaleSets}/{scaleSet}/virtualMachines/{vm}";

    /// <summary>Indexes a template resource on a VM or scale-set instance; false when one with that name is already there.</summary>
    public bool Add(int index, string? scaleSet, string vm, string name)
    {
        var templateName = TemplateName(scaleSet, vm, name);
        if (_names.TryGetValue(templateName, out var existing) && existing is DependencyTarget.Resource)
        {
            return false;
        }

        var target = new DependencyTarget.Resource(index);
        _names[templateName] = target;
        _names[scaleSet is null ? $"{TemplatePlanner.RunCommandType}/{vm}/{name}" : $"{TemplatePlanner.ScaleSetRunCommandType}/{scaleSet}/{vm}/{name}"] = target;
        _names[$"{MachinePath(scaleSet, vm)}/runCommands/{name}"] = target;
        _names[IdOf(scaleSet, vm, name)] = target;
        return true;
    }

    /// <summary>What the entry names, or null when nothing in the template or the resource group matches it.</summary>
    public DependencyTarget? Resolve(string entry) =>
        _names.TryGetValue(entry.Trim().TrimEnd('/'), out var target) ? target : null;

    /// <summary>A dependency cycle as template names (first repeated at the end), or null when there is none.</summary>
    public static IReadOnlyList<string>? FindCycle(IReadOnlyList<PlannedResource> resources)
    {
        var byIndex = resources.ToDictionary(r => r.Index);
        var state = new Dictionary<int, int>(); // 1 = on the current path, 2 = done
        var path = new List<int>();

        IReadOnlyList<string>? Visit(int index)
        {
            state[index] = 1;
            path.Add(index);
            foreach (var next in byIndex[index].DependsOn)
            {
                var seen = state.GetValueOrDefault(next);
                if (seen == 1)
                {
                    return path.Skip(path.IndexOf(next)).Append(next).Select(i => byIndex[i].DisplayName).ToList();
                }

                if (seen == 0 && Visit(next) is { } cycle)
                {
                    return cycle;
                }
            }

            path.RemoveAt(path.Count - 1);
            state[index] = 2;
            return null;
        }

        foreach (var resource in resources)
        {
            if (state.GetValueOrDefault(resource.Index) == 0 && Visit(resource.Index) is { } cycle)
            {
                return cycle;
            }
        }

        return null;
    }
}
