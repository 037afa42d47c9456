using System.Globalization;

namespace RunCommand.Testing;

/// <summary>
/// A file a test creates to let its scripts go on ("the gate"), and the bash that waits for it.
/// </summary>
/// <remarks>
/// The obvious wait, <c>while [ ! -e gate ]; do sleep 0.05; done</c>, starts a process per check: twenty a second for
/// each waiting script. On a machine where a fork and an exec cost several milliseconds, 160 scripts waiting that way
/// (the server-kill fault test) kept 300 processes runnable and left no CPU for a server starting beside them. This
/// wait sleeps in bash's own <c>read -t</c> on a FIFO nobody writes to: two processes in all (mkfifo and rm,
/// none per check). No double quotes, so it also fits inside JSON strings.
/// </remarks>
public static class Gate
{
    /// <summary>Bash that returns once <paramref name="path"/> exists, checking every <paramref name="intervalSeconds"/>.</summary>
    public static string WaitFor(string path, double intervalSeconds = 0.05)
    {
        if (path.IndexOfAny([' ', '\'', '"', '$', '`', '\\']) >= 0)
        {
            throw new ArgumentException($"the gate's path must need no quoting: {path}", nameof(path));
        }

        var interval = intervalSeconds.ToString("0.0##", CultureInfo.InvariantCulture);
        return "__gate_fifo=${TMPDIR:-/tmp}/rc-gate-$$-$RANDOM; mkfifo -m 600 $__gate_fifo; exec 9<>$__gate_fifo; rm -f $__gate_fifo; "
            + $"while [ ! -e {path} ]; do read -r -t {interval} -u 9 __gate_line || :; done; exec 9<&-";
    }
}
