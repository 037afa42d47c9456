using RunCommand.Cli.Output;
using RunCommand.Contracts.Arm;

namespace RunCommand.Cli.Tests;

/// <summary>
/// az's output rules (knack's formatters, azure-mgmt-compute's flattened models), with every expected text written by
/// hand from those rules: keys sorted, properties lifted to the top, tsv without header and with None/True/False as
/// Python prints them, tabulate's simple table, PyYAML's block style, JMESPath --query with the query's own order.
/// </summary>
public sealed class RendererTests
{
    private const string HelloId = "/subscriptions/s/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/vm1/runCommands/hello";

    private static readonly RunCommandResource Hello = new()
    {
        Id = HelloId,
        Name = "hello",
        Type = "Microsoft.Compute/virtualMachines/runCommands",
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
                EndTime = new DateTimeOffset(2026, 11, 26, 4, 0, 1, 500, TimeSpan.Zero),
            },
        },
    };

    private static readonly RunCommandResource Pending = new()
    {
        Name = "a-much-longer-name",
        Properties = new RunCommandProperties { ProvisioningState = "Creating" },
    };

    [Fact]
    public void RunCommand_Json_IsFlattenedSortedWithEveryModelPropertyAndPythonTimes()
    {
        var text = Render(w => Renderer.RunCommand(w, Hello, OutputSettings.Of(OutputFormat.Json)));

        Assert.Equal(
            $$"""
            {
              "asyncExecution": null,
              "errorBlobManagedIdentity": null,
              "errorBlobUri": null,
              "id": "{{HelloId}}",
              "instanceView": {
                "endTime": "2026-11-26T04:00:01.500000+00:00",
                "error": null,
                "executionMessage": null,
                "executionState": "Succeeded",
                "exitCode": 0,
                "output": "Hello World! ✓\n",
                "startTime": "2026-11-26T04:00:00+00:00",
                "statuses": null
              },
              "location": "local",
              "name": "hello",
              "outputBlobManagedIdentity": null,
              "outputBlobUri": null,
              "parameters": [],
              "protectedParameters": null,
              "provisioningState": "Succeeded",
              "resourceGroup": "rg1",
              "runAsPassword": null,
              "runAsUser": null,
              "source": {
                "commandId": null,
                "script": "echo Hello",
                "scriptUri": null,
                "scriptUriManagedIdentity": null
              },
              "tags": null,
              "timeoutInSeconds": null,
              "treatFailureAsDeploymentFailure": null,
              "type": "Microsoft.Compute/virtualMachines/runCommands"
            }

            """,
            text);
    }

    [Fact]
    public void RunCommand_Yaml_IsPyYamlBlockStyle()
    {
        var text = Render(w => Renderer.RunCommand(w, Hello, OutputSettings.Of(OutputFormat.Yaml)));

        Assert.Equal(
            $"""
            asyncExecution: null
            errorBlobManagedIdentity: null
            errorBlobUri: null
            id: {HelloId}
            instanceView:
              endTime: '2026-11-26T04:00:01.500000+00:00'
              error: null
              executionMessage: null
              executionState: Succeeded
              exitCode: 0
              output: 'Hello World! ✓

                '
              startTime: '2026-11-26T04:00:00+00:00'
              statuses: null
            location: local
            name: hello
            outputBlobManagedIdentity: null
            outputBlobUri: null
            parameters: []
            protectedParameters: null
            provisioningState: Succeeded
            resourceGroup: rg1
            runAsPassword: null
            runAsUser: null
            source:
              commandId: null
              script: echo Hello
              scriptUri: null
              scriptUriManagedIdentity: null
            tags: null
            timeoutInSeconds: null
            treatFailureAsDeploymentFailure: null
            type: Microsoft.Compute/virtualMachines/runCommands

            """,
            text);
    }

    [Fact]
    public void Yaml_ListsAndQuoting_FollowPyYaml()
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(
            """{"b":[{"name":"x","value":"true"},{"name":"y","value":"- a"}],"a":{"empty":{},"none":[]},"c":"tab\there","d":"123"}""");

        var text = PythonYaml.Write(node);

        Assert.Equal(
            """
            a:
              empty: {}
              none: []
            b:
            - name: x
              value: 'true'
            - name: y
              value: '- a'
            c: "tab\there"
            d: '123'

            """,
            text);
        Assert.Equal("hello\n...\n", PythonYaml.Write(System.Text.Json.Nodes.JsonValue.Create("hello")));
    }

    [Fact]
    public void RunCommands_Table_IsAzAutoTableOfSortedScalarColumns()
    {
        var text = Render(w => Renderer.RunCommands(w, [Hello, Pending], OutputSettings.Of(OutputFormat.Table)));

        // Columns: scalar, non-null top-level keys in sorted order, id and type skipped; each at least its header + 2 wide.
        Assert.Equal(
            """
            Location    Name                ProvisioningState    ResourceGroup
            ----------  ------------------  -------------------  ---------------
            local       hello               Succeeded            rg1
                        a-much-longer-name  Creating

            """,
            text);
    }

    [Fact]
    public void RunCommand_Tsv_PrintsSortedValuesWithPythonNoneAndListLengths()
    {
        var text = Render(w => Renderer.RunCommand(w, Hello, OutputSettings.Of(OutputFormat.Tsv)));

        Assert.Equal(
            $"None\tNone\tNone\t{HelloId}\t\tlocal\thello\tNone\tNone\t0\tNone\tSucceeded\trg1\tNone\tNone\t\tNone\tNone\tNone\t"
            + "Microsoft.Compute/virtualMachines/runCommands\n",
            text);
    }

    [Fact]
    public void Query_MultiselectHash_KeepsQueryOrderInTsvAndSortsInJson()
    {
        const string query = "{n:name, state:instanceView.executionState, code:instanceView.exitCode, async:asyncExecution}";

        var tsv = Render(w => Renderer.RunCommand(w, Hello, new OutputSettings(OutputFormat.Tsv, query)));
        var json = Render(w => Renderer.RunCommand(w, Hello, new OutputSettings(OutputFormat.Json, query)));
        var table = Render(w => Renderer.RunCommand(w, Hello, new OutputSettings(OutputFormat.Table, query)));

        Assert.Equal("hello\tSucceeded\t0\tNone\n", tsv);
        Assert.Equal("{\n  \"async\": null,\n  \"code\": 0,\n  \"n\": \"hello\",\n  \"state\": \"Succeeded\"\n}\n", json);
        Assert.Equal("N      State      Code\n-----  ---------  ------\nhello  Succeeded  0\n", table);
    }

    [Fact]
    public void Query_ListOfScalars_IsAResultColumnInTablesAndOneLineEachInTsv()
    {
        var table = Render(w => Renderer.RunCommands(w, [Hello, Pending], new OutputSettings(OutputFormat.Table, "[].name")));
        var tsv = Render(w => Renderer.RunCommands(w, [Hello, Pending], new OutputSettings(OutputFormat.Tsv, "[].name")));
        var output = Render(w => Renderer.RunCommand(w, Hello, new OutputSettings(OutputFormat.Tsv, "instanceView.output")));

        Assert.Equal("Result\n------------------\nhello\na-much-longer-name\n", table);
        Assert.Equal("hello\na-much-longer-name\n", tsv);
        Assert.Equal("Hello World! ✓\n\n", output);
    }

    [Fact]
    public void Query_FilterOnFlattenedShape_SelectsAsAzUsersWriteIt()
    {
        var text = Render(w => Renderer.RunCommands(
            w, [Hello, Pending], new OutputSettings(OutputFormat.Json, "[?provisioningState=='Succeeded'].instanceView.exitCode")));

        Assert.Equal("[\n  0\n]\n", text);
    }

    [Fact]
    public void Query_BadSyntax_IsAUsageErrorNamingTheQuery()
    {
        var error = Assert.Throws<CliException>(() => JmesQuery.Validate("[?name=="));

        Assert.Equal(ExitCodes.Usage, error.ExitCode);
        Assert.StartsWith("argument --query: invalid jmespath_type value: '[?name=='", error.Message);
    }

    [Fact]
    public void RunCommands_Json_IsAnArray()
    {
        var text = Render(w => Renderer.RunCommands(w, [Pending], OutputSettings.Of(OutputFormat.Json)));

        Assert.Equal("[\n  {\n    \"name\": \"a-much-longer-name\",\n    \"provisioningState\": \"Creating\"\n  }\n]\n", text);
    }

    [Fact]
    public void Vms_Table_ShowsResourceGroupAgentStatusAndVersion()
    {
        var vm = new VirtualMachineResource
        {
            Id = "/subscriptions/s/resourceGroups/Default/providers/Microsoft.Compute/virtualMachines/box",
            Name = "box",
            Location = "local",
            Properties = new VirtualMachineProperties
            {
                VmId = "id",
                AgentInstanceView = new VirtualMachineAgentView
                {
                    // Seven fractional digits, as .NET writes them; the CLI prints Python's six, as for every other time.
                    Status = "Connected", AgentVersion = "1.2.3", LastContact = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero).AddTicks(1_234_567),
                },
            },
        };

        var lines = Render(w => Renderer.Vms(w, [vm], OutputSettings.Of(OutputFormat.Table))).Split('\n');

        Assert.Equal("Name    ResourceGroup    Location    AgentStatus    AgentVersion    LastContact", lines[0]);
        Assert.Equal("box     Default          local       Connected      1.2.3           2026-01-02T03:04:05.123456+00:00", lines[2]);
    }

    [Fact]
    public void Table_CellWithLineBreaks_SpansLines()
    {
        var text = Render(w => Renderer.RunCommands(w, [Pending with { Name = "a\nbc" }], new OutputSettings(OutputFormat.Table, "[].{Name:name, State:provisioningState}")));

        Assert.Equal("Name    State\n------  --------\na       Creating\nbc\n", text);
    }

    [Theory]
    [InlineData("Json")]
    [InlineData("Jsonc")]
    [InlineData("Yaml")]
    [InlineData("Table")]
    [InlineData("Tsv")]
    public void Query_NullResult_PrintsNothingInEveryFormat(string format)
    {
        var text = Render(w => Renderer.RunCommand(w, Hello, new OutputSettings(Enum.Parse<OutputFormat>(format), "nonexistent")));

        Assert.Equal("", text);
    }

    [Fact]
    public void Query_EmptyListResult_IsStillPrinted()
    {
        var text = Render(w => Renderer.RunCommands(w, [Hello], new OutputSettings(OutputFormat.Json, "[?name=='none']")));

        Assert.Equal("[]\n", text);
    }

    [Fact]
    public void Documents_Table_KeepsTheCommandIdAndDropsTheSchema()
    {
        RunCommandDocumentBase[] documents =
        [
            new() { Schema = "http://schema.management.azure.com/schemas/2016-11-17/runcommands.json", Id = "ifconfig", Label = "List network configuration", Description = "ifconfig" },
        ];

        var text = Render(w => Renderer.Documents(w, documents, OutputSettings.Of(OutputFormat.Table)));

        Assert.Equal(
            "CommandId    OsType    Label                       Description\n"
            + "-----------  --------  --------------------------  -------------\n"
            + "ifconfig     Linux     List network configuration  ifconfig\n",
            text);
    }

    private static string Render(Action<TextWriter> render)
    {
        using var writer = new StringWriter { NewLine = "\n" };
        render(writer);
        return writer.ToString();
    }
}
