-- An execution's lengths are what it holds of each stream, so retention sums them instead of reading every output row
-- (docs/storage.md, "Retention"). Retention that deleted an execution's output and kept its record left the lengths
-- as they were: those become 0, as a drop sets them from now on.
UPDATE executions SET stdout_len = 0, stderr_len = 0
WHERE (stdout_len > 0 OR stderr_len > 0) AND NOT EXISTS (SELECT 1 FROM output o WHERE o.execution_id = executions.id);

-- Output bytes live in files beside the database (docs/storage.md, "Output files"); the rows of the output table move
-- there when the backend starts. A dropped execution's files are removed once the drop commits: until then they are
-- named here, so a crash in between leaves a name to finish, never a file nobody knows of.
CREATE TABLE IF NOT EXISTS output_dropped(execution_id TEXT PRIMARY KEY);
