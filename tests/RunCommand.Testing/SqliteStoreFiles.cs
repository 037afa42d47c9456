namespace RunCommand.Testing;

/// <summary>The files of a SQLite store on disk, as docs/storage.md ("Output files") lays them out.</summary>
public static class SqliteStoreFiles
{
    /// <summary>The directory of the output files beside the database at <paramref name="databaseFile"/>.</summary>
    public static string OutputDirectory(string databaseFile) => databaseFile + "-output";

    /// <summary>What the store holds on disk: the database, its WAL and its output files.</summary>
    public static long BytesOnDisk(string databaseFile)
    {
        var wal = new FileInfo(databaseFile + "-wal");
        var output = new DirectoryInfo(OutputDirectory(databaseFile));
        return new FileInfo(databaseFile).Length + (wal.Exists ? wal.Length : 0) + (output.Exists ? output.EnumerateFiles().Sum(file => file.Length) : 0);
    }
}
