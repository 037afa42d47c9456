using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>One http server per test class; each test starts its own agent and VM.</summary>
public sealed class StackFixture : IAsyncLifetime
{
    public Stack Stack { get; private set; } = null!;

    public async Task InitializeAsync() => Stack = await Stack.StartAsync("e2e");

    public async Task DisposeAsync() => await Stack.DisposeAsync();
}
