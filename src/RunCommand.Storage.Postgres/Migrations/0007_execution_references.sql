-- Rows that name an execution, found by it without reading their whole table (docs/storage.md, "Retention"). Before
-- this, the deleting-command check that runs on every agent report read all of run_commands (a fleet run to 1,000 did
-- it a thousand times, and the cost grew with every run command kept), and retention read fleet_targets,
-- deployment_operations and operations once per ended execution. The run-command index holds only commands being
-- deleted, so a PUT pays nothing for it (retention finds a command's current execution by the command's key).
CREATE INDEX ix_run_commands_deleting ON run_commands(execution_id) WHERE deleting = TRUE;
CREATE INDEX ix_fleet_targets_execution ON fleet_targets(execution_id);
CREATE INDEX ix_deployment_operations_execution ON deployment_operations(execution_id);
CREATE INDEX ix_operations_execution ON operations(execution_id);
