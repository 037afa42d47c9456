namespace RunCommand.Testing;

/// <summary>
/// A test's scratch directory and the processes it started (servers, agents, Azurite): disposed together, every
/// process first (at once), then the directory.
/// </summary>
public sealed class TestScope(string prefix) : IAsyncDisposable
{
    private readonly List<IAsyncDisposable> _processes = [];

    /// <summary>The scratch directory, created under the temp dir with <c>prefix</c>.</summary>
    public string Dir { get; } = Directory.CreateTempSubdirectory(prefix).FullName;

    /// <summary>Stops <paramref name="process"/> when the scope is disposed; safe from several threads.</summary>
    public T Track<T>(T process)
        where T : IAsyncDisposable
    {
        lock (_processes)
        {
            _processes.Add(process);
        }

        return process;
    }

    public async ValueTask DisposeAsync()
    {
        IAsyncDisposable[] processes;
        lock (_processes)
        {
            processes = [.. _processes];
        }

        await Task.WhenAll(processes.Select(process => process.DisposeAsync().AsTask()));
        Processes.KillGroupsUnder(Dir);
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
            // A script may still hold a file; the temp dir is cleaned by the OS.
        }
    }
}
