using RunCommand.Cli.Config;

namespace RunCommand.Cli.Tests;

public sealed class ConfigStoreTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "runcmd-config-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public void Save_ThenLoad_RoundTripsEveryField()
    {
        var path = Path.Combine(_directory, "nested", "config.json");
        var config = new CliConfig { Server = "https://h:5080", Token = "t0k", CaCert = "/ca.pem", DefaultSubscription = "sub", DefaultLocation = "local" };

        ConfigStore.Save(path, config);

        Assert.Equal(config, ConfigStore.Load(path));
    }

    [Fact]
    public void Save_NewFile_IsOwnerReadWriteOnlyAndLeavesNoTemporaryFile()
    {
        var path = Path.Combine(_directory, "config.json");

        ConfigStore.Save(path, new CliConfig { Server = "http://a", Token = "1" });
        ConfigStore.Save(path, new CliConfig { Server = "http://b", Token = "2" });

        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        }

        Assert.Equal(["config.json"], Directory.GetFiles(_directory).Select(Path.GetFileName));
        Assert.Equal("http://b", ConfigStore.Load(path)!.Server);
    }

    [Fact]
    public void Load_MissingFile_ReturnsNull() => Assert.Null(ConfigStore.Load(Path.Combine(_directory, "none.json")));

    [Fact]
    public void Load_DamagedFile_ThrowsOneLineError()
    {
        Directory.CreateDirectory(_directory);
        var path = Path.Combine(_directory, "config.json");
        File.WriteAllText(path, "{not json");

        var e = Assert.Throws<CliException>(() => ConfigStore.Load(path));

        Assert.Contains("run ./runcmd login again", e.Message);
    }

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }
}
