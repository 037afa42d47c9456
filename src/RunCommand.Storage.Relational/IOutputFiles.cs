namespace RunCommand.Storage.Relational;

/// <summary>
/// Where a backend keeps the bytes of output when not in the <c>output</c> table: one file a stream, written at the
/// stream's committed length before the transaction that records the new length commits (SQLite: docs/storage.md,
/// "Output files"). <see cref="SqlRows"/> keeps the lengths and the drops in the database; a file only holds bytes.
/// </summary>
public interface IOutputFiles
{
    /// <summary>Writes <paramref name="data"/> at <paramref name="start"/> of the stream's file (created when missing).</summary>
    void Write(string executionId, OutputStream stream, long start, ReadOnlySpan<byte> data);

    /// <summary>
    /// The bytes [<paramref name="from"/>, <paramref name="to"/>) of the stream's file, fewer when the file is shorter and
    /// none when it is gone (its output was dropped meanwhile).
    /// </summary>
    byte[] Read(string executionId, OutputStream stream, long from, long to);
}
