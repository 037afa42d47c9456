namespace RunCommand.Storage.Relational;

/// <summary>
/// Who of a node's writers may commit at a moment: the run-command lanes' batches together, or the shared writer's
/// batch alone. Requests are served in the order they came, consecutive lane requests together, so neither side can
/// starve the other: a lane that asks while the shared writer waits goes after it, and a shared batch that asks while
/// lanes wait goes after them. Within a node the shared writer's <c>SERIALIZABLE</c> batches and the lanes' row-locked
/// ones therefore never run at the same time: they cannot deadlock or fail each other there (docs/storage.md,
/// "Run-command lanes").
/// </summary>
internal sealed class WriterGate
{
    private readonly Lock _sync = new();
    private readonly Queue<(bool Shared, TaskCompletionSource Entered)> _waiting = new();
    private int _lanes;
    private bool _shared;

    /// <summary>Runs one lane's batch beside the other lanes', never beside the shared writer's.</summary>
    public Task RunLaneAsync(Func<Task> commit) => RunAsync(shared: false, commit);

    /// <summary>Runs the shared writer's batch alone.</summary>
    public Task RunSharedAsync(Func<Task> commit) => RunAsync(shared: true, commit);

    private async Task RunAsync(bool shared, Func<Task> commit)
    {
        await EnterAsync(shared);
        try
        {
            await commit();
        }
        finally
        {
            Exit(shared);
        }
    }

    private Task EnterAsync(bool shared)
    {
        lock (_sync)
        {
            if (_waiting.Count == 0 && CanEnter(shared))
            {
                Admit(shared);
                return Task.CompletedTask;
            }

            var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiting.Enqueue((shared, entered));
            return entered.Task;
        }
    }

    private void Exit(bool shared)
    {
        lock (_sync)
        {
            if (shared)
            {
                _shared = false;
            }
            else
            {
                _lanes--;
            }

            // In arrival order, as many as may enter now: the shared writer alone, or every lane up to the next shared.
            while (_waiting.TryPeek(out var next) && CanEnter(next.Shared))
            {
                _waiting.Dequeue();
                Admit(next.Shared);
                next.Entered.SetResult();
            }
        }
    }

    private bool CanEnter(bool shared) => shared ? !_shared && _lanes == 0 : !_shared;

    private void Admit(bool shared)
    {
        if (shared)
        {
            _shared = true;
        }
        else
        {
            _lanes++;
        }
    }
}
