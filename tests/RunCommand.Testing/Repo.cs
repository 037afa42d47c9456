namespace RunCommand.Testing;

/// <summary>Where the programs under test were built: beside this test assembly in the artifacts tree.</summary>
public static class Repo
{
    private static readonly Lazy<string> RootPath = new(() =>
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "RunCommand.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Cannot find the repository root (RunCommand.slnx) above " + AppContext.BaseDirectory);
    });

    public static string Root => RootPath.Value;

    /// <summary>"debug" or "release": the configuration this test assembly was built in.</summary>
    public static string Configuration => new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/')).Name;

    public static string Program(string project, string assembly)
    {
        var path = Path.Combine(Root, "artifacts", "bin", project, Configuration, assembly + ".dll");
        return File.Exists(path) ? path : throw new FileNotFoundException($"{project} is not built at {path}; build the solution first.", path);
    }

    public static string ServerDll => Program("RunCommand.Server", "RunCommand.Server");

    public static string AgentDll => Program("RunCommand.Agent", "RunCommand.Agent");

    public static string CliDll => Program("RunCommand.Cli", "runcmd");
}
