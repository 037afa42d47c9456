using Azure.Storage;
using Azure.Storage.Blobs;
using Azure.Storage.Sas;

namespace RunCommand.Testing;

/// <summary>
/// A real Azurite blob service (the Azure Storage emulator, installed by <c>npm ci</c> from the repo's
/// package-lock.json) on a free 127.0.0.1 port with its own temp storage; stopped by its PID. A missing Azurite is a
/// failure telling how to install it, never a skip.
/// </summary>
public sealed class AzuriteProcess : IAsyncDisposable
{
    /// <summary>Azurite's well-known development account (public, documented by Microsoft).</summary>
    public const string AccountName = "devstoreaccount1";

    public const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    private readonly string _location;

    private AzuriteProcess(ChildProcess process, string location, Uri serviceUri)
    {
        Process = process;
        _location = location;
        ServiceUri = serviceUri;
        Credential = new StorageSharedKeyCredential(AccountName, AccountKey);
        Service = new BlobServiceClient(serviceUri, Credential);
    }

    public ChildProcess Process { get; }

    /// <summary>The blob endpoint, e.g. <c>http://127.0.0.1:PORT/devstoreaccount1</c>.</summary>
    public Uri ServiceUri { get; }

    public StorageSharedKeyCredential Credential { get; }

    /// <summary>A client with the account key (full access), for setting up and checking blobs.</summary>
    public BlobServiceClient Service { get; }

    public static string BinaryPath => Path.Combine(Repo.Root, "node_modules", ".bin", "azurite-blob");

    public static async Task<AzuriteProcess> StartAsync()
    {
        if (!File.Exists(BinaryPath))
        {
            throw new InvalidOperationException(
                $"Azurite is not installed ({BinaryPath} is missing): run `npm ci` in {Repo.Root} (./test.sh does it).");
        }

        var location = Directory.CreateTempSubdirectory("rc-azurite-").FullName;
        var port = ServerProcess.FreePort();
        var process = ChildProcess.Start("azurite", BinaryPath,
        [
            "--blobHost", "127.0.0.1", "--blobPort", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--location", location, "--skipApiVersionCheck", "--disableTelemetry", "--loose",
        ], workingDirectory: location);
        var azurite = new AzuriteProcess(process, location, new Uri($"http://127.0.0.1:{port}/{AccountName}"));
        try
        {
            await process.WaitUntilStartedAsync(async () =>
            {
                try
                {
                    await azurite.Service.GetPropertiesAsync();
                    return true;
                }
                catch (Azure.RequestFailedException e) when (e.Status == 0)
                {
                    return false;
                }
            }, TimeSpan.FromSeconds(60), "Azurite to answer");
        }
        catch
        {
            await azurite.DisposeAsync(); // its directory too
            throw;
        }

        return azurite;
    }

    /// <summary>Creates a container with a unique name.</summary>
    public async Task<BlobContainerClient> CreateContainerAsync()
    {
        var container = Service.GetBlobContainerClient("c" + Guid.NewGuid().ToString("N"));
        await container.CreateAsync();
        return container;
    }

    /// <summary>A SAS URL for one blob with the given permissions, valid for an hour.</summary>
    public static Uri SasUri(BlobClient blob, BlobSasPermissions permissions) =>
        blob.GenerateSasUri(permissions, DateTimeOffset.UtcNow.AddHours(1));

    /// <summary>The permissions the product page asks for an output blob: read, add, create, write.</summary>
    public const BlobSasPermissions AppendBlobPermissions =
        BlobSasPermissions.Read | BlobSasPermissions.Add | BlobSasPermissions.Create | BlobSasPermissions.Write;

    public async ValueTask DisposeAsync()
    {
        await Process.DisposeAsync();
        try
        {
            Directory.Delete(_location, recursive: true);
        }
        catch (IOException)
        {
            // Cleaned with the OS's temp dir.
        }
    }
}
