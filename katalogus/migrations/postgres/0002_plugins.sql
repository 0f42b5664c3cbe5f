-- Plugins added over the API (built-in and directory plugins are not stored).
CREATE TABLE plugins (
    id TEXT PRIMARY KEY NOT NULL,
    plugin_type TEXT NOT NULL,
    manifest TEXT NOT NULL,
    schema_json TEXT
);
