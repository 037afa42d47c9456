using System.Buffers.Binary;
using System.Globalization;
using RunCommand.Testing;

namespace RunCommand.EndToEnd.Tests;

/// <summary>
/// The NativeAOT executables keep their start-up data in transparent huge pages (src/Native/hydrated_huge_pages.c;
/// docs/native-aot.md, "Start-up data in huge pages"): the layout the linker script gives the shipped binaries, and
/// the advice a running agent's data segment carries.
/// </summary>
public sealed class HydratedHugePagesTests(StackFixture fixture) : IClassFixture<StackFixture>
{
    private const ulong HugePage = 2 << 20;

    private readonly Stack _stack = fixture.Stack;

    [Fact]
    public async Task ShippedNativeBinaries_StartUpDataIsAZeroFilledSegmentOfWhole2MiBBlocks()
    {
        var cli = Path.Combine(Path.GetDirectoryName(await Dist.ShippedServerAsync())!, "runcmd");
        foreach (var binary in new[] { await Dist.NativeAgentAsync(), cli })
        {
            var segment = HydratedSegment(binary);
            Assert.Equal(0UL, segment.FileSize);
            Assert.Equal(HugePage, segment.Align);
            Assert.Equal(0UL, segment.VirtualAddress % HugePage);
            Assert.True(segment.MemorySize >= HugePage && segment.MemorySize % HugePage == 0, $"{binary}: {segment}");
        }
    }

    [Fact]
    public async Task NativeAgent_Running_ItsStartUpDataIsAdvisedForHugePages()
    {
        var binary = await Dist.NativeAgentAsync();
        const string vm = "hugepages";
        await using var agent = await AgentProcess.StartBinaryAsync(_stack.Server, binary, vm, "e2e", Path.Combine(_stack.Dir, "agents", vm), new Dictionary<string, string>());
        var segment = HydratedSegment(binary);
        var pid = agent.Process.Pid;

        // The program's first mapping (file offset 0) is where it was loaded; its data segment lies at that base plus
        // the segment's address.
        var maps = await File.ReadAllLinesAsync($"/proc/{pid}/maps");
        var first = maps.First(line => line.EndsWith(Path.GetFullPath(binary), StringComparison.Ordinal) && line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[2] == "00000000");
        var loadBase = ulong.Parse(first[..first.IndexOf('-', StringComparison.Ordinal)], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        Assert.Equal(0UL, loadBase % HugePage);

        var area = SmapsArea(await File.ReadAllLinesAsync($"/proc/{pid}/smaps"), loadBase + segment.VirtualAddress);
        Assert.True(area is not null, $"no mapping starts at the data segment (base 0x{loadBase:x} + 0x{segment.VirtualAddress:x}):\n{string.Join('\n', maps)}");
        Assert.Equal(segment.MemorySize, area.Value.Size);
        // hg: madvise(MADV_HUGEPAGE) was applied to the whole area, before the runtime wrote its data there.
        Assert.Contains("hg", area.Value.Fields["VmFlags"].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        var mode = await File.ReadAllTextAsync("/sys/kernel/mm/transparent_hugepage/enabled");
        if (!mode.Contains("[never]", StringComparison.Ordinal))
        {
            Assert.Equal("1", area.Value.Fields["THPeligible"]);
        }
    }

    private readonly record struct Segment(ulong VirtualAddress, ulong FileSize, ulong MemorySize, ulong Align);

    /// <summary>The writable PT_LOAD segment that holds no file bytes (the linker script's `.hydrated`), from the ELF64 program headers.</summary>
    private static Segment HydratedSegment(string binary)
    {
        using var file = File.OpenRead(binary);
        var header = new byte[64];
        file.ReadExactly(header);
        Assert.Equal("\u007fELF", System.Text.Encoding.ASCII.GetString(header, 0, 4));
        var tableOffset = BinaryPrimitives.ReadUInt64LittleEndian(header.AsSpan(0x20));
        var entrySize = BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(0x36));
        var count = BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(0x38));
        var table = new byte[entrySize * count];
        file.Position = (long)tableOffset;
        file.ReadExactly(table);
        var found = new List<Segment>();
        for (var i = 0; i < count; i++)
        {
            var entry = table.AsSpan(i * entrySize, entrySize);
            const uint load = 1, writable = 2;
            if (BinaryPrimitives.ReadUInt32LittleEndian(entry) == load && (BinaryPrimitives.ReadUInt32LittleEndian(entry[4..]) & writable) != 0
                && BinaryPrimitives.ReadUInt64LittleEndian(entry[0x20..]) == 0)
            {
                found.Add(new Segment(BinaryPrimitives.ReadUInt64LittleEndian(entry[0x10..]), 0,
                    BinaryPrimitives.ReadUInt64LittleEndian(entry[0x28..]), BinaryPrimitives.ReadUInt64LittleEndian(entry[0x30..])));
            }
        }

        return Assert.Single(found);
    }

    /// <summary>The /proc/PID/smaps entry of the mapping that starts at <paramref name="start"/>: its size and its "Name: value" fields.</summary>
    private static (ulong Size, Dictionary<string, string> Fields)? SmapsArea(string[] smaps, ulong start)
    {
        for (var i = 0; i < smaps.Length; i++)
        {
            var range = smaps[i].Split(' ', 2)[0].Split('-');
            if (range.Length != 2 || !ulong.TryParse(range[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var from) || from != start)
            {
                continue;
            }

            var to = ulong.Parse(range[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            var fields = new Dictionary<string, string>();
            // Field lines ("Size:  6144 kB", "VmFlags: rd wr ...") follow until the next mapping's address range.
            for (var j = i + 1; j < smaps.Length && smaps[j].Split(' ', 2)[0] is [.., ':'] name; j++)
            {
                fields[name[..^1]] = smaps[j][name.Length..].Trim();
            }

            return (to - from, fields);
        }

        return null;
    }
}
