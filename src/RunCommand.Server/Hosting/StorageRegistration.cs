using RunCommand.Storage;

namespace RunCommand.Server.Hosting;

/// <summary>Registers the stores over the chosen backend: each server component asks for the store of its own area.</summary>
public static class StorageRegistration
{
    public static IServiceCollection AddRunCommandStorage(this IServiceCollection services, Func<IServiceProvider, IStorageBackend> backend)
    {
        services.AddSingleton(sp => new RunCommandStorage(backend(sp)));
        services.AddSingleton(sp => sp.GetRequiredService<RunCommandStorage>().Machines);
        services.AddSingleton(sp => sp.GetRequiredService<RunCommandStorage>().RunCommands);
        services.AddSingleton(sp => sp.GetRequiredService<RunCommandStorage>().AgentWork);
        services.AddSingleton(sp => sp.GetRequiredService<RunCommandStorage>().CommandDocuments);
        services.AddSingleton(sp => sp.GetRequiredService<RunCommandStorage>().Deployments);
        services.AddSingleton(sp => sp.GetRequiredService<RunCommandStorage>().FleetRuns);
        services.AddSingleton(sp => sp.GetRequiredService<RunCommandStorage>().Identity);
        services.AddSingleton(sp => sp.GetRequiredService<RunCommandStorage>().ActivityLog);
        services.AddSingleton(sp => sp.GetRequiredService<RunCommandStorage>().Leases);
        services.AddSingleton(sp => sp.GetRequiredService<RunCommandStorage>().Retention);
        return services;
    }
}

/// <summary>Checks of the storage options made before anything starts.</summary>
public static class StorageChoice
{
    /// <summary>Whether <paramref name="connectionString"/> parses as an Npgsql connection string with a host; the error never quotes it.</summary>
    public static bool IsValidPostgres(string connectionString, out string? error)
    {
        try
        {
            var parsed = new Npgsql.NpgsqlConnectionStringBuilder(connectionString);
            error = string.IsNullOrWhiteSpace(parsed.Host) ? "it names no Host." : null;
        }
        catch (ArgumentException e)
        {
            // Npgsql names the bad keyword, not the values.
            error = e.Message;
        }

        return error is null;
    }
}
