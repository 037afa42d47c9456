using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace RunCommand.Server.Deployments;

/// <summary>A template the server cannot deploy: an ARM error (code InvalidTemplate unless said otherwise) naming what is wrong.</summary>
public sealed class TemplateException : Exception
{
    public TemplateException(string message, string code = "InvalidTemplate")
        : base(message)
    {
        Code = code;
    }

    public string Code { get; }
}

/// <summary>What template functions can see: parameters, variables and the deployment's scope.</summary>
public sealed record ExpressionScope
{
    public required string SubscriptionId { get; init; }

    public required string ResourceGroup { get; init; }

    /// <summary>Location of the resource group (RunCommand has one location per server).</summary>
    public required string Location { get; init; }

    /// <summary>Value of a declared parameter; throws <see cref="TemplateException"/> for an undeclared one.</summary>
    public Func<string, JsonNode?> Parameter { get; init; } = name => throw new TemplateException($"The template parameter '{name}' is not found.");

    /// <summary>Value of a variable; throws <see cref="TemplateException"/> for an unknown one.</summary>
    public Func<string, JsonNode?> Variable { get; init; } = name => throw new TemplateException($"The template variable '{name}' is not found.");

    /// <summary>Depth and size spent so far; one budget for every expression of a deployment (<c>with</c> keeps it).</summary>
    public EvaluationBudget Budget { get; init; } = new();
}

/// <summary>
/// ARM template expressions: a JSON string <c>[...]</c> is an expression (<c>[[</c> at the start escapes a literal
/// <c>[</c>). The language RunCommand needs: function calls, string literals with <c>''</c> escapes, integers,
/// <c>true</c>/<c>false</c>, property access <c>.name</c> and indexing <c>[0]</c>. Values are JSON nodes.
/// </summary>
public static class TemplateExpression
{
    /// <summary>True when <paramref name="value"/> is an expression rather than a literal string.</summary>
    public static bool IsExpression(string value) =>
        value.Length >= 2 && value[0] == '[' && value[^1] == ']' && !value.StartsWith("[[", StringComparison.Ordinal);

    /// <summary>The value of a template string: the expression's result, the string with its escape removed, or the string.</summary>
    public static JsonNode? EvaluateString(string value, ExpressionScope scope)
    {
        if (IsExpression(value))
        {
            return Evaluate(value[1..^1], scope);
        }

        return JsonValue.Create(value.StartsWith("[[", StringComparison.Ordinal) ? value[1..] : value);
    }

    /// <summary>Evaluates the text between the outer brackets.</summary>
    public static JsonNode? Evaluate(string expression, ExpressionScope scope)
    {
        if (expression.Length > TemplateLimits.MaxExpressionLength)
        {
            throw new TemplateException($"An expression has {expression.Length:N0} characters; the limit is {TemplateLimits.MaxExpressionLength:N0}.");
        }

        var parser = new Parser(expression);
        var tree = parser.ParseWhole();
        return tree.Evaluate(scope);
    }

    // ------------------------------------------------------------ syntax tree

    private abstract record Node
    {
        public abstract JsonNode? Evaluate(ExpressionScope scope);
    }

    private sealed record Literal(JsonNode? Value) : Node
    {
        public override JsonNode? Evaluate(ExpressionScope scope) => Value?.DeepClone();
    }

    private sealed record Call(string Name, IReadOnlyList<Node> Arguments) : Node
    {
        public override JsonNode? Evaluate(ExpressionScope scope)
        {
            using var level = scope.Budget.Enter();
            var result = TemplateFunctions.Invoke(Name, Arguments.Select(a => a.Evaluate(scope)).ToList(), scope);
            scope.Budget.Charge(result);
            return result;
        }
    }

    private sealed record Member(Node Target, string Name) : Node
    {
        public override JsonNode? Evaluate(ExpressionScope scope)
        {
            using var level = scope.Budget.Enter();
            if (Target.Evaluate(scope) is not JsonObject obj)
            {
                throw new TemplateException($"The property '{Name}' cannot be read: the value is not an object.");
            }

            foreach (var (key, value) in obj)
            {
                if (string.Equals(key, Name, StringComparison.OrdinalIgnoreCase))
                {
                    return value?.DeepClone();
                }
            }

            throw new TemplateException($"The object has no property '{Name}'. Its properties are: {string.Join(", ", obj.Select(p => p.Key))}.");
        }
    }

    private sealed record Index(Node Target, Node Key) : Node
    {
        public override JsonNode? Evaluate(ExpressionScope scope)
        {
            using var level = scope.Budget.Enter();
            var target = Target.Evaluate(scope);
            var key = Key.Evaluate(scope);
            if (target is JsonArray array && key is JsonValue v && v.TryGetValue<long>(out var i))
            {
                return i >= 0 && i < array.Count ? array[(int)i]?.DeepClone() : throw new TemplateException($"The index {i} is out of range: the array has {array.Count} elements.");
            }

            if (target is JsonObject && key is JsonValue s && s.TryGetValue<string>(out var name))
            {
                return new Member(new Literal(target), name).Evaluate(scope);
            }

            throw new TemplateException("An index must be an integer into an array or a string into an object.");
        }
    }

    // ------------------------------------------------------------ tokens and parser

    private enum TokenKind
    {
        Identifier,
        String,
        Integer,
        OpenParen,
        CloseParen,
        OpenBracket,
        CloseBracket,
        Comma,
        Dot,
        End,
    }

    private readonly record struct Token(TokenKind Kind, string Text, int Position);

    private sealed class Parser
    {
        private readonly string _text;
        private readonly List<Token> _tokens;
        private int _next;
        private int _depth;

        public Parser(string text)
        {
            _text = text;
            _tokens = Tokenize(text);
        }

        public Node ParseWhole()
        {
            var node = ParseExpression();
            Expect(TokenKind.End, "the end of the expression");
            return node;
        }

        // Recursive descent, bounded: each nested call, property read or index is one level.
        private Node ParseExpression()
        {
            if (++_depth > TemplateLimits.MaxExpressionDepth)
            {
                throw TooDeep();
            }

            try
            {
                return ParseNested();
            }
            finally
            {
                _depth--;
            }
        }

        private Node ParseNested()
        {
            var token = Take();
            Node node = token.Kind switch
            {
                TokenKind.String => new Literal(JsonValue.Create(token.Text)),
                TokenKind.Integer => new Literal(JsonValue.Create(long.TryParse(token.Text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var number)
                    ? number
                    : throw new TemplateException($"The expression '[{_text}]' is not valid: the integer at position {token.Position + 1} is out of range."))),
                TokenKind.Identifier when token.Text == "true" => new Literal(JsonValue.Create(true)),
                TokenKind.Identifier when token.Text == "false" => new Literal(JsonValue.Create(false)),
                TokenKind.Identifier when token.Text == "null" => new Literal(null),
                TokenKind.Identifier => ParseCall(token),
                _ => throw Error(token, "a function call, a string or a number"),
            };

            // Each property read or index wraps the node once more: the chain counts towards the depth.
            for (var links = 1; ; links++)
            {
                if (_depth + links > TemplateLimits.MaxExpressionDepth && Peek().Kind is TokenKind.Dot or TokenKind.OpenBracket)
                {
                    throw TooDeep();
                }

                if (Peek().Kind == TokenKind.Dot)
                {
                    Take();
                    var name = Take();
                    if (name.Kind != TokenKind.Identifier)
                    {
                        throw Error(name, "a property name after '.'");
                    }

                    node = new Member(node, name.Text);
                }
                else if (Peek().Kind == TokenKind.OpenBracket)
                {
                    Take();
                    var key = ParseExpression();
                    Expect(TokenKind.CloseBracket, "']'");
                    node = new Index(node, key);
                }
                else
                {
                    return node;
                }
            }
        }

        private Call ParseCall(Token name)
        {
            Expect(TokenKind.OpenParen, $"'(' after '{name.Text}'");
            var arguments = new List<Node>();
            if (Peek().Kind != TokenKind.CloseParen)
            {
                arguments.Add(ParseExpression());
                while (Peek().Kind == TokenKind.Comma)
                {
                    Take();
                    arguments.Add(ParseExpression());
                }
            }

            Expect(TokenKind.CloseParen, $"',' or ')' in the call of '{name.Text}'");
            return new Call(name.Text, arguments);
        }

        private static TemplateException TooDeep() =>
            new($"An expression nests calls, property reads or indexes deeper than {TemplateLimits.MaxExpressionDepth} levels, the limit of this server.");

        private Token Peek() => _tokens[_next];

        private Token Take() => _tokens[Math.Min(_next++, _tokens.Count - 1)];

        private void Expect(TokenKind kind, string what)
        {
            var token = Take();
            if (token.Kind != kind)
            {
                throw Error(token, what);
            }
        }

        private TemplateException Error(Token token, string expected) =>
            new($"The expression '[{_text}]' is not valid: expected {expected} at position {token.Position + 1}" +
                (token.Kind == TokenKind.End ? " (the end)." : $", found '{token.Text}'."));

        private static List<Token> Tokenize(string text)
        {
            var tokens = new List<Token>();
            var i = 0;
            while (i < text.Length)
            {
                var c = text[i];
                if (char.IsWhiteSpace(c))
                {
                    i++;
                    continue;
                }

                var single = c switch
                {
                    '(' => TokenKind.OpenParen,
                    ')' => TokenKind.CloseParen,
                    '[' => TokenKind.OpenBracket,
                    ']' => TokenKind.CloseBracket,
                    ',' => TokenKind.Comma,
                    '.' => TokenKind.Dot,
                    _ => (TokenKind?)null,
                };
                if (single is { } kind)
                {
                    tokens.Add(new Token(kind, c.ToString(), i));
                    i++;
                }
                else if (c == '\'')
                {
                    var start = i;
                    var value = new StringBuilder();
                    i++;
                    while (true)
                    {
                        if (i >= text.Length)
                        {
                            throw new TemplateException($"The expression '[{text}]' is not valid: the string starting at position {start + 1} is not closed with '.");
                        }

                        if (text[i] == '\'')
                        {
                            if (i + 1 < text.Length && text[i + 1] == '\'')
                            {
                                value.Append('\'');
                                i += 2;
                                continue;
                            }

                            i++;
                            break;
                        }

                        value.Append(text[i++]);
                    }

                    tokens.Add(new Token(TokenKind.String, value.ToString(), start));
                }
                else if (char.IsAsciiDigit(c) || (c == '-' && i + 1 < text.Length && char.IsAsciiDigit(text[i + 1])))
                {
                    var start = i++;
                    while (i < text.Length && char.IsAsciiDigit(text[i]))
                    {
                        i++;
                    }

                    tokens.Add(new Token(TokenKind.Integer, text[start..i], start));
                }
                else if (char.IsAsciiLetter(c) || c == '_')
                {
                    var start = i++;
                    while (i < text.Length && (char.IsAsciiLetterOrDigit(text[i]) || text[i] == '_'))
                    {
                        i++;
                    }

                    tokens.Add(new Token(TokenKind.Identifier, text[start..i], start));
                }
                else
                {
                    throw new TemplateException($"The expression '[{text}]' is not valid: unexpected character '{c}' at position {i + 1}.");
                }
            }

            tokens.Add(new Token(TokenKind.End, "", text.Length));
            return tokens;
        }
    }
}

/// <summary>The template functions RunCommand implements; names compare case-insensitively, as in ARM.</summary>
public static partial class TemplateFunctions
{
    // The alignment of a format item, {index,alignment}: string.Format would allocate that many characters.
    [GeneratedRegex(@"\{\s*\d+\s*,\s*-?\s*(\d+)")]
    private static partial Regex FormatAlignment();

    public static IReadOnlyList<string> Names { get; } = ["parameters", "variables", "concat", "format", "resourceId", "resourceGroup", "subscription"];

    public static JsonNode? Invoke(string name, IReadOnlyList<JsonNode?> args, ExpressionScope scope)
    {
        switch (name.ToLowerInvariant())
        {
            case "parameters":
                return scope.Parameter(RequireString(name, args, 0, count: 1));
            case "variables":
                return scope.Variable(RequireString(name, args, 0, count: 1));
            case "concat":
                return Concat(args);
            case "format":
                return Format(args);
            case "resourceid":
                return JsonValue.Create(ResourceId(args, scope));
            case "resourcegroup":
                RequireCount(name, args, 0);
                return new JsonObject
                {
                    ["id"] = $"/subscriptions/{scope.SubscriptionId}/resourceGroups/{scope.ResourceGroup}",
                    ["name"] = scope.ResourceGroup,
                    ["type"] = "Microsoft.Resources/resourceGroups",
                    ["location"] = scope.Location,
                };
            case "subscription":
                RequireCount(name, args, 0);
                return new JsonObject
                {
                    ["id"] = $"/subscriptions/{scope.SubscriptionId}",
                    ["subscriptionId"] = scope.SubscriptionId,
                    ["displayName"] = scope.SubscriptionId,
                };
            default:
                throw new TemplateException($"The template function '{name}' is not known. RunCommand implements: {string.Join(", ", Names)}.");
        }
    }

    /// <summary>The text of a string, integer or boolean value (what concat and format insert).</summary>
    public static string Text(JsonNode? value) => value switch
    {
        null => "",
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        JsonValue v when v.GetValueKind() is JsonValueKind.True or JsonValueKind.False => v.GetValue<bool>() ? "True" : "False",
        _ => value.ToJsonString(),
    };

    private static JsonNode Concat(IReadOnlyList<JsonNode?> args)
    {
        if (args.Count > 0 && args.All(a => a is JsonArray))
        {
            var joined = new JsonArray();
            foreach (var item in args.SelectMany(a => ((JsonArray)a!).Select(i => i?.DeepClone())))
            {
                joined.Add(item);
            }

            return joined;
        }

        if (args.Any(a => a is JsonArray or JsonObject))
        {
            throw new TemplateException("The template function 'concat' takes either all arrays or only strings, integers and booleans.");
        }

        return JsonValue.Create(string.Concat(args.Select(Text)));
    }

    private static JsonNode Format(IReadOnlyList<JsonNode?> args)
    {
        var pattern = RequireString("format", args, 0, count: null);
        foreach (Match alignment in FormatAlignment().Matches(pattern))
        {
            if (!int.TryParse(alignment.Groups[1].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out var width) || width > TemplateLimits.MaxFormatAlignment)
            {
                throw new TemplateException($"The format string of the template function 'format' pads a value wider than {TemplateLimits.MaxFormatAlignment:N0} characters, the limit of this server.");
            }
        }

        try
        {
            return JsonValue.Create(string.Format(CultureInfo.InvariantCulture, pattern, args.Skip(1).Select(a => (object)Text(a)).ToArray()));
        }
        catch (FormatException)
        {
            throw new TemplateException($"The format string '{pattern}' of the template function 'format' is not valid for {args.Count - 1} argument(s).");
        }
    }

    /// <summary>
    /// <c>resourceId([subscriptionId], [resourceGroupName], resourceType, name1, name2...)</c>: the type is the first
    /// argument with a '/'; one name per type segment after the namespace.
    /// </summary>
    private static string ResourceId(IReadOnlyList<JsonNode?> args, ExpressionScope scope)
    {
        var texts = new List<string>();
        for (var i = 0; i < args.Count; i++)
        {
            texts.Add(RequireString("resourceId", args, i, count: null));
        }

        var typeAt = texts.FindIndex(t => t.Contains('/', StringComparison.Ordinal));
        if (typeAt < 0 || typeAt > 2)
        {
            throw new TemplateException("The template function 'resourceId' needs a resource type such as 'Microsoft.Compute/virtualMachines/runCommands', after at most a subscription id and a resource group name.");
        }

        var subscription = typeAt == 2 ? texts[0] : scope.SubscriptionId;
        var group = typeAt switch { 0 => scope.ResourceGroup, 1 => texts[0], _ => texts[1] };
        var typeSegments = texts[typeAt].Split('/');
        var names = texts.Skip(typeAt + 1).ToList();
        if (typeSegments.Length < 2 || names.Count != typeSegments.Length - 1)
        {
            throw new TemplateException($"The template function 'resourceId' got {names.Count} name(s) for the resource type '{texts[typeAt]}', which needs {typeSegments.Length - 1}.");
        }

        var id = new StringBuilder($"/subscriptions/{subscription}/resourceGroups/{group}/providers/{typeSegments[0]}");
        for (var i = 1; i < typeSegments.Length; i++)
        {
            id.Append('/').Append(typeSegments[i]).Append('/').Append(names[i - 1]);
        }

        return id.ToString();
    }

    private static string RequireString(string function, IReadOnlyList<JsonNode?> args, int index, int? count)
    {
        if (count is { } expected)
        {
            RequireCount(function, args, expected);
        }
        else if (args.Count <= index)
        {
            throw new TemplateException($"The template function '{function}' needs at least {index + 1} argument(s).");
        }

        return args[index] is JsonValue v && v.GetValueKind() == JsonValueKind.String
            ? v.GetValue<string>()
            : throw new TemplateException($"Argument {index + 1} of the template function '{function}' must be a string.");
    }

    private static void RequireCount(string function, IReadOnlyList<JsonNode?> args, int count)
    {
        if (args.Count != count)
        {
            throw new TemplateException($"The template function '{function}' takes {count} argument(s), not {args.Count}.");
        }
    }
}
