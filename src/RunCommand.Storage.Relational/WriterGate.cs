namespace RunCommand.Storage.Relational;

/// <summary>
/// Who of a node's writers may commit at a moment: the run-command lanes' batches together, or the shared writer's
/// batch alone; the shared writer goes first when both wait, so a steady stream of PUTs never holds it back for long.
/// Within a node the shared writer's <c>SERIALIZABLE</c> batches and the lanes' row-locked ones therefore never run at
/// the same time: they cannot deadlock or fail each other there (docs/storage.md, "Run-command lanes").
/// </summary>
internal sealed class WriterGate
{
    private readonly Lock _sync = new();
    private TaskCompletionSource _changed = NewSignal();
    private int _lanes;
    private bool _shared;
    private int _sharedWaiting;

    /// <summary>Runs one lane's batch once the shared writer neither commits nor waits to.</summary>
    public async Task RunLaneAsync(Func<Task> commit)
    {
        while (true)
        {
            Task changed;
            lock (_sync)
            {
                if (!_shared && _sharedWaiting == 0)
                {
                    _lanes++;
                    break;
                }

                changed = _changed.Task;
            }

            await changed;
        }

        try
        {
            await commit();
        }
        finally
        {
            lock (_sync)
            {
                _lanes--;
                Signal();
            }
        }
    }

    /// <summary>Runs the shared writer's batch once no lane's batch commits; lanes wait from the moment it asks.</summary>
    public async Task RunSharedAsync(Func<Task> commit)
    {
        lock (_sync)
        {
            _sharedWaiting++;
        }

        while (true)
        {
            Task changed;
            lock (_sync)
            {
                if (!_shared && _lanes == 0)
                {
                    _sharedWaiting--;
                    _shared = true;
                    break;
                }

                changed = _changed.Task;
            }

            await changed;
        }

        try
        {
            await commit();
        }
        finally
        {
            lock (_sync)
            {
                _shared = false;
                Signal();
            }
        }
    }

    private void Signal()
    {
        var waiters = _changed;
        _changed = NewSignal();
        waiters.SetResult();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
