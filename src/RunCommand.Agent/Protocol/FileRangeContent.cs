using System.Buffers;
using System.Net;
using System.Net.Http.Headers;

namespace RunCommand.Agent.Protocol;

/// <summary>
/// <paramref name="length"/> bytes of a file from <paramref name="offset"/> as a request body, copied through one pooled
/// buffer while the request is sent: an upload never holds more than <see cref="BufferBytes"/> of it in memory. The
/// file may grow meanwhile (a script still writing); bytes past the range are not sent. A retry of the request reads
/// the file again.
/// </summary>
internal sealed class FileRangeContent : HttpContent
{
    /// <summary>Bytes read from the file per write to the connection.</summary>
    public const int BufferBytes = 256 * 1024;

    private readonly string _path;
    private readonly long _offset;
    private readonly long _length;

    public FileRangeContent(string path, long offset, long length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        _path = path;
        _offset = offset;
        _length = length;
        Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(BufferBytes);
        try
        {
            await using var file = new FileStream(_path, new FileStreamOptions
            {
                Mode = FileMode.Open,
                Access = FileAccess.Read,
                Share = FileShare.ReadWrite | FileShare.Delete,
                BufferSize = 0,
                Options = FileOptions.SequentialScan,
            });
            file.Position = _offset;
            var left = _length;
            while (left > 0)
            {
                var read = await file.ReadAsync(buffer.AsMemory(0, (int)Math.Min(left, buffer.Length)), cancellationToken);
                if (read == 0)
                {
                    throw new IOException($"The output file ended {left} bytes before the range to upload.");
                }

                await stream.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
                left -= read;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    protected override bool TryComputeLength(out long length)
    {
        length = _length;
        return true;
    }
}
