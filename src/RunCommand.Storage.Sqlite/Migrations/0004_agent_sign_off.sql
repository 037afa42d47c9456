-- When a machine's agent last said it is stopping (docs/agent-protocol.md, "Signing off"): shown Disconnected at once,
-- on every node, until it calls again.
ALTER TABLE vms ADD COLUMN signed_off TEXT;
