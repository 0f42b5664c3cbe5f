-- One database per service (each runs its own migrations): compose.yaml
-- mounts this into the postgres container's /docker-entrypoint-initdb.d.
CREATE DATABASE katalogus;
CREATE DATABASE bytes;
CREATE DATABASE scheduler;
