using System.Text.Json;

namespace RunCommand.Cli.Config;

/// <summary>Reads and writes <c>config.json</c> (in <c>$RUNCMD_CONFIG_DIR</c>, default <c>~/.runcmd</c>).</summary>
internal static class ConfigStore
{
    public const string DirectoryVariable = "RUNCMD_CONFIG_DIR";

    private const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode OwnerOnlyDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>~/.runcmd: also the default data directory of <c>runcmd up</c>.</summary>
    public static string DefaultDirectory =>
        Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".runcmd");

    public static string DefaultPath
    {
        get
        {
            var directory = Environment.GetEnvironmentVariable(DirectoryVariable);
            return Path.Combine(string.IsNullOrEmpty(directory) ? DefaultDirectory : directory, "config.json");
        }
    }

    /// <summary>The saved config, or null when there is none (not logged in).</summary>
    public static CliConfig? Load(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        try
        {
            var config = JsonSerializer.Deserialize(File.ReadAllBytes(path), CliJsonContext.Default.CliConfig);
            return config is { Server.Length: > 0, Token.Length: > 0 } ? config : null;
        }
        catch (JsonException e)
        {
            throw new CliException($"the config file {path} is damaged ({e.Message}); run ./runcmd login again", ExitCodes.Failure);
        }
    }

    /// <summary>
    /// Writes the config so that no reader ever sees a partial file and the token is never readable by others:
    /// a 0600 temporary file in the same directory, flushed to disk, then renamed over the old one.
    /// </summary>
    public static void Save(string path, CliConfig config)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (!Directory.Exists(directory))
        {
            if (OperatingSystem.IsWindows())
            {
                Directory.CreateDirectory(directory);
            }
            else
            {
                Directory.CreateDirectory(directory, OwnerOnlyDirectory);
            }
        }

        var temporary = Path.Combine(directory, $".config.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = OwnerOnlyFile;
            }

            using (var stream = new FileStream(temporary, options))
            {
                JsonSerializer.Serialize(stream, config, CliJsonContext.Default.CliConfig);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
    }
}
