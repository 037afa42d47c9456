using RunCommand.Contracts.Arm;

namespace RunCommand.Storage;

/// <summary>A custom command document as stored; <see cref="Document"/> is the wire shape, kept verbatim.</summary>
public sealed record CommandDocumentRecord
{
    public required RunCommandDocument Document { get; init; }

    public required DateTimeOffset Created { get; init; }

    public required DateTimeOffset Updated { get; init; }
}
