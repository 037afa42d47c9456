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
        var rows = new List<byte[]>(RowsPerWrite);
        try
        {
            ReportOutcome? outcome = null;
            var ended = false;
            while (!ended)
            {
                // Fill up to RowsPerWrite rows; the last (short) row of the body is copied to an array of its own size.
                var fresh = 0L;
                while (rows.Count < RowsPerWrite)
                {
                    var row = ArrayPool<byte>.Shared.Rent(RowBytes);
                    var read = await http.Request.Body.ReadAtLeastAsync(row.AsMemory(0, RowBytes), RowBytes, throwOnEndOfStream: false, cancellationToken);
                    if (read == RowBytes && row.Length == RowBytes)
                    {
                        rows.Add(row);
                    }
                    else
                    {
                        if (read > 0)
                        {
                            rows.Add(row.AsSpan(0, read).ToArray());
                        }

                        ArrayPool<byte>.Shared.Return(row);
                        ended = read < RowBytes;
                    }

                    fresh += read;
                    if (ended)
                    {
                        break;
                    }
                }

                if (rows.Count == 0 && outcome is not null)
                {
                    break;
                }

                // An empty body still answers where each stream stands (and refuses a gap).
                outcome = await store.AppendOutputAsync(vm, executionId, which, offset, rows, cancellationToken);
                ReturnRows(rows);
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

                offset += fresh;
            }

            return Results.Json(Ack(outcome!), ContractsJsonContext.Default.ReportAck);
        }
        finally
        {
            ReturnRows(rows);
        }
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
