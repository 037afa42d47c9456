using RunCommand.Server.Hosting;

namespace RunCommand.Server.Tests.Hosting;

public sealed class DataDirectoryTests : IDisposable
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private readonly string _parent = Directory.CreateTempSubdirectory("rc-datadir-").FullName;

    public void Dispose() => Directory.Delete(_parent, recursive: true);

    [Fact]
    public void EnsureExists_NewDirectory_IsCreated0700()
    {
        var path = Path.Combine(_parent, "new");

        new DataDirectory(path).EnsureExists();

        Assert.Equal(OwnerOnly, File.GetUnixFileMode(path));
    }

    [Fact]
    public void EnsureExists_ExistingDirectoryWithLooserModes_IsForcedTo0700()
    {
        var path = Path.Combine(_parent, "made-by-hand");
        Directory.CreateDirectory(path);
        File.SetUnixFileMode(path, OwnerOnly | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);

        new DataDirectory(path).EnsureExists();

        Assert.Equal(OwnerOnly, File.GetUnixFileMode(path));
    }
}
