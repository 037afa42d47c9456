-- Baseline: the schema of the last release before versioned migrations (tables, the columns it added on the fly, indexes).
-- IF NOT EXISTS throughout: a database made by that release adopts this version without changes.
CREATE TABLE IF NOT EXISTS tokens(
    purpose TEXT PRIMARY KEY,
    hash BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS vms(
    key TEXT PRIMARY KEY,
    subscription TEXT NOT NULL,
    resource_group TEXT NOT NULL,
    name TEXT NOT NULL,
    location TEXT NOT NULL,
    vm_id TEXT NOT NULL,
    tags TEXT,
    agent_token_hash BLOB UNIQUE,
    agent_public_key BLOB,
    last_contact TEXT,
    hostname TEXT,
    agent_version TEXT,
    created TEXT NOT NULL,
    goal_version INTEGER NOT NULL DEFAULT 1,
    scale_set TEXT);
CREATE TABLE IF NOT EXISTS run_commands(
    key TEXT PRIMARY KEY,
    vm_key TEXT NOT NULL,
    name TEXT NOT NULL,
    sort_name TEXT NOT NULL,
    location TEXT NOT NULL,
    tags TEXT,
    spec TEXT NOT NULL,
    secrets BLOB,
    fingerprint TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    operation_id TEXT NOT NULL,
    first_execution INTEGER NOT NULL,
    deleting INTEGER NOT NULL DEFAULT 0,
    created TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS ix_run_commands_vm ON run_commands(vm_key, sort_name);
CREATE TABLE IF NOT EXISTS executions(
    id TEXT PRIMARY KEY,
    vm_key TEXT NOT NULL,
    command_resource_id TEXT NOT NULL,
    spec TEXT NOT NULL,
    secrets BLOB,
    state TEXT NOT NULL,
    exit_code INTEGER,
    message TEXT,
    start_time TEXT,
    end_time TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    delivered INTEGER NOT NULL DEFAULT 0,
    stdout_len INTEGER NOT NULL DEFAULT 0,
    stderr_len INTEGER NOT NULL DEFAULT 0,
    created TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS ix_executions_active ON executions(vm_key, created) WHERE state IN ('Pending', 'Running');
CREATE TABLE IF NOT EXISTS output(
    execution_id TEXT NOT NULL,
    stream INTEGER NOT NULL,
    start_offset INTEGER NOT NULL,
    end_offset INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY(execution_id, stream, start_offset));
CREATE TABLE IF NOT EXISTS operations(
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    execution_id TEXT,
    created TEXT NOT NULL,
    completed TEXT);
CREATE TABLE IF NOT EXISTS deployments(
    key TEXT PRIMARY KEY,
    subscription TEXT NOT NULL,
    resource_group TEXT NOT NULL,
    name TEXT NOT NULL,
    deployment_id TEXT NOT NULL,
    state TEXT NOT NULL,
    created TEXT NOT NULL,
    ended TEXT,
    error TEXT);
CREATE INDEX IF NOT EXISTS ix_deployments_group ON deployments(lower(subscription), lower(resource_group), lower(name));
CREATE TABLE IF NOT EXISTS deployment_operations(
    deployment_key TEXT NOT NULL,
    idx INTEGER NOT NULL,
    operation_id TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    resource_name TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    depends_on TEXT NOT NULL,
    body BLOB NOT NULL,
    state TEXT,
    execution_id TEXT,
    status_code TEXT,
    error TEXT,
    started TEXT,
    ended TEXT,
    PRIMARY KEY(deployment_key, idx));
CREATE TABLE IF NOT EXISTS scale_sets(
    key TEXT PRIMARY KEY,
    subscription TEXT NOT NULL,
    resource_group TEXT NOT NULL,
    name TEXT NOT NULL,
    location TEXT NOT NULL,
    instance_count INTEGER NOT NULL DEFAULT 0,
    created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fleet_runs(
    key TEXT PRIMARY KEY,
    subscription TEXT NOT NULL,
    resource_group TEXT NOT NULL,
    name TEXT NOT NULL,
    sort_name TEXT NOT NULL,
    location TEXT NOT NULL,
    definition TEXT NOT NULL,
    secrets BLOB,
    state TEXT NOT NULL,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    created TEXT NOT NULL,
    completed TEXT);
CREATE INDEX IF NOT EXISTS ix_fleet_runs_active ON fleet_runs(state) WHERE state = 'Running';
CREATE TABLE IF NOT EXISTS fleet_targets(
    run_key TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    machine_id TEXT NOT NULL,
    execution_id TEXT,
    not_started INTEGER NOT NULL DEFAULT 0,
    start_failed INTEGER NOT NULL DEFAULT 0,
    message TEXT,
    PRIMARY KEY(run_key, ordinal));
CREATE TABLE IF NOT EXISTS command_documents(
    key TEXT PRIMARY KEY,
    document TEXT NOT NULL,
    created TEXT NOT NULL,
    updated TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS principals(
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    sort_name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    display_name TEXT,
    created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS api_tokens(
    id TEXT PRIMARY KEY,
    principal_id TEXT NOT NULL,
    hash BLOB NOT NULL UNIQUE,
    description TEXT,
    created TEXT NOT NULL,
    expires TEXT,
    revoked TEXT);
CREATE TABLE IF NOT EXISTS enrollment_tokens(
    id TEXT PRIMARY KEY,
    hash BLOB NOT NULL UNIQUE,
    subscription TEXT NOT NULL,
    resource_group TEXT NOT NULL,
    scale_set TEXT,
    created TEXT NOT NULL,
    expires TEXT,
    max_uses INTEGER,
    uses INTEGER NOT NULL DEFAULT 0,
    revoked TEXT,
    created_by TEXT);
CREATE TABLE IF NOT EXISTS role_definitions(
    id TEXT PRIMARY KEY,
    role_name TEXT NOT NULL,
    sort_name TEXT NOT NULL UNIQUE,
    description TEXT,
    actions TEXT NOT NULL,
    not_actions TEXT NOT NULL,
    assignable_scopes TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS role_assignments(
    id TEXT PRIMARY KEY,
    principal_id TEXT NOT NULL,
    role_definition_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    created TEXT NOT NULL,
    created_by TEXT);
CREATE INDEX IF NOT EXISTS ix_role_assignments_principal ON role_assignments(principal_id);
CREATE TABLE IF NOT EXISTS audit(
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL,
    time TEXT NOT NULL,
    caller_id TEXT,
    caller TEXT,
    action TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    resource_group TEXT,
    method TEXT NOT NULL,
    status INTEGER NOT NULL,
    client_address TEXT,
    correlation_id TEXT);
CREATE INDEX IF NOT EXISTS ix_audit_time ON audit(time);
-- Append-only: the activity log cannot be edited or pruned through SQL either.
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the activity log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the activity log is append-only'); END;
CREATE INDEX IF NOT EXISTS ix_vms_scale_set ON vms(lower(subscription), lower(resource_group), lower(scale_set));
