-- The first schema. Times are Unix milliseconds; flags are 0/1 integers; JSON is text. Every
-- statement here also runs on Postgres (BIGINT for INTEGER), so one migration set serves both.

-- A credential the fleet watches: its name, provider and reference id, never its secret.
CREATE TABLE credentials (
    name         TEXT PRIMARY KEY,
    provider     TEXT NOT NULL,
    provider_id  TEXT NOT NULL,
    reference_id TEXT NOT NULL,
    inventory_at INTEGER,
    last_error   TEXT
);

-- A unit of polling work and its lease: `status/<credential>/<location>` (one list call per
-- pass) or `inventory/<credential>` (one catalog read). The holder writes only while its
-- (owner, epoch) is still the row's: every write checks it in the same transaction.
CREATE TABLE partitions (
    key         TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    credential  TEXT NOT NULL,
    location    TEXT NOT NULL,
    owner       TEXT,
    epoch       INTEGER NOT NULL DEFAULT 0,
    expires_at  INTEGER NOT NULL DEFAULT 0,
    next_run_at INTEGER NOT NULL DEFAULT 0,
    failures    INTEGER NOT NULL DEFAULT 0,
    stale       INTEGER NOT NULL DEFAULT 0,
    last_ok_at  INTEGER,
    last_error  TEXT
);

-- One instance: what was asked (request, desired), where the fleet is with it (phase), and
-- what the provider last said (status, model). `ref_id` is the idempotency key of its create.
CREATE TABLE instances (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    ref_id        TEXT NOT NULL UNIQUE,
    credential    TEXT NOT NULL,
    provider      TEXT NOT NULL,
    location      TEXT NOT NULL,
    partition_key TEXT,
    cloud_id      TEXT,
    desired       TEXT NOT NULL,
    phase         TEXT NOT NULL,
    status        TEXT,
    stale         INTEGER NOT NULL DEFAULT 0,
    first_seen_at INTEGER,
    last_seen_at  INTEGER,
    price         TEXT,
    tags          TEXT NOT NULL DEFAULT '{}',
    model         TEXT,
    request       TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_run_at   INTEGER NOT NULL DEFAULT 0,
    sent_at       INTEGER,
    last_error    TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE UNIQUE INDEX instances_cloud_id ON instances (credential, cloud_id);
CREATE INDEX instances_partition ON instances (partition_key);
CREATE INDEX instances_due ON instances (next_run_at);

-- Every change of an instance, in order; `id` is the SSE id clients resume from.
CREATE TABLE events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    ref_id     TEXT NOT NULL,
    from_state TEXT,
    to_state   TEXT NOT NULL,
    at         INTEGER NOT NULL,
    cause      TEXT NOT NULL,
    detail     TEXT
);
CREATE INDEX events_ref_id ON events (ref_id, id);

-- The catalog per credential, location and type (a credential's account may see other
-- availability than another's of the same provider).
CREATE TABLE catalog (
    credential       TEXT NOT NULL,
    provider         TEXT NOT NULL,
    location         TEXT NOT NULL,
    instance_type_id TEXT NOT NULL,
    instance_type    TEXT NOT NULL,
    price            TEXT,
    available        INTEGER NOT NULL,
    entry            TEXT NOT NULL,
    fetched_at       INTEGER NOT NULL,
    PRIMARY KEY (credential, instance_type_id)
);
