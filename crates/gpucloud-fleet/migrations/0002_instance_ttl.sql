-- Per-instance TTL (terminate once this time passes), and a row version: every update of an
-- instance names the version it read, so two writers never silently overwrite each other.
ALTER TABLE instances ADD COLUMN expires_at INTEGER;
ALTER TABLE instances ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
