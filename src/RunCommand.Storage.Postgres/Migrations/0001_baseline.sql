-- The whole schema as of the first PostgreSQL release; the same tables and columns as SQLite's baseline, in
-- PostgreSQL's types (timestamptz, boolean, bytea, bigint). Sort keys use the "C" collation so every backend orders
-- names the same way (byte order of the lower-cased name), whatever the database's locale.
CREATE TABLE tokens(
    purpose TEXT PRIMARY KEY,
    hash BYTEA NOT NULL);
CREATE TABLE vms(
    key TEXT PRIMARY KEY,
    subscription TEXT NOT NULL,
    resource_group TEXT COLLATE "C" NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    scale_set TEXT COLLATE "C",
    location TEXT NOT NULL,
    vm_id TEXT NOT NULL,
    tags TEXT,
    agent_token_hash BYTEA UNIQUE,
    agent_public_key BYTEA,
    last_contact TIMESTAMPTZ,
    hostname TEXT,
    agent_version TEXT,
    created TIMESTAMPTZ NOT NULL,
    goal_version BIGINT NOT NULL DEFAULT 1);
CREATE INDEX ix_vms_group ON vms(lower(subscription), lower(resource_group));
CREATE TABLE scale_sets(
    key TEXT PRIMARY KEY,
    subscription TEXT NOT NULL,
    resource_group TEXT NOT NULL,
    name TEXT NOT NULL,
    location TEXT NOT NULL,
    instance_count INTEGER NOT NULL DEFAULT 0,
    created TIMESTAMPTZ NOT NULL);
CREATE TABLE run_commands(
    key TEXT PRIMARY KEY,
    vm_key TEXT NOT NULL,
    name TEXT NOT NULL,
    sort_name TEXT COLLATE "C" NOT NULL,
    location TEXT NOT NULL,
    tags TEXT,
    spec TEXT NOT NULL,
    secrets BYTEA,
    fingerprint TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    operation_id TEXT NOT NULL,
    first_execution BOOLEAN NOT NULL,
    deleting BOOLEAN NOT NULL DEFAULT FALSE,
    created TIMESTAMPTZ NOT NULL);
CREATE INDEX ix_run_commands_vm ON run_commands(vm_key, sort_name);
CREATE INDEX ix_run_commands_execution ON run_commands(execution_id);
CREATE TABLE executions(
    id TEXT PRIMARY KEY,
    vm_key TEXT NOT NULL,
    command_resource_id TEXT NOT NULL,
    spec TEXT NOT NULL,
    secrets BYTEA,
    state TEXT NOT NULL,
    exit_code INTEGER,
    message TEXT,
    start_time TIMESTAMPTZ,
    end_time TIMESTAMPTZ,
    cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
    delivered BOOLEAN NOT NULL DEFAULT FALSE,
    stdout_len BIGINT NOT NULL DEFAULT 0,
    stderr_len BIGINT NOT NULL DEFAULT 0,
    created TIMESTAMPTZ NOT NULL);
CREATE INDEX ix_executions_active ON executions(vm_key, created) WHERE state IN ('Pending', 'Running');
CREATE TABLE output(
    execution_id TEXT NOT NULL,
    stream INTEGER NOT NULL,
    start_offset BIGINT NOT NULL,
    end_offset BIGINT NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY(execution_id, stream, start_offset));
CREATE TABLE operations(
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    execution_id TEXT,
    created TIMESTAMPTZ NOT NULL,
    completed TIMESTAMPTZ);
CREATE TABLE deployments(
    key TEXT PRIMARY KEY,
    subscription TEXT NOT NULL,
    resource_group TEXT NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    deployment_id TEXT NOT NULL,
    state TEXT NOT NULL,
    created TIMESTAMPTZ NOT NULL,
    ended TIMESTAMPTZ,
    error TEXT);
CREATE INDEX ix_deployments_group ON deployments(lower(subscription), lower(resource_group), lower(name));
CREATE TABLE deployment_operations(
    deployment_key TEXT NOT NULL,
    idx INTEGER NOT NULL,
    operation_id TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    resource_name TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    depends_on TEXT NOT NULL,
    body BYTEA NOT NULL,
    state TEXT,
    execution_id TEXT,
    status_code TEXT,
    error TEXT,
    started TIMESTAMPTZ,
    ended TIMESTAMPTZ,
    PRIMARY KEY(deployment_key, idx));
CREATE TABLE fleet_runs(
    key TEXT PRIMARY KEY,
    subscription TEXT NOT NULL,
    resource_group TEXT NOT NULL,
    name TEXT NOT NULL,
    sort_name TEXT COLLATE "C" NOT NULL,
    location TEXT NOT NULL,
    definition TEXT NOT NULL,
    secrets BYTEA,
    state TEXT NOT NULL,
    cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
    created TIMESTAMPTZ NOT NULL,
    completed TIMESTAMPTZ);
CREATE INDEX ix_fleet_runs_active ON fleet_runs(state) WHERE state = 'Running';
CREATE TABLE fleet_targets(
    run_key TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    machine_id TEXT NOT NULL,
    execution_id TEXT,
    not_started BOOLEAN NOT NULL DEFAULT FALSE,
    start_failed BOOLEAN NOT NULL DEFAULT FALSE,
    message TEXT,
    PRIMARY KEY(run_key, ordinal));
CREATE TABLE command_documents(
    key TEXT COLLATE "C" PRIMARY KEY,
    document TEXT NOT NULL,
    created TIMESTAMPTZ NOT NULL,
    updated TIMESTAMPTZ NOT NULL);
CREATE TABLE principals(
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    sort_name TEXT COLLATE "C" NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    display_name TEXT,
    created TIMESTAMPTZ NOT NULL);
CREATE TABLE api_tokens(
    id TEXT PRIMARY KEY,
    principal_id TEXT NOT NULL,
    hash BYTEA NOT NULL UNIQUE,
    description TEXT,
    created TIMESTAMPTZ NOT NULL,
    expires TIMESTAMPTZ,
    revoked TIMESTAMPTZ);
CREATE TABLE enrollment_tokens(
    id TEXT PRIMARY KEY,
    hash BYTEA NOT NULL UNIQUE,
    subscription TEXT NOT NULL,
    resource_group TEXT NOT NULL,
    scale_set TEXT,
    created TIMESTAMPTZ NOT NULL,
    expires TIMESTAMPTZ,
    max_uses INTEGER,
    uses INTEGER NOT NULL DEFAULT 0,
    revoked TIMESTAMPTZ,
    created_by TEXT);
CREATE TABLE role_definitions(
    id TEXT PRIMARY KEY,
    role_name TEXT NOT NULL,
    sort_name TEXT COLLATE "C" NOT NULL UNIQUE,
    description TEXT,
    actions TEXT NOT NULL,
    not_actions TEXT NOT NULL,
    assignable_scopes TEXT NOT NULL);
CREATE TABLE role_assignments(
    id TEXT PRIMARY KEY,
    principal_id TEXT NOT NULL,
    role_definition_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    created TIMESTAMPTZ NOT NULL,
    created_by TEXT);
CREATE INDEX ix_role_assignments_principal ON role_assignments(principal_id);
CREATE TABLE audit(
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT NOT NULL,
    time TIMESTAMPTZ NOT NULL,
    caller_id TEXT,
    caller TEXT,
    action TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    resource_group TEXT,
    method TEXT NOT NULL,
    status INTEGER NOT NULL,
    client_address TEXT,
    correlation_id TEXT);
CREATE INDEX ix_audit_time ON audit(time);
-- Append-only: the activity log cannot be edited or pruned through SQL either.
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the activity log is append-only';
END
$$;
CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
