-- An execution's lengths are what it holds of each stream, so retention sums them instead of reading every output row
-- (docs/storage.md, "Retention"). Retention that deleted an execution's output and kept its record left the lengths
-- as they were: those become 0, as a drop sets them from now on.
UPDATE executions SET stdout_len = 0, stderr_len = 0
WHERE (stdout_len > 0 OR stderr_len > 0) AND NOT EXISTS (SELECT 1 FROM output o WHERE o.execution_id = executions.id);
