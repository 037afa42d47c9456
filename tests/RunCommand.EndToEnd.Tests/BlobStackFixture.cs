using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>One server and one Azurite per test class; each test uses its own agent, VM and container.</summary>
public sealed class BlobStackFixture : IAsyncLifetime
{
    public Stack Stack { get; private set; } = null!;

    public AzuriteProcess Azurite { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Azurite = await AzuriteProcess.StartAsync();
        Stack = await Stack.StartAsync("blobs");
    }

    public async Task DisposeAsync()
    {
        await Stack.DisposeAsync();
        await Azurite.DisposeAsync();
    }
}
