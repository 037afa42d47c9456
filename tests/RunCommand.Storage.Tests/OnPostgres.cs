namespace RunCommand.Storage.Tests;

// The same contract suites on PostgreSQL (a real server the tests start; see RunCommand.Testing.PostgresServer).
public sealed class RunCommandStoreOnPostgres : RunCommandStoreContract<PostgresBackends>;

public sealed class IdentityStoreOnPostgres : IdentityStoreContract<PostgresBackends>;

public sealed class DeploymentStoreOnPostgres : DeploymentStoreContract<PostgresBackends>;

public sealed class MachineAndFleetStoreOnPostgres : MachineAndFleetStoreContract<PostgresBackends>;

public sealed class MigrationOnPostgres : MigrationContract<PostgresBackends>;

public sealed class RetentionOnPostgres : RetentionContract<PostgresBackends>;

public sealed class GroupCommitOnPostgres : GroupCommitContract<PostgresBackends>;
