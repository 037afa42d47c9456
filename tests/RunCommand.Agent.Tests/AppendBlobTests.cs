using System.Net;
using System.Text;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Sas;
using Microsoft.Extensions.Logging.Abstractions;
using RunCommand.Agent.Blobs;
using RunCommand.Testing;

namespace RunCommand.Agent.Tests;

/// <summary>The agent's Blob REST calls and its output mirror, against a real Azurite (faults injected in the HTTP handler).</summary>
public sealed class AppendBlobTests(AzuriteFixture fixture) : IClassFixture<AzuriteFixture>, IDisposable
{
    private readonly AzuriteProcess _azurite = fixture.Azurite;
    private readonly string _dir = Directory.CreateTempSubdirectory("rc-blob-unit-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private async Task<BlobClient> NewBlobAsync() => (await _azurite.CreateContainerAsync()).GetBlobClient("out.log");

    private static Uri WritableSas(BlobClient blob) => AzuriteProcess.SasUri(blob, AzuriteProcess.AppendBlobPermissions);

    private static async Task<string> ReadAsync(BlobClient blob) => (await blob.DownloadContentAsync()).Value.Content.ToString();

    [Fact]
    public async Task CreateAsync_ExistingBlockBlob_ReplacesItWithAnEmptyAppendBlob()
    {
        var blob = await NewBlobAsync();
        await blob.UploadAsync(BinaryData.FromString("old"));
        using var http = new HttpClient();

        await new AppendBlobClient(http, WritableSas(blob)).CreateAsync(CancellationToken.None);

        var properties = (await blob.GetPropertiesAsync()).Value;
        Assert.Equal(BlobType.Append, properties.BlobType);
        Assert.Equal(0, properties.ContentLength);
    }

    [Fact]
    public async Task AppendAsync_RetryOfABlockThatLanded_ReturnsTheBlobLengthAndWritesItOnce()
    {
        var blob = await NewBlobAsync();
        using var http = new HttpClient();
        var client = new AppendBlobClient(http, WritableSas(blob));
        await client.CreateAsync(CancellationToken.None);
        var block = Encoding.ASCII.GetBytes("hello\n");

        var first = await client.AppendAsync(0, block, CancellationToken.None);
        var retried = await client.AppendAsync(0, block, CancellationToken.None);

        Assert.Equal(6, first);
        Assert.Equal(6, retried);
        Assert.Equal("hello\n", await ReadAsync(blob));
    }

    [Fact]
    public async Task CreateAsync_ReadOnlySas_ThrowsPermanent403NamingTheHostButNotTheSas()
    {
        var blob = await NewBlobAsync();
        using var http = new HttpClient();
        var sas = AzuriteProcess.SasUri(blob, BlobSasPermissions.Read);

        var error = await Assert.ThrowsAsync<BlobRequestException>(() => new AppendBlobClient(http, sas).CreateAsync(CancellationToken.None));

        Assert.Equal(HttpStatusCode.Forbidden, error.Status);
        Assert.True(error.IsPermanent);
        Assert.Contains($"HTTP 403", error.Message, StringComparison.Ordinal);
        Assert.Contains($"127.0.0.1:{_azurite.ServiceUri.Port}", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("sig=", error.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task GetLengthAsync_BlockBlob_ThrowsInvalidBlobType()
    {
        var blob = await NewBlobAsync();
        await blob.UploadAsync(BinaryData.FromString("block"));
        using var http = new HttpClient();

        var error = await Assert.ThrowsAsync<BlobRequestException>(() => new AppendBlobClient(http, WritableSas(blob)).GetLengthAsync(CancellationToken.None));

        Assert.Equal("InvalidBlobType", error.ErrorCode);
    }

    [Fact]
    public async Task PumpOnceAsync_NineMiBFile_WritesExactBytesInOneBlock()
    {
        var blob = await NewBlobAsync();
        var stdout = Path.Combine(_dir, "stdout");
        var content = new byte[(9 * 1024 * 1024) + 123];
        new Random(42).NextBytes(content);
        File.WriteAllBytes(stdout, content);
        using var http = new HttpClient();
        var blobs = OutputBlobs.For("e1", stdout, Path.Combine(_dir, "stderr"), WritableSas(blob).ToString(), null, http, 8, NullLogger.Instance)!;
        Assert.Null(await blobs.CreateAsync(new Backoff(TimeSpan.Zero, TimeSpan.Zero), CancellationToken.None));

        Assert.True(await blobs.PumpOnceAsync(CancellationToken.None));

        var properties = (await blob.GetPropertiesAsync()).Value;
        Assert.Equal(1, properties.BlobCommittedBlockCount);
        Assert.Equal(content, (await blob.DownloadContentAsync()).Value.Content.ToArray());
        Assert.False(blobs.HasPendingBytes);
    }

    [Fact]
    public async Task PumpOnceAsync_ServiceRefusingBlocksOverFourMiB_FallsBackToFourMiBBlocks()
    {
        var blob = await NewBlobAsync();
        var stdout = Path.Combine(_dir, "stdout");
        var content = new byte[(9 * 1024 * 1024) + 123];
        new Random(7).NextBytes(content);
        File.WriteAllBytes(stdout, content);
        using var faults = new FaultyHandler { MaxBlockBytes = AppendBlobClient.LegacyMaxBlockBytes };
        using var http = new HttpClient(faults);
        var blobs = OutputBlobs.For("e1", stdout, Path.Combine(_dir, "stderr"), WritableSas(blob).ToString(), null, http, 8, NullLogger.Instance)!;
        Assert.Null(await blobs.CreateAsync(new Backoff(TimeSpan.Zero, TimeSpan.Zero), CancellationToken.None));

        Assert.True(await blobs.PumpOnceAsync(CancellationToken.None));

        Assert.Equal(1, faults.Refused);
        Assert.Equal(3, (await blob.GetPropertiesAsync()).Value.BlobCommittedBlockCount);
        Assert.Equal(content, (await blob.DownloadContentAsync()).Value.Content.ToArray());
        Assert.Null(blobs.FailureNote);
    }

    [Fact]
    public async Task FlushAsync_AnswerLostAfterAppendLanded_ContinuesFromBlobLengthWithoutDuplicates()
    {
        var blob = await NewBlobAsync();
        var stdout = Path.Combine(_dir, "stdout");
        File.WriteAllText(stdout, "line 1\n");
        using var faults = new FaultyHandler { LoseAnswerOfAppend = 1, FailWith500 = 1 };
        using var http = new HttpClient(faults);
        var blobs = OutputBlobs.For("e1", stdout, Path.Combine(_dir, "stderr"), WritableSas(blob).ToString(), null, http, 8, NullLogger.Instance)!;
        Assert.Null(await blobs.CreateAsync(new Backoff(TimeSpan.Zero, TimeSpan.Zero), CancellationToken.None));

        // First pass: the append lands but its answer is lost; the retry gets a 500, then 412 (position) and re-reads.
        Assert.False(await blobs.PumpOnceAsync(CancellationToken.None));
        File.AppendAllText(stdout, "line 2\n");
        await blobs.FlushAsync(new Backoff(TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(5)), CancellationToken.None);

        Assert.Equal("line 1\nline 2\n", await ReadAsync(blob));
        Assert.Null(blobs.FailureNote);
    }

    [Fact]
    public async Task FlushAsync_BlobRefusesEveryAppend_GivesUpWithANoteNamingTheBlobAndStatus()
    {
        var blob = await NewBlobAsync();
        var stderr = Path.Combine(_dir, "stderr");
        File.WriteAllText(stderr, "oops\n");
        using var http = new HttpClient();
        var blobs = OutputBlobs.For("e1", Path.Combine(_dir, "stdout"), stderr, null, WritableSas(blob).ToString(), http, 8, NullLogger.Instance)!;
        Assert.Null(await blobs.CreateAsync(new Backoff(TimeSpan.Zero, TimeSpan.Zero), CancellationToken.None));
        // Someone replaces the append blob with a block blob mid-run: every append is refused (409).
        await blob.UploadAsync(BinaryData.FromString("block"), overwrite: true);

        await blobs.FlushAsync(new Backoff(TimeSpan.FromMilliseconds(1), TimeSpan.FromMilliseconds(5)), CancellationToken.None);

        Assert.StartsWith("error blob append failed: HTTP 409", blobs.FailureNote, StringComparison.Ordinal);
        Assert.Contains($"127.0.0.1:{_azurite.ServiceUri.Port}", blobs.FailureNote, StringComparison.Ordinal);
        Assert.False(blobs.HasPendingBytes);
    }

    /// <summary>Forwards to Azurite but loses the answer of some appends (after they landed), fails others with 500, and refuses blocks over a size.</summary>
    private sealed class FaultyHandler() : DelegatingHandler(new HttpClientHandler())
    {
        public int LoseAnswerOfAppend { get; set; }

        public int FailWith500 { get; set; }

        /// <summary>Larger appends are refused with 413, as a service version before 2022-11-02 refuses blocks over 4 MiB.</summary>
        public long MaxBlockBytes { get; set; } = long.MaxValue;

        public int Refused { get; private set; }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var isAppend = request.RequestUri!.Query.Contains("comp=appendblock", StringComparison.Ordinal);
            if (isAppend && request.Content?.Headers.ContentLength > MaxBlockBytes)
            {
                Refused++;
                var refusal = new HttpResponseMessage(HttpStatusCode.RequestEntityTooLarge) { RequestMessage = request };
                refusal.Headers.Add("x-ms-error-code", "RequestBodyTooLarge");
                return refusal;
            }

            if (isAppend && LoseAnswerOfAppend > 0)
            {
                LoseAnswerOfAppend--;
                using var landed = await base.SendAsync(request, cancellationToken);
                Assert.Equal(HttpStatusCode.Created, landed.StatusCode);
                throw new HttpRequestException(HttpRequestError.ConnectionError, "connection reset after the append landed");
            }

            if (isAppend && FailWith500 > 0)
            {
                FailWith500--;
                return new HttpResponseMessage(HttpStatusCode.InternalServerError) { RequestMessage = request };
            }

            return await base.SendAsync(request, cancellationToken);
        }
    }
}
