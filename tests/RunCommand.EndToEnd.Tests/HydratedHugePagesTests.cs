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
            // HydratedSegment finds exactly one writable segment holding no file bytes, or fails.
            var segment = HydratedSegment(binary);
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
        var mappings = Mappings(await File.ReadAllLinesAsync($"/proc/{agent.Process.Pid}/smaps"));

        // The program's first mapping (file offset 0) is where it was loaded; its data segment lies at that base plus
        // the segment's address.
        var loadBase = mappings.First(m => m.Path == Path.GetFullPath(binary) && m.Offset == 0).Start;
        Assert.Equal(0UL, loadBase % HugePage);
        var area = mappings.FirstOrDefault(m => m.Start == loadBase + segment.VirtualAddress);
        Assert.True(area is not null, $"no mapping starts at the data segment (base 0x{loadBase:x} + 0x{segment.VirtualAddress:x}):\n"
            + string.Join('\n', mappings.Select(m => $"{m.Start:x}-{m.End:x} {m.Offset:x} {m.Path}")));
        Assert.Equal(segment.MemorySize, area.End - area.Start);
        // hg: madvise(MADV_HUGEPAGE) was applied to the whole area, before the runtime wrote its data there.
        Assert.Contains("hg", area.Fields["VmFlags"].Split(' ', StringSplitOptions.RemoveEmptyEntries));
        var mode = await File.ReadAllTextAsync("/sys/kernel/mm/transparent_hugepage/enabled");
        if (!mode.Contains("[never]", StringComparison.Ordinal))
        {
            Assert.Equal("1", area.Fields["THPeligible"]);
        }
    }

    private readonly record struct Segment(ulong VirtualAddress, ulong MemorySize, ulong Align);

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
                found.Add(new Segment(BinaryPrimitives.ReadUInt64LittleEndian(entry[0x10..]),
                    BinaryPrimitives.ReadUInt64LittleEndian(entry[0x28..]), BinaryPrimitives.ReadUInt64LittleEndian(entry[0x30..])));
            }
        }

        return Assert.Single(found);
    }

    private sealed record Mapping(ulong Start, ulong End, ulong Offset, string Path, Dictionary<string, string> Fields);

    /// <summary>
    /// The mappings of /proc/PID/smaps: each header line ("start-end perms offset dev inode path") with the
    /// "Name: value" lines that follow it.
    /// </summary>
    private static List<Mapping> Mappings(string[] smaps)
    {
        var mappings = new List<Mapping>();
        foreach (var line in smaps)
        {
            var parts = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
            if (parts[0] is [.., ':'] name && mappings.Count > 0)
            {
                mappings[^1].Fields[name[..^1]] = line[name.Length..].Trim();
                continue;
            }

            var range = parts[0].Split('-');
            mappings.Add(new Mapping(Hex(range[0]), Hex(range[1]), Hex(parts[2]), parts.Length > 5 ? parts[5].Trim() : "", []));
        }

        return mappings;
    }

    private static ulong Hex(string text) => ulong.Parse(text, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
}
