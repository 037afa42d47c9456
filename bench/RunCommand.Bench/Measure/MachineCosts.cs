using System.Diagnostics;
using System.IO.Pipes;
using System.Runtime.InteropServices;
using RunCommand.Bench.Scenarios;

namespace RunCommand.Bench.Measure;

/// <summary>
/// What the kernel's own primitives cost on this machine now: a system call, a hand-off between two threads through
/// pipes, a page fault on fresh memory and a process start. Every figure of the suite is built from these, and they
/// move with the machine's virtualisation and hour (docs/performance.md, item 55), so each run prints them beside its
/// table, at its start and at its end.
/// </summary>
public sealed record MachineCosts(double SyscallMicroseconds, double HandOffMicroseconds, double FaultMicroseconds, double ProcessStartMilliseconds)
{
    private const int PageSize = 4096;

    public override string ToString() =>
        $"a system call {Samples.F(SyscallMicroseconds, "F2")} µs, a pipe round trip between two threads {Samples.F(HandOffMicroseconds, "F1")} µs, "
        + $"a page fault on fresh memory {Samples.F(FaultMicroseconds, "F1")} µs, a process start (/bin/true) {Samples.Ms(ProcessStartMilliseconds)}";

    /// <summary>Each primitive measured five times (about two seconds in all); the medians.</summary>
    public static async Task<MachineCosts> MeasureAsync()
    {
        var syscall = new Samples();
        var handOff = new Samples();
        var fault = new Samples();
        var start = new Samples();
        for (var round = 0; round < 5; round++)
        {
            syscall.Add(TimeSyscalls(100_000));
            handOff.Add(await Task.Run(() => TimeHandOffs(5_000)));
            fault.Add(TimeFaults(16 << 20));
            for (var i = 0; i < 10; i++)
            {
                start.Add(await Baselines.RunMsAsync("/bin/true"));
            }
        }

        return new MachineCosts(syscall.Median, handOff.Median, fault.Median, start.Median);
    }

    [DllImport("libc", EntryPoint = "getppid")]
    private static extern int GetParentProcessId();

    /// <summary>The cheapest system call there is (<c>getppid</c>, never cached by glibc), in a loop.</summary>
    private static double TimeSyscalls(int count)
    {
        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < count; i++)
        {
            GetParentProcessId();
        }

        return Stopwatch.GetElapsedTime(started).TotalMicroseconds / count;
    }

    /// <summary>
    /// One byte sent to another thread through a pipe and one sent back through a second pipe, blocking reads on
    /// both sides: a wake-up and a sleep each way, as every request handed between processes (a client, the server,
    /// PostgreSQL's backend) pays.
    /// </summary>
    private static double TimeHandOffs(int count)
    {
        using var there = new AnonymousPipeServerStream(PipeDirection.Out);
        using var thereIn = new AnonymousPipeClientStream(PipeDirection.In, there.ClientSafePipeHandle);
        using var back = new AnonymousPipeServerStream(PipeDirection.Out);
        using var backIn = new AnonymousPipeClientStream(PipeDirection.In, back.ClientSafePipeHandle);
        var echo = new Thread(() =>
        {
            var one = new byte[1];
            for (var i = 0; i < count; i++)
            {
                thereIn.ReadExactly(one);
                back.Write(one);
            }
        });
        echo.Start();
        var buffer = new byte[1];
        var started = Stopwatch.GetTimestamp();
        for (var i = 0; i < count; i++)
        {
            there.Write(buffer);
            backIn.ReadExactly(buffer);
        }

        var elapsed = Stopwatch.GetElapsedTime(started);
        echo.Join();
        return elapsed.TotalMicroseconds / count;
    }

    [DllImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static extern nint Map(nint address, nuint length, int protection, int flags, int fd, nint offset);

    [DllImport("libc", EntryPoint = "munmap")]
    private static extern int Unmap(nint address, nuint length);

    /// <summary>
    /// A fresh anonymous mapping (small pages: huge pages only where advised, as on Debian) touched once a page: a
    /// fault each. Mapped here rather than allocated, so no allocator hands back memory touched before.
    /// </summary>
    private static double TimeFaults(int bytes)
    {
        const int ReadWrite = 0x1 | 0x2;
        const int PrivateAnonymous = 0x02 | 0x20;
        var memory = Map(0, (nuint)bytes, ReadWrite, PrivateAnonymous, -1, 0);
        if (memory == -1)
        {
            throw new InvalidOperationException($"mmap of {bytes} bytes failed (errno {Marshal.GetLastPInvokeError()})");
        }

        try
        {
            var started = Stopwatch.GetTimestamp();
            for (var offset = 0; offset < bytes; offset += PageSize)
            {
                Marshal.WriteByte(memory, offset, 1);
            }

            return Stopwatch.GetElapsedTime(started).TotalMicroseconds / (bytes / PageSize);
        }
        finally
        {
            _ = Unmap(memory, (nuint)bytes);
        }
    }
}
