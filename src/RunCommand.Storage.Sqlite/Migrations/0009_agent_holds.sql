-- Which server node holds the agent's long poll open (docs/scale-out.md, "Agent presence"): while that node's lease
-- (kind 'Node') runs, every node shows the machine Connected, so a held poll needs no contact written every few seconds.
ALTER TABLE vms ADD COLUMN held_by TEXT;
