-- Leases on background work (deployment runs, fleet runs): which node drives it, until when (docs/scale-out.md).
CREATE TABLE leases(
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    owner TEXT NOT NULL,
    until TIMESTAMPTZ NOT NULL,
    PRIMARY KEY(kind, key));
