using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;
using RunCommand.Storage.Relational;

namespace RunCommand.Storage.Sqlite;

/// <summary>
/// The connections a <see cref="SqliteBackend"/> keeps open: one for the writer (batches commit one at a time, under the
/// backend's write lock) and up to <see cref="MaxIdleReaders"/> idle ones for reads, most recently used first. A
/// connection is opened and set up (its pragmas) once, and keeps its statements prepared (<see cref="SqliteSession"/>).
/// When more reads run at once than connections are idle, more are opened; those past the bound are closed when given
/// back. A connection whose unit failed is closed, never lent again; so is every connection once the pool is disposed
/// (one in use then is closed when given back).
/// </summary>
internal sealed class SqliteSessionPool(Func<CancellationToken, Task<SqliteConnection>> connect) : IDisposable
{
    /// <summary>Enough for the reads a 2-core server runs at once under a fleet's load; each costs SQLite's page cache (up to 2 MB).</summary>
    public const int MaxIdleReaders = 16;

    private readonly ConcurrentStack<SqliteSession> _idleReaders = new();
    private SqliteSession? _idleWriter;
    private int _idleReaderCount;
    private int _open;
    private int _opened;
    private volatile bool _disposed;

    /// <summary>Connections open now, lent or idle.</summary>
    public int OpenConnections => Volatile.Read(ref _open);

    /// <summary>Connections opened since the pool was made.</summary>
    public int ConnectionsOpened => Volatile.Read(ref _opened);

    /// <summary>The idle connections, most recently used first; for tests.</summary>
    public IReadOnlyList<SqliteSession> IdleReaders => [.. _idleReaders];

    public SqliteSession? IdleWriter => Volatile.Read(ref _idleWriter);

    public async Task<SqlSession> RentReaderAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_idleReaders.TryPop(out var idle))
        {
            Interlocked.Decrement(ref _idleReaderCount);
            return idle;
        }

        return await OpenAsync(isWriter: false, cancellationToken);
    }

    public async Task<SqlSession> RentWriterAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return Interlocked.Exchange(ref _idleWriter, null) ?? await OpenAsync(isWriter: true, cancellationToken);
    }

    private async Task<SqliteSession> OpenAsync(bool isWriter, CancellationToken cancellationToken)
    {
        var connection = await connect(cancellationToken);
        Interlocked.Increment(ref _open);
        Interlocked.Increment(ref _opened);
        return new SqliteSession(connection, this, isWriter);
    }

    /// <summary>Takes <paramref name="session"/> back when its unit is done: kept for the next one, or closed.</summary>
    public void Return(SqliteSession session)
    {
        if (!session.Broken && !_disposed && Keep(session))
        {
            // Disposed meanwhile: what was just kept would be missed by Dispose's sweep.
            if (_disposed)
            {
                CloseIdle();
            }

            return;
        }

        Close(session);
    }

    private bool Keep(SqliteSession session)
    {
        if (session.IsWriter)
        {
            return Interlocked.CompareExchange(ref _idleWriter, session, null) is null;
        }

        if (Interlocked.Increment(ref _idleReaderCount) > MaxIdleReaders)
        {
            Interlocked.Decrement(ref _idleReaderCount);
            return false;
        }

        _idleReaders.Push(session);
        return true;
    }

    private void Close(SqliteSession session)
    {
        session.Close();
        Interlocked.Decrement(ref _open);
    }

    private void CloseIdle()
    {
        if (Interlocked.Exchange(ref _idleWriter, null) is { } writer)
        {
            Close(writer);
        }

        while (_idleReaders.TryPop(out var reader))
        {
            Interlocked.Decrement(ref _idleReaderCount);
            Close(reader);
        }
    }

    /// <summary>Closes every idle connection now and every lent one when it is given back.</summary>
    public void Dispose()
    {
        _disposed = true;
        CloseIdle();
    }
}
