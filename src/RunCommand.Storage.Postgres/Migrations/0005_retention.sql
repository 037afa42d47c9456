-- Retention (docs/storage.md, "Retention"): find a deleted run command's executions and the oldest ended ones
-- without a scan, and remember which executions an agent must forget (delete its local files of).
CREATE INDEX ix_executions_command ON executions(lower(command_resource_id));
CREATE INDEX ix_executions_ended ON executions(end_time, id) WHERE end_time IS NOT NULL;
CREATE TABLE forgotten_executions(
    vm_key TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    created TIMESTAMPTZ NOT NULL,
    PRIMARY KEY(vm_key, execution_id));
