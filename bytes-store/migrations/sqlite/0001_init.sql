-- Bytes metadata: boefje runs, raw files, normalizer runs, and the outbox of
-- raw_file_received events (written in the same transaction as the raw file).
CREATE TABLE boefje_meta (
    id TEXT PRIMARY KEY NOT NULL,
    organization TEXT NOT NULL,
    boefje_id TEXT NOT NULL,
    input_ooi TEXT,
    body TEXT NOT NULL
);

CREATE TABLE raw_data (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    boefje_meta_id TEXT NOT NULL REFERENCES boefje_meta (id),
    mime_types TEXT NOT NULL,
    secure_hash TEXT NOT NULL,
    hashed_at TEXT NOT NULL,
    size INTEGER NOT NULL
);
CREATE INDEX raw_data_boefje_meta ON raw_data (boefje_meta_id);

CREATE TABLE normalizer_meta (
    id TEXT PRIMARY KEY NOT NULL,
    raw_id TEXT NOT NULL REFERENCES raw_data (id),
    body TEXT NOT NULL
);

CREATE TABLE outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    delivered INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outbox_pending ON outbox (delivered, seq);
