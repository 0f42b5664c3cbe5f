-- Fewer index pages written per lease write (each pop, patch and event
-- touched a page chosen by a random hash or task id):
-- - "unfinished" is finished_at IS NULL (set exactly when a task reaches a final status), so a pop or a
--   patch to running, which leave finished_at alone, no longer rewrites the hash indexes;
-- - a task's events are found by the task's sequence number, so the events of tasks popped together share
--   index pages.
UPDATE tasks SET finished_at = modified_at WHERE finished_at IS NULL AND status NOT IN ('pending', 'queued', 'dispatched', 'running');
UPDATE tasks SET finished_at = NULL WHERE finished_at IS NOT NULL AND status IN ('pending', 'queued', 'dispatched', 'running');
DROP INDEX tasks_open_hash;
CREATE UNIQUE INDEX tasks_open_hash ON tasks (hash) WHERE finished_at IS NULL;
DROP INDEX tasks_hash_finished;
CREATE INDEX tasks_hash_finished ON tasks (hash, finished_at) WHERE finished_at IS NOT NULL;
ALTER TABLE task_events ADD COLUMN task_seq INTEGER;
UPDATE task_events SET task_seq = (SELECT seq FROM tasks WHERE tasks.id = task_events.task_id);
DROP INDEX task_events_task;
CREATE INDEX task_events_task ON task_events (task_seq, seq);
