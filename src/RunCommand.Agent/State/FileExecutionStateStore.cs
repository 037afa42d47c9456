using System.Text.Json;

namespace RunCommand.Agent.State;

/// <summary>
/// Keeps each execution's record in <c>&lt;root&gt;/&lt;executionId&gt;/state.json</c>. The directory's existence
/// is what marks an execution as accepted: it is created (0700) and its first <c>state.json</c> written
/// before any script runs.
/// </summary>
public sealed class FileExecutionStateStore : IExecutionStateStore
{
    public const string StateFileName = "state.json";

    private const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private readonly string _root;
    private readonly Lock _acceptLock = new();

    /// <param name="executionsRoot">The <c>executions</c> directory; created 0700 when missing.</param>
    public FileExecutionStateStore(string executionsRoot)
    {
        _root = Path.GetFullPath(executionsRoot);
        Directory.CreateDirectory(_root, DirectoryMode);
        File.SetUnixFileMode(_root, DirectoryMode);
    }

    public string DirectoryOf(string executionId) => Path.Combine(_root, executionId);

    public bool TryAccept(LocalExecutionRecord record)
    {
        ExecutionPathsGuard.ThrowIfUnsafeId(record.ExecutionId);
        var dir = DirectoryOf(record.ExecutionId);
        lock (_acceptLock)
        {
            if (Directory.Exists(dir))
            {
                return false;
            }

            // The directory survives a kill -9 of the agent as soon as it exists; a power cut in the next seconds
            // may lose it, which the server's record of a started execution covers (it is then never re-run).
            Directory.CreateDirectory(dir, DirectoryMode);
            File.SetUnixFileMode(dir, DirectoryMode);
            Save(record);
            return true;
        }
    }

    public void Save(LocalExecutionRecord record)
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(record, AgentStateJsonContext.Default.LocalExecutionRecord);
        AtomicFile.Write(Path.Combine(DirectoryOf(record.ExecutionId), StateFileName), bytes, FileMode);
    }

    public LocalExecutionRecord? Get(string executionId)
    {
        var path = Path.Combine(DirectoryOf(executionId), StateFileName);
        try
        {
            var bytes = File.ReadAllBytes(path);
            return JsonSerializer.Deserialize(bytes, AgentStateJsonContext.Default.LocalExecutionRecord);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or JsonException)
        {
            return null;
        }
    }

    public IReadOnlyList<string> ListIds() =>
        [.. Directory.EnumerateDirectories(_root).Select(Path.GetFileName).OfType<string>()];
}

/// <summary>Execution ids come from the server; they name a directory, so they must not escape it.</summary>
internal static class ExecutionPathsGuard
{
    public static bool IsSafeId(string id) =>
        id.Length is > 0 and <= 200 && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.') && id[0] != '.';

    public static void ThrowIfUnsafeId(string id)
    {
        if (!IsSafeId(id))
        {
            throw new ArgumentException("Execution id is not a safe directory name.", nameof(id));
        }
    }
}
