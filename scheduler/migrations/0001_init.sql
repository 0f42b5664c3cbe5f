-- Scheduler tasks in mula's shape. At most one unfinished task per hash:
-- the partial unique index makes deduplication hold under concurrent pushes.
CREATE TABLE tasks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    scheduler_id TEXT NOT NULL,
    organisation TEXT NOT NULL,
    task_type TEXT NOT NULL,
    priority INTEGER NOT NULL,
    status TEXT NOT NULL,
    hash TEXT NOT NULL,
    data TEXT NOT NULL,
    created_at TEXT NOT NULL,
    modified_at TEXT NOT NULL
);
CREATE INDEX tasks_queue ON tasks (task_type, status, priority, seq);
CREATE UNIQUE INDEX tasks_open_hash ON tasks (hash) WHERE status IN ('pending', 'queued', 'dispatched', 'running');
