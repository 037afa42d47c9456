namespace RunCommand.Storage.Tests;

// The contract suites on the embedded backend.
public sealed class RunCommandStoreOnSqlite : RunCommandStoreContract<SqliteBackends>;

public sealed class IdentityStoreOnSqlite : IdentityStoreContract<SqliteBackends>;

public sealed class DeploymentStoreOnSqlite : DeploymentStoreContract<SqliteBackends>;

public sealed class MachineAndFleetStoreOnSqlite : MachineAndFleetStoreContract<SqliteBackends>;

public sealed class MigrationOnSqlite : MigrationContract<SqliteBackends>;

public sealed class RetentionOnSqlite : RetentionContract<SqliteBackends>;

public sealed class GroupCommitOnSqlite : GroupCommitContract<SqliteBackends>;
