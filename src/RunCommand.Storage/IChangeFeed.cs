namespace RunCommand.Storage;

/// <summary>
/// Wakes long polls when something they watch changes. A topic is a string such as <c>vm:{key}</c> or
/// <c>exec:{id}</c>. The embedded backend signals in process; a multi-node backend relays signals between nodes
/// (PostgreSQL LISTEN/NOTIFY), so an agent polling one node sees a command created on another.
/// Take the wait task <em>before</em> reading state, then await it: a change in between is never missed.
/// </summary>
public interface IChangeFeed
{
    /// <summary>A task that completes at the next <see cref="Publish"/> of the topic.</summary>
    Task NextChangeAsync(string topic);

    void Publish(string topic);

    /// <summary>Wakes every waiter of every topic: a change may have been missed (they read again and wait again).</summary>
    void PublishAll();
}

/// <summary>Topic names shared by the store and the server.</summary>
public static class Topics
{
    public static string Vm(VmKey vm) => "vm:" + vm.Key;

    public static string Execution(string executionId) => "exec:" + executionId;

    /// <summary>Published when a deployment is created, changes state, or is deleted.</summary>
    public static string Deployment(DeploymentKey deployment) => "deployment:" + deployment.Key;

    /// <summary>Wakes the fleet orchestrator: a fleet run was created or asked to cancel.</summary>
    public const string Fleets = "fleets";

    /// <summary>A fleet run changed: a target started or was skipped, or the run reached its terminal state.</summary>
    public static string Fleet(FleetRunKey run) => "fleet:" + run.Key;
}

/// <summary>In-process change feed: one completion source per topic, replaced at each publish.</summary>
public sealed class InProcessChangeFeed : IChangeFeed
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, TaskCompletionSource> _waiters = new(StringComparer.Ordinal);

    public Task NextChangeAsync(string topic)
    {
        lock (_gate)
        {
            if (!_waiters.TryGetValue(topic, out var tcs))
            {
                tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _waiters[topic] = tcs;
            }

            return tcs.Task;
        }
    }

    public void Publish(string topic)
    {
        TaskCompletionSource? tcs;
        lock (_gate)
        {
            if (_waiters.Remove(topic, out tcs) is false)
            {
                return;
            }
        }

        tcs!.TrySetResult();
    }

    public void PublishAll()
    {
        List<TaskCompletionSource> all;
        lock (_gate)
        {
            all = [.. _waiters.Values];
            _waiters.Clear();
        }

        foreach (var tcs in all)
        {
            tcs.TrySetResult();
        }
    }
}
