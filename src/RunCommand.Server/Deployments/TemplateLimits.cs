using System.Text.Json;
using System.Text.Json.Nodes;

namespace RunCommand.Server.Deployments;

/// <summary>
/// Bounds on a template, so no template can exhaust the server's stack, memory or time: the counts are ARM's own
/// documented limits; the depth and the evaluation budget are RunCommand's (ARM does not publish them). A template
/// over one is a 400 InvalidTemplate naming the limit.
/// </summary>
public static class TemplateLimits
{
    /// <summary>Characters of one expression between its brackets (ARM: 24,576).</summary>
    public const int MaxExpressionLength = 24_576;

    /// <summary>Calls, property reads and indexes nested inside one expression.</summary>
    public const int MaxExpressionDepth = 64;

    /// <summary>Nesting of evaluation across expressions: a variable whose value uses a variable whose value uses ... .</summary>
    public const int MaxEvaluationDepth = 128;

    /// <summary>Characters (strings) and elements (arrays, objects) all function results of one deployment may produce together.</summary>
    public const long MaxEvaluatedSize = 16 * 1024 * 1024;

    /// <summary>Width of a <c>format</c> alignment such as <c>{0,20}</c>.</summary>
    public const int MaxFormatAlignment = 1_000;

    /// <summary>Parameters a template declares (ARM: 256).</summary>
    public const int MaxParameters = 256;

    /// <summary>Variables a template declares (ARM: 256).</summary>
    public const int MaxVariables = 256;

    /// <summary>Resources of one template (ARM: 800).</summary>
    public const int MaxResources = 800;
}

/// <summary>
/// What evaluating one template has spent so far: the current nesting depth and the size of every value produced.
/// Shared by every expression of one deployment (the scope is copied with <c>with</c>, the budget is not).
/// </summary>
public sealed class EvaluationBudget
{
    private int _depth;
    private long _spent;

    /// <summary>Enters one level of nesting; throws when over <see cref="TemplateLimits.MaxEvaluationDepth"/> or when the stack runs short.</summary>
    public Level Enter()
    {
        if (++_depth > TemplateLimits.MaxEvaluationDepth)
        {
            _depth--;
            throw new TemplateException($"The template nests expressions deeper than {TemplateLimits.MaxEvaluationDepth} levels (counting variables used by variables), the limit of this server.");
        }

        if (!System.Runtime.CompilerServices.RuntimeHelpers.TryEnsureSufficientExecutionStack())
        {
            _depth--;
            throw new TemplateException("The template nests expressions too deeply for this server to evaluate.");
        }

        return new Level(this);
    }

    /// <summary>Counts a value produced by a function; throws when the deployment's total is over <see cref="TemplateLimits.MaxEvaluatedSize"/>.</summary>
    public void Charge(JsonNode? value)
    {
        _spent += Size(value);
        if (_spent > TemplateLimits.MaxEvaluatedSize)
        {
            throw new TemplateException($"The template's expressions produce more than {TemplateLimits.MaxEvaluatedSize:N0} characters and elements in all, the limit of this server.");
        }
    }

    /// <summary>Characters of strings plus one per number, boolean, null, array element and object property; iterative.</summary>
    public static long Size(JsonNode? value)
    {
        long size = 0;
        var pending = new Stack<JsonNode?>();
        pending.Push(value);
        while (pending.Count > 0)
        {
            switch (pending.Pop())
            {
                case JsonObject obj:
                    foreach (var (key, child) in obj)
                    {
                        size += key.Length + 1;
                        pending.Push(child);
                    }

                    break;
                case JsonArray array:
                    foreach (var child in array)
                    {
                        size++;
                        pending.Push(child);
                    }

                    break;
                case JsonValue v when v.GetValueKind() == JsonValueKind.String:
                    size += v.GetValue<string>().Length;
                    break;
                default:
                    size++;
                    break;
            }
        }

        return size;
    }

    /// <summary>Leaves the level on dispose.</summary>
    public readonly struct Level(EvaluationBudget budget) : IDisposable
    {
        public void Dispose() => budget._depth--;
    }
}
