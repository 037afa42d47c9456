using RunCommand.Testing;

namespace RunCommand.Agent.Tests;

/// <summary>One real Azurite per test class; each test uses its own container.</summary>
public sealed class AzuriteFixture : IAsyncLifetime
{
    public AzuriteProcess Azurite { get; private set; } = null!;

    public async Task InitializeAsync() => Azurite = await AzuriteProcess.StartAsync();

    public async Task DisposeAsync() => await Azurite.DisposeAsync();
}
