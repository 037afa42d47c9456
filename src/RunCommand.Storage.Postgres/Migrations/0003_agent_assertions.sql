-- Agent assertions already accepted, by SHA-256 of their signed payload, until they expire: a second use is a replay
-- (docs/agent-protocol.md). Shared by every node on the database; expired rows are purged.
CREATE TABLE agent_assertions(
    id BYTEA PRIMARY KEY,
    expires TIMESTAMPTZ NOT NULL);
CREATE INDEX ix_agent_assertions_expires ON agent_assertions(expires);
