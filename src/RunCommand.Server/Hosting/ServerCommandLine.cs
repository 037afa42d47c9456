using System.ComponentModel.DataAnnotations;
using System.Reflection;
using RunCommand.Contracts;

namespace RunCommand.Server.Hosting;

/// <summary>
/// The server's command line: the options of <c>runcmd server --help</c> (each mapped onto a configuration key) and
/// <c>--RunCommand:Name value</c> for any setting of <see cref="ServerOptions"/>. ASP.NET's configuration reader takes
/// any key silently, so this check runs first: an unknown or misspelt option, or a stray argument, stops the server.
/// </summary>
public static class ServerCommandLine
{
    /// <summary>What is wrong with <paramref name="args"/>, or null when every option is known and has its value.</summary>
    /// <param name="switches">The options and the configuration keys they set.</param>
    public static string? FindError(IReadOnlyList<string> args, IReadOnlyDictionary<string, string> switches)
    {
        var settings = typeof(ServerOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance).Select(p => $"--{ServerOptions.Section}:{p.Name}").ToList();
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith('-'))
            {
                return $"unexpected argument '{arg}': every option is '--name value' (see --help)";
            }

            var name = arg.Split('=', 2)[0];
            var known = switches.Keys.Concat(settings).Contains(name, StringComparer.OrdinalIgnoreCase);
            if (!known)
            {
                return OptionSuggestion.UnknownOption(name, switches.Keys.Concat(settings));
            }

            if (!arg.Contains('=', StringComparison.Ordinal))
            {
                if (i + 1 >= args.Count || (args[i + 1].StartsWith("--", StringComparison.Ordinal) && args[i + 1].Length > 2))
                {
                    return $"option '{name}' needs a value";
                }

                i++;
            }
        }

        return null;
    }

    /// <summary>
    /// Binds <see cref="ServerOptions"/> and checks every one of its rules (the same data annotations the host validates
    /// at start); returns what is wrong (each broken rule, or a value that does not parse), or null.
    /// </summary>
    public static string? BindSettings(IConfiguration configuration, out ServerOptions options)
    {
        try
        {
            options = configuration.GetSection(ServerOptions.Section).Get<ServerOptions>() ?? new ServerOptions();
        }
        catch (InvalidOperationException e)
        {
            options = new ServerOptions();
            return e.InnerException is { } inner ? $"{e.Message} ({inner.Message})" : e.Message;
        }

        var broken = new List<ValidationResult>();
        return Validator.TryValidateObject(options, new ValidationContext(options), broken, validateAllProperties: true)
            ? null
            : string.Join("; ", broken.Select(b => b.ErrorMessage));
    }
}
