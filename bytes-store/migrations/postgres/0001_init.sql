-- Bytes metadata on PostgreSQL: the same tables as on SQLite, with explicit
-- sequence columns where SQLite uses its rowid.
CREATE TABLE boefje_meta (
    seq BIGSERIAL UNIQUE,
    id TEXT PRIMARY KEY NOT NULL,
    organization TEXT NOT NULL,
    boefje_id TEXT NOT NULL,
    input_ooi TEXT,
    body TEXT NOT NULL
);

CREATE TABLE raw_data (
    seq BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    boefje_meta_id TEXT NOT NULL REFERENCES boefje_meta (id),
    mime_types TEXT NOT NULL,
    secure_hash TEXT NOT NULL,
    hashed_at TEXT NOT NULL,
    size BIGINT NOT NULL
);
CREATE INDEX raw_data_boefje_meta ON raw_data (boefje_meta_id);

CREATE TABLE normalizer_meta (
    seq BIGSERIAL UNIQUE,
    id TEXT PRIMARY KEY NOT NULL,
    raw_id TEXT NOT NULL REFERENCES raw_data (id),
    body TEXT NOT NULL
);

CREATE TABLE outbox (
    seq BIGSERIAL PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    delivered BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX outbox_pending ON outbox (delivered, seq);
