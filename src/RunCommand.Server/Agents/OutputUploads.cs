using System.Buffers;
using System.Globalization;
using RunCommand.Contracts;
using RunCommand.Contracts.Agents;
using RunCommand.Server.Arm;
using RunCommand.Server.Auth;
using RunCommand.Storage;

namespace RunCommand.Server.Agents;

/// <summary>
/// The raw output upload of the agent protocol (<see cref="OutputUpload"/>, docs/agent-protocol.md): the request body
/// is read into pooled rows of <see cref="RowBytes"/> and stored <see cref="RowsPerWrite"/> rows to a transaction, so
/// an upload is never held whole in memory and never passes through base64 or JSON.
/// </summary>
public static class OutputUploads
{
    /// <summary>Bytes of one stored output row (what a tail read reads at most beyond the bytes it wants).</summary>
    public const int RowBytes = 1024 * 1024;

    /// <summary>Rows stored per write transaction: fewer transactions, while what a reader sees lags by at most this.</summary>
    public const int RowsPerWrite = 4;

    /// <summary>The answer to a report or an upload: where to continue each stream, and whether to stop.</summary>
    public static ReportAck Ack(ReportOutcome outcome) => new()
    {
        StdoutLength = outcome.StdoutLength,
        StderrLength = outcome.StderrLength,
        Cancel = outcome.CancelRequested,
        Finished = outcome.Finished,
        RawOutput = true,
    };

    public static async Task<IResult> UploadAsync(HttpContext http, string executionId, string stream, IAgentWorkStore store, AgentPresence presence, CancellationToken cancellationToken)
    {
        var vm = http.Caller().Vm!.Vm;
        OutputStream which;
        switch (stream)
        {
            case "stdout":
                which = OutputStream.Stdout;
                break;
            case "stderr":
                which = OutputStream.Stderr;
                break;
            default:
                return ArmResults.Error(StatusCodes.Status400BadRequest, "InvalidParameter", $"'{stream}' is not an output stream: use 'stdout' or 'stderr'.", "stream");
        }

        if (!long.TryParse(http.Request.Query["offset"], NumberStyles.None, CultureInfo.InvariantCulture, out var offset))
        {
            return ArmResults.Error(StatusCodes.Status400BadRequest, "InvalidParameter", "'offset' must be the stream's byte offset of the body's first byte (a number, 0 or more).", "offset");
        }

        await presence.TouchAsync(vm, cancellationToken);

        // Two batches at most: the store writes one while the next is read from the connection (TLS decryption and
        // the SQLite write then run on two cores instead of taking turns). Writes stay in order, one at a time; a
        // batch is acknowledged only by the write that stored it, so what the agent is told is what is held.
        var reading = new List<byte[]>(RowsPerWrite);
        List<byte[]>? writing = null;
        Task<ReportOutcome?>? write = null;
        try
        {
            ReportOutcome? outcome = null;
            var ended = false;
            while (true)
            {
                var fresh = 0L;
                if (!ended)
                {
                    (fresh, ended) = await ReadBatchAsync(http.Request.Body, reading, cancellationToken);
                }

                if (write is not null)
                {
                    outcome = await write;
                    write = null;
                    ReturnRows(writing!);
                    if (outcome is null)
                    {
                        return ArmResults.NotFound($"Execution '{executionId}' is not an execution of this VM.");
                    }

                    if (outcome.Gap)
                    {
                        // Nothing of it was kept: the agent resumes from the lengths in the answer.
                        http.Response.Headers.Connection = "close";
                        return Results.Json(Ack(outcome), ContractsJsonContext.Default.ReportAck, statusCode: StatusCodes.Status409Conflict);
                    }
                }

                if (reading.Count == 0 && outcome is not null)
                {
                    break;
                }

                // An empty body still answers where each stream stands (and refuses a gap). On the thread pool: the
                // store's writes complete synchronously, and this request goes on reading meanwhile.
                var batch = reading;
                var at = offset;
                write = Task.Run(() => store.AppendOutputAsync(vm, executionId, which, at, batch, cancellationToken), cancellationToken);
                (writing, reading) = (reading, writing ?? new List<byte[]>(RowsPerWrite));
                offset += fresh;
            }

            return Results.Json(Ack(outcome!), ContractsJsonContext.Default.ReportAck);
        }
        finally
        {
            if (write is not null)
            {
                // A failed read (the agent went away) must not return rows the store is still writing.
                await write.ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }

            ReturnRows(reading);
            if (writing is not null)
            {
                ReturnRows(writing);
            }
        }
    }

    /// <summary>
    /// Reads up to <see cref="RowsPerWrite"/> rows of the body into <paramref name="rows"/> (empty on entry); the last
    /// (short) row of the body is copied to an array of its own size. Answers the bytes read and whether the body ended.
    /// </summary>
    private static async Task<(long Read, bool Ended)> ReadBatchAsync(Stream body, List<byte[]> rows, CancellationToken cancellationToken)
    {
        var total = 0L;
        while (rows.Count < RowsPerWrite)
        {
            var row = ArrayPool<byte>.Shared.Rent(RowBytes);
            var read = await body.ReadAtLeastAsync(row.AsMemory(0, RowBytes), RowBytes, throwOnEndOfStream: false, cancellationToken);
            total += read;
            if (read == RowBytes && row.Length == RowBytes)
            {
                rows.Add(row);
                continue;
            }

            if (read > 0)
            {
                rows.Add(row.AsSpan(0, read).ToArray());
            }

            ArrayPool<byte>.Shared.Return(row);
            if (read < RowBytes)
            {
                return (total, true);
            }
        }

        return (total, false);
    }

    private static void ReturnRows(List<byte[]> rows)
    {
        foreach (var row in rows)
        {
            if (row.Length == RowBytes)
            {
                ArrayPool<byte>.Shared.Return(row);
            }
        }

        rows.Clear();
    }
}
