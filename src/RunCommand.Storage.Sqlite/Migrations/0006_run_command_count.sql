-- Each VM's count of run commands (deleting ones included), kept on its row: what the per-VM limit is checked against
-- on a PUT that creates one, read with the VM instead of counted from run_commands each time (docs/storage.md, "Group
-- commit"; docs/performance.md, item 28). A new run command adds one with the goal-version bump its PUT makes anyway;
-- deleting its row takes one off.
ALTER TABLE vms ADD COLUMN run_command_count INTEGER NOT NULL DEFAULT 0;
UPDATE vms SET run_command_count = (SELECT count(*) FROM run_commands r WHERE r.vm_key = vms.key);
