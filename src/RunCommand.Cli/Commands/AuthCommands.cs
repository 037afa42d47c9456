using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using RunCommand.Contracts;
using RunCommand.Contracts.Arm;

namespace RunCommand.Cli.Commands;

/// <summary>
/// Who may do what, az-style: <c>ad user|sp create|list|delete</c>, <c>token create|list|revoke</c>,
/// <c>role definition list|create|delete</c>, <c>role assignment create|list|delete</c> and
/// <c>monitor activity-log list</c>. Output is JSON, as az prints by default.
/// </summary>
internal static class AuthCommands
{
    public static readonly ContractsJsonContext Indented = new(new JsonSerializerOptions(ContractsJsonContext.Default.Options) { WriteIndented = true });

    public static IEnumerable<Command> Create() => [Ad(), Token(), Role(), Monitor()];

    // ---------------------------------------------------------------- ad user / ad sp

    private static Command Ad()
    {
        var ad = new Command("ad", "Manage users and service principals (who can hold API tokens and roles).");
        ad.Subcommands.Add(Principals("user", "User", "users"));
        ad.Subcommands.Add(Principals("sp", "ServicePrincipal", "service principals (for scripts and pipelines)"));
        return ad;
    }

    private static Command Principals(string verb, string kind, string what)
    {
        var group = new Command(verb, $"Manage {what}.");

        var name = verb == "user"
            ? new Option<string>("--name", "-n", "--user-principal-name") { Description = "Unique name, e.g. alice@example.com.", Required = true }
            : new Option<string>("--name", "-n") { Description = "Unique name.", Required = true };
        var displayName = new Option<string>("--display-name") { Description = "Display name." };
        var create = new Command("create", $"Create a {verb}. It can do nothing until it is given a role (runcmd role assignment create).") { name, displayName };
        create.SetAction(async (result, cancellationToken) =>
        {
            using var session = Session.Open();
            var principal = await session.Client.CreatePrincipalAsync(result.GetValue(name)!, kind, result.GetValue(displayName), cancellationToken);
            Print(result, principal, Indented.PrincipalResource);
            return ExitCodes.Success;
        });
        group.Subcommands.Add(create);

        var list = new Command("list", $"List {what}.");
        list.SetAction(async (result, cancellationToken) =>
        {
            using var session = Session.Open();
            var principals = await session.Client.ListPrincipalsAsync(cancellationToken);
            Print(result, principals.Where(p => p.PrincipalType == kind).ToList(), Indented.IReadOnlyListPrincipalResource);
            return ExitCodes.Success;
        });
        group.Subcommands.Add(list);

        var id = new Option<string>("--id") { Description = "Name or object id.", Required = true };
        var delete = new Command("delete", $"Delete a {verb} with its tokens and role assignments; its tokens are refused at once.") { id };
        delete.SetAction(async (result, cancellationToken) =>
        {
            using var session = Session.Open();
            await session.Client.DeletePrincipalAsync(result.GetValue(id)!, cancellationToken);
            return ExitCodes.Success;
        });
        group.Subcommands.Add(delete);
        return group;
    }

    // ---------------------------------------------------------------- token

    private static Command Token()
    {
        var group = new Command("token", "Manage API tokens of users and service principals. A token is shown once; the server keeps only its hash.");

        var assignee = new Option<string>("--assignee") { Description = "Name or object id of the user or service principal.", Required = true };
        var expiresIn = new Option<string>("--expires-in") { Description = "Lifetime, e.g. 90d, 12h, 30m (default: never expires).", HelpName = "duration" };
        var description = new Option<string>("--description") { Description = "What the token is for." };
        var create = new Command("create", "Create a token; prints it once. Use it with: runcmd login --server URL --token-file FILE.") { assignee, expiresIn, description };
        create.SetAction(async (result, cancellationToken) =>
        {
            var lifetime = result.GetValue(expiresIn) is { } text ? ParseDuration(text) : (TimeSpan?)null;
            using var session = Session.Open();
            var token = await session.Client.CreateTokenAsync(result.GetValue(assignee)!, lifetime, result.GetValue(description), cancellationToken);
            Print(result, token, Indented.ApiTokenResource);
            return ExitCodes.Success;
        });
        group.Subcommands.Add(create);

        var of = new Option<string>("--assignee") { Description = "Only the tokens of this principal." };
        var list = new Command("list", "List tokens (never their values).") { of };
        list.SetAction(async (result, cancellationToken) =>
        {
            using var session = Session.Open();
            Print(result, await session.Client.ListTokensAsync(result.GetValue(of), cancellationToken), Indented.IReadOnlyListApiTokenResource);
            return ExitCodes.Success;
        });
        group.Subcommands.Add(list);

        var id = new Option<string>("--id") { Description = "Id of the token (from token list).", Required = true };
        var revoke = new Command("revoke", "Revoke a token: it is refused from the next request on.") { id };
        revoke.SetAction(async (result, cancellationToken) =>
        {
            using var session = Session.Open();
            await session.Client.RevokeTokenAsync(result.GetValue(id)!, cancellationToken);
            return ExitCodes.Success;
        });
        group.Subcommands.Add(revoke);
        return group;
    }

    /// <summary>"30d", "12h", "45m", "90s" or a plain number of days.</summary>
    public static TimeSpan ParseDuration(string text)
    {
        var unit = text[^1];
        var number = char.IsDigit(unit) ? text : text[..^1];
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || value <= 0)
        {
            throw CliException.Usage($"'{text}' is not a duration; use e.g. 30d, 12h, 45m or 90s");
        }

        return char.ToLowerInvariant(unit) switch
        {
            's' => TimeSpan.FromSeconds(value),
            'm' => TimeSpan.FromMinutes(value),
            'h' => TimeSpan.FromHours(value),
            'd' or (>= '0' and <= '9') => TimeSpan.FromDays(value),
            _ => throw CliException.Usage($"'{text}' is not a duration; use e.g. 30d, 12h, 45m or 90s"),
        };
    }

    // ---------------------------------------------------------------- role definition / assignment

    private static Command Role()
    {
        var role = new Command("role", "Manage role definitions and role assignments (Azure RBAC).");
        var definition = new Command("definition", "Manage role definitions: built-in Owner, Contributor, Reader, Virtual Machine Contributor, and custom roles.");
        var assignment = new Command("assignment", "Manage role assignments: a role for a principal at a scope (/, subscription, resource group, VM or scale set), inherited downwards.");
        role.Subcommands.Add(definition);
        role.Subcommands.Add(assignment);

        var subscription = Options.Subscription();
        var custom = new Option<bool>("--custom-role-only") { Description = "Only custom roles." };
        var roleName = new Option<string>("--name", "-n") { Description = "Only the role of this name." };
        var list = new Command("list", "List role definitions.") { subscription, custom, roleName };
        list.SetAction(async (result, cancellationToken) =>
        {
            using var session = Session.Open();
            var roles = await session.Client.ListRoleDefinitionsAsync(await session.SubscriptionAsync(result.GetValue(subscription), cancellationToken), cancellationToken);
            var shown = roles.Where(r => (!result.GetValue(custom) || r.Properties.Type == "CustomRole")
                && (result.GetValue(roleName) is not { } n || string.Equals(r.Properties.RoleName, n, StringComparison.OrdinalIgnoreCase))).ToList();
            Print(result, shown, Indented.IReadOnlyListRoleDefinitionResource);
            return ExitCodes.Success;
        });
        definition.Subcommands.Add(list);

        var subscription2 = Options.Subscription();
        var body = new Option<string>("--role-definition")
        {
            Description = "JSON (or @FILE) as az takes it: {\"Name\":..., \"Description\":..., \"Actions\":[...], \"NotActions\":[...], \"AssignableScopes\":[...]}.",
            Required = true,
        };
        var create = new Command("create", "Create a custom role.") { body, subscription2 };
        create.SetAction(async (result, cancellationToken) =>
        {
            var properties = ParseRoleDefinition(result.GetValue(body)!);
            using var session = Session.Open();
            var sub = await session.SubscriptionAsync(result.GetValue(subscription2), cancellationToken);
            var created = await session.Client.PutRoleDefinitionAsync(sub, Guid.NewGuid().ToString(), properties, cancellationToken);
            Print(result, created, Indented.RoleDefinitionResource);
            return ExitCodes.Success;
        });
        definition.Subcommands.Add(create);

        var subscription3 = Options.Subscription();
        var deleteName = new Option<string>("--name", "-n") { Description = "Name or id of the custom role.", Required = true };
        var delete = new Command("delete", "Delete a custom role (it must have no assignments).") { deleteName, subscription3 };
        delete.SetAction(async (result, cancellationToken) =>
        {
            using var session = Session.Open();
            var sub = await session.SubscriptionAsync(result.GetValue(subscription3), cancellationToken);
            var target = await FindRoleAsync(session, sub, result.GetValue(deleteName)!, cancellationToken);
            await session.Client.DeleteRoleDefinitionAsync(sub, target.Name, cancellationToken);
            return ExitCodes.Success;
        });
        definition.Subcommands.Add(delete);

        assignment.Subcommands.Add(AssignmentCreate());
        assignment.Subcommands.Add(AssignmentList());
        assignment.Subcommands.Add(AssignmentDelete());
        return role;
    }

    private static (Option<string> Scope, Option<string> Group, Option<string> Subscription) ScopeOptions() =>
    (
        new Option<string>("--scope") { Description = "Scope: '/', /subscriptions/{s}, .../resourceGroups/{rg}, or a VM or scale set id. Default: the resource group given with -g, else the subscription." },
        Options.ResourceGroup(required: false),
        Options.Subscription()
    );

    private static async Task<string> ScopeAsync(Session session, ParseResult result, (Option<string> Scope, Option<string> Group, Option<string> Subscription) options, CancellationToken cancellationToken)
    {
        if (result.GetValue(options.Scope) is { Length: > 0 } scope)
        {
            return scope;
        }

        var sub = await session.SubscriptionAsync(result.GetValue(options.Subscription), cancellationToken);
        return result.GetValue(options.Group) is { Length: > 0 } group ? $"/subscriptions/{sub}/resourceGroups/{group}" : $"/subscriptions/{sub}";
    }

    private static Command AssignmentCreate()
    {
        var scope = ScopeOptions();
        var assignee = new Option<string>("--assignee") { Description = "Name or object id of the user or service principal.", Required = true };
        var role = new Option<string>("--role") { Description = "Role name or id, e.g. Reader or \"Virtual Machine Contributor\".", Required = true };
        var command = new Command("create", "Assign a role to a principal at a scope.") { assignee, role, scope.Scope, scope.Group, scope.Subscription };
        command.SetAction(async (result, cancellationToken) =>
        {
            using var session = Session.Open();
            var at = await ScopeAsync(session, result, scope, cancellationToken);
            var created = await session.Client.CreateRoleAssignmentAsync(at, result.GetValue(assignee)!, result.GetValue(role)!, cancellationToken);
            Print(result, created, Indented.RoleAssignmentResource);
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command AssignmentList()
    {
        var scope = ScopeOptions();
        var assignee = new Option<string>("--assignee") { Description = "Only the assignments of this principal (name or object id)." };
        var command = new Command("list", "List role assignments at, above and below a scope.") { assignee, scope.Scope, scope.Group, scope.Subscription };
        command.SetAction(async (result, cancellationToken) =>
        {
            using var session = Session.Open();
            var at = await ScopeAsync(session, result, scope, cancellationToken);
            var principalId = result.GetValue(assignee) is { } who ? await PrincipalIdAsync(session, who, cancellationToken) : null;
            Print(result, await session.Client.ListRoleAssignmentsAsync(at, principalId, cancellationToken), Indented.IReadOnlyListRoleAssignmentResource);
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command AssignmentDelete()
    {
        var scope = ScopeOptions();
        var ids = new Option<string[]>("--ids") { Description = "Full ids of role assignments.", AllowMultipleArgumentsPerToken = true };
        var assignee = new Option<string>("--assignee") { Description = "Delete this principal's assignments at the scope." };
        var role = new Option<string>("--role") { Description = "Only assignments of this role (name or id)." };
        var command = new Command("delete", "Delete role assignments, by --ids or by --assignee [--role] at the scope.") { ids, assignee, role, scope.Scope, scope.Group, scope.Subscription };
        command.SetAction(async (result, cancellationToken) =>
        {
            using var session = Session.Open();
            var targets = result.GetValue(ids)?.ToList() ?? [];
            if (targets.Count == 0)
            {
                var who = result.GetValue(assignee) ?? throw CliException.Usage("give --ids or --assignee");
                var at = await ScopeAsync(session, result, scope, cancellationToken);
                var principalId = await PrincipalIdAsync(session, who, cancellationToken);
                var sub = await session.SubscriptionAsync(result.GetValue(scope.Subscription), cancellationToken);
                var roleId = result.GetValue(role) is { } r ? (await FindRoleAsync(session, sub, r, cancellationToken)).Name : null;
                targets = (await session.Client.ListRoleAssignmentsAsync(at, principalId, cancellationToken))
                    .Where(a => string.Equals(a.Properties.Scope?.TrimEnd('/'), at.TrimEnd('/'), StringComparison.OrdinalIgnoreCase))
                    .Where(a => roleId is null || a.Properties.RoleDefinitionId?.EndsWith("/" + roleId, StringComparison.OrdinalIgnoreCase) == true)
                    .Select(a => a.Id).ToList();
            }

            foreach (var id in targets)
            {
                await session.Client.DeleteRoleAssignmentAsync(id, cancellationToken);
            }

            return ExitCodes.Success;
        });
        return command;
    }

    private static async Task<string> PrincipalIdAsync(Session session, string nameOrId, CancellationToken cancellationToken)
    {
        var principals = await session.Client.ListPrincipalsAsync(cancellationToken);
        return principals.FirstOrDefault(p => string.Equals(p.Name, nameOrId, StringComparison.OrdinalIgnoreCase) || string.Equals(p.Id, nameOrId, StringComparison.OrdinalIgnoreCase))?.Id
            ?? throw new CliException($"no user or service principal '{nameOrId}'", ExitCodes.NotFound);
    }

    private static async Task<RoleDefinitionResource> FindRoleAsync(Session session, string subscription, string nameOrId, CancellationToken cancellationToken)
    {
        var roles = await session.Client.ListRoleDefinitionsAsync(subscription, cancellationToken);
        return roles.FirstOrDefault(r => string.Equals(r.Properties.RoleName, nameOrId, StringComparison.OrdinalIgnoreCase)
                || string.Equals(r.Name, nameOrId, StringComparison.OrdinalIgnoreCase) || string.Equals(r.Id, nameOrId, StringComparison.OrdinalIgnoreCase))
            ?? throw new CliException($"no role definition '{nameOrId}'", ExitCodes.NotFound);
    }

    /// <summary>az's role definition JSON (PascalCase or camelCase members) as role definition properties.</summary>
    public static RoleDefinitionProperties ParseRoleDefinition(string text)
    {
        if (text.StartsWith('@'))
        {
            var path = text[1..];
            text = File.Exists(path) ? File.ReadAllText(path) : throw CliException.Usage($"the file {path} does not exist");
        }

        try
        {
            using var document = JsonDocument.Parse(text);
            var root = document.RootElement;
            return new RoleDefinitionProperties
            {
                RoleName = Member(root, "Name", "roleName")?.GetString(),
                Description = Member(root, "Description")?.GetString(),
                Permissions = [new RolePermission { Actions = Strings(root, "Actions"), NotActions = Strings(root, "NotActions") }],
                AssignableScopes = Strings(root, "AssignableScopes") is { Count: > 0 } scopes ? scopes : null,
            };
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw CliException.Usage("--role-definition is not valid JSON of the form {\"Name\":..., \"Actions\":[...]}: " + e.Message);
        }
    }

    private static JsonElement? Member(JsonElement root, params string[] names)
    {
        foreach (var property in root.EnumerateObject())
        {
            if (names.Any(n => string.Equals(n, property.Name, StringComparison.OrdinalIgnoreCase)))
            {
                return property.Value;
            }
        }

        return null;
    }

    private static List<string> Strings(JsonElement root, string name) =>
        Member(root, name) is { ValueKind: JsonValueKind.Array } array ? array.EnumerateArray().Select(e => e.GetString() ?? "").ToList() : [];

    // ---------------------------------------------------------------- monitor activity-log

    private static Command Monitor()
    {
        var monitor = new Command("monitor", "Read the activity log.");
        var activityLog = new Command("activity-log", "Every write, run and refused request: who, what, which resource, when, from where, result.");
        monitor.Subcommands.Add(activityLog);
        var group = Options.ResourceGroup(required: false);
        var caller = new Option<string>("--caller") { Description = "Only entries of this caller (principal name or object id)." };
        var start = new Option<string>("--start-time") { Description = "Only entries from this time on (ISO 8601, e.g. 2026-11-26T05:00:00Z)." };
        var offset = new Option<string>("--offset") { Description = "Only entries of the last duration, e.g. 1h or 7d (instead of --start-time)." };
        var subscription = Options.Subscription();
        var list = new Command("list", "List activity log entries, newest first.") { group, caller, start, offset, subscription };
        list.SetAction(async (result, cancellationToken) =>
        {
            var clauses = new List<string>();
            if (result.GetValue(start) is { } from)
            {
                clauses.Add($"eventTimestamp ge '{from}'");
            }
            else if (result.GetValue(offset) is { } ago)
            {
                clauses.Add($"eventTimestamp ge '{DateTimeOffset.UtcNow.Subtract(ParseDuration(ago)):O}'");
            }

            if (result.GetValue(group) is { } rg)
            {
                clauses.Add($"resourceGroupName eq '{rg}'");
            }

            if (result.GetValue(caller) is { } who)
            {
                clauses.Add($"caller eq '{who}'");
            }

            using var session = Session.Open();
            var sub = await session.SubscriptionAsync(result.GetValue(subscription), cancellationToken);
            var events = await session.Client.ListActivityLogAsync(sub, clauses.Count == 0 ? null : string.Join(" and ", clauses), cancellationToken);
            Print(result, events, Indented.IReadOnlyListActivityLogEvent);
            return ExitCodes.Success;
        });
        activityLog.Subcommands.Add(list);
        return monitor;
    }

    private static void Print<T>(ParseResult result, T value, JsonTypeInfo<T> typeInfo) =>
        result.InvocationConfiguration.Output.WriteLine(JsonSerializer.Serialize(value, typeInfo));
}
