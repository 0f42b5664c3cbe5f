-- KATalogus: organisations, per-organisation plugin enablement and settings.
CREATE TABLE organisations (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL
);

CREATE TABLE plugin_states (
    organisation TEXT NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    plugin_id TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    PRIMARY KEY (organisation, plugin_id)
);

CREATE TABLE settings (
    organisation TEXT NOT NULL REFERENCES organisations (id) ON DELETE CASCADE,
    plugin_id TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (organisation, plugin_id)
);
