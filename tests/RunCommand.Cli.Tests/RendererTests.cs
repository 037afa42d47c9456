using System.Text.Json;
using RunCommand.Cli.Output;
using RunCommand.Contracts.Arm;

namespace RunCommand.Cli.Tests;

public sealed class RendererTests
{
    private static readonly RunCommandResource Hello = new()
    {
        Id = "/subscriptions/s/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/vm1/runCommands/hello",
        Name = "hello",
        Location = "local",
        Properties = new RunCommandProperties
        {
            Source = new RunCommandSource { Script = "echo Hello" },
            ProvisioningState = "Succeeded",
            InstanceView = new RunCommandInstanceView
            {
                ExecutionState = "Succeeded",
                ExitCode = 0,
                Output = "Hello World! ✓\n",
                StartTime = new DateTimeOffset(2026, 11, 26, 4, 0, 0, TimeSpan.Zero),
                EndTime = new DateTimeOffset(2026, 11, 26, 4, 0, 1, TimeSpan.Zero),
            },
        },
    };

    private static readonly RunCommandResource Pending = new()
    {
        Name = "a-much-longer-name",
        Properties = new RunCommandProperties { ProvisioningState = "Creating" },
    };

    [Fact]
    public void RunCommands_Table_AlignsColumnsUnderDashedHeader()
    {
        var text = Render(w => Renderer.RunCommands(w, [Hello, Pending], OutputFormat.Table));

        Assert.Equal(
            """
            Name                ProvisioningState  ExecutionState  ExitCode  StartTime             EndTime
            ------------------  -----------------  --------------  --------  --------------------  --------------------
            hello               Succeeded          Succeeded       0         2026-11-26T04:00:00Z  2026-11-26T04:00:01Z
            a-much-longer-name  Creating

            """,
            text);
    }

    [Fact]
    public void RunCommand_TableWithInstanceView_AlsoPrintsOutput()
    {
        var text = Render(w => Renderer.RunCommand(w, Hello, OutputFormat.Table));

        Assert.EndsWith("\nOutput:\nHello World! ✓\n", text);
    }

    [Fact]
    public void RunCommands_Tsv_PrintsTabSeparatedValuesWithoutHeader()
    {
        var text = Render(w => Renderer.RunCommands(w, [Hello, Pending], OutputFormat.Tsv));

        Assert.Equal(
            "hello\tSucceeded\tSucceeded\t0\t2026-11-26T04:00:00.0000000+00:00\t2026-11-26T04:00:01.0000000+00:00\n"
            + "a-much-longer-name\tCreating\t\t\t\t\n",
            text);
    }

    [Fact]
    public void RunCommand_Json_IsIndentedCamelCaseWithoutNullsAndKeepsUnicode()
    {
        var text = Render(w => Renderer.RunCommand(w, Hello, OutputFormat.Json));

        Assert.Contains("\n  \"name\": \"hello\",", text);
        Assert.Contains("Hello World! ✓", text);
        Assert.DoesNotContain("null", text);
        using var document = JsonDocument.Parse(text);
        Assert.Equal(0, document.RootElement.GetProperty("properties").GetProperty("instanceView").GetProperty("exitCode").GetInt32());
    }

    [Fact]
    public void RunCommands_Json_IsAnArray()
    {
        using var document = JsonDocument.Parse(Render(w => Renderer.RunCommands(w, [Hello, Pending], OutputFormat.Json)));

        Assert.Equal(2, document.RootElement.GetArrayLength());
    }

    [Fact]
    public void Vms_Table_ShowsResourceGroupFromIdAndAgentStatus()
    {
        var vm = new VirtualMachineResource
        {
            Id = "/subscriptions/s/resourceGroups/Default/providers/Microsoft.Compute/virtualMachines/box",
            Name = "box",
            Location = "local",
            Properties = new VirtualMachineProperties
            {
                VmId = "id",
                AgentInstanceView = new VirtualMachineAgentView { Status = "Connected", LastContact = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero) },
            },
        };

        var lines = Render(w => Renderer.Vms(w, [vm], OutputFormat.Table)).Split('\n');

        Assert.Equal("Name  ResourceGroup  Location  AgentStatus  LastContact", lines[0]);
        Assert.Equal("box   Default        local     Connected    2026-01-02T03:04:05Z", lines[2]);
    }

    [Fact]
    public void RunCommands_TableCellWithNewlinesAndTabs_StaysOnOneLine()
    {
        var text = Render(w => Renderer.RunCommands(w, [Pending with { Name = "a\tb\nc" }], OutputFormat.Tsv));

        Assert.Equal("a b c\tCreating\t\t\t\t\n", text);
    }

    private static string Render(Action<TextWriter> render)
    {
        using var writer = new StringWriter { NewLine = "\n" };
        render(writer);
        return writer.ToString();
    }
}
