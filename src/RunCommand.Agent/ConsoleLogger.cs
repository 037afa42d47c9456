using Microsoft.Extensions.Logging;

namespace RunCommand.Agent;

/// <summary>
/// One timestamped line per event on stderr (journald keeps it under systemd). Deliberately tiny: the agent
/// takes no logging framework, only the abstractions that [LoggerMessage] generates code against.
/// </summary>
internal sealed class ConsoleLogger(TimeProvider timeProvider, LogLevel minimumLevel, TextWriter? output = null) : ILogger
{
    private readonly TextWriter _output = output ?? Console.Error;
    private readonly Lock _writeLock = new();

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= minimumLevel && logLevel != LogLevel.None;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (!IsEnabled(logLevel))
        {
            return;
        }

        var level = logLevel switch
        {
            LogLevel.Trace => "trce",
            LogLevel.Debug => "dbug",
            LogLevel.Information => "info",
            LogLevel.Warning => "warn",
            LogLevel.Error => "fail",
            _ => "crit",
        };
        var line = $"{timeProvider.GetUtcNow():yyyy-MM-ddTHH:mm:ss.fffZ} {level} [{eventId.Id}] {formatter(state, exception)}";
        if (exception is not null)
        {
            line += Environment.NewLine + exception;
        }

        lock (_writeLock)
        {
            _output.WriteLine(line);
            _output.Flush();
        }
    }
}
