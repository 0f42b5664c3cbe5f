-- The scheduler's tables on PostgreSQL (times are microseconds since the Unix epoch).
-- tasks: mula's task rows plus the lease (lease_until), the attempt count and the last reason.
-- At most one unfinished task per hash: the partial unique index makes deduplication hold under concurrent pushes.
CREATE TABLE schedules (
    id TEXT PRIMARY KEY,
    scheduler_id TEXT NOT NULL,
    organisation TEXT NOT NULL,
    hash TEXT,
    data TEXT,
    enabled BIGINT NOT NULL DEFAULT 1,
    schedule TEXT,
    interval_seconds BIGINT,
    deadline_at BIGINT,
    boefje_id TEXT,
    input_ooi TEXT,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX schedules_hash ON schedules (hash) WHERE hash IS NOT NULL;
CREATE INDEX schedules_due ON schedules (enabled, deadline_at);
CREATE INDEX schedules_plugin ON schedules (organisation, boefje_id);
CREATE INDEX schedules_object ON schedules (organisation, input_ooi);

CREATE TABLE tasks (
    seq BIGSERIAL PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    scheduler_id TEXT NOT NULL,
    schedule_id TEXT REFERENCES schedules (id) ON DELETE SET NULL,
    organisation TEXT NOT NULL,
    task_type TEXT NOT NULL,
    priority BIGINT NOT NULL,
    status TEXT NOT NULL,
    hash TEXT NOT NULL,
    data TEXT NOT NULL,
    origin TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    lease_until BIGINT,
    reason TEXT,
    created_at BIGINT NOT NULL,
    modified_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX tasks_queue ON tasks (scheduler_id, status, priority, seq);
CREATE UNIQUE INDEX tasks_open_hash ON tasks (hash) WHERE status IN ('pending', 'queued', 'dispatched', 'running');
CREATE INDEX tasks_hash_finished ON tasks (hash, finished_at);
CREATE INDEX tasks_lease ON tasks (status, lease_until);
CREATE INDEX tasks_created ON tasks (created_at);

-- Every status change of a task; webhook_outbox holds the ones not yet POSTed to SCHEDULER_WEBHOOK_URL.
CREATE TABLE task_events (
    seq BIGSERIAL PRIMARY KEY,
    task_id TEXT NOT NULL,
    at BIGINT NOT NULL,
    from_status TEXT,
    to_status TEXT NOT NULL,
    reason TEXT
);
CREATE INDEX task_events_task ON task_events (task_id, seq);
CREATE TABLE webhook_outbox (
    event_seq BIGINT PRIMARY KEY,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_at BIGINT NOT NULL
);
CREATE INDEX webhook_outbox_next ON webhook_outbox (next_at);

-- The objects normalizers reported, with clearance and fields (for subscriptions, conditions and explain).
CREATE TABLE objects (
    organisation TEXT NOT NULL,
    reference TEXT NOT NULL,
    object_type TEXT NOT NULL,
    scan_level BIGINT NOT NULL,
    fields TEXT NOT NULL,
    deleted BIGINT NOT NULL DEFAULT 0,
    modified_at BIGINT NOT NULL,
    PRIMARY KEY (organisation, reference)
);
CREATE INDEX objects_type ON objects (organisation, object_type, deleted);

-- raw_file_received events already handled (a redelivery adds nothing), and the raw files they announced.
CREATE TABLE processed_events (
    event_id TEXT PRIMARY KEY,
    at BIGINT NOT NULL
);
CREATE TABLE raw_files (
    id TEXT PRIMARY KEY,
    organisation TEXT NOT NULL,
    mime_types TEXT NOT NULL,
    data TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX raw_files_org ON raw_files (organisation);

-- Plugin enablement as last seen in the KATalogus, per organisation (a change is claimed here, once).
CREATE TABLE plugin_state (
    organisation TEXT NOT NULL,
    plugin_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    enabled BIGINT NOT NULL,
    PRIMARY KEY (organisation, plugin_id)
);
