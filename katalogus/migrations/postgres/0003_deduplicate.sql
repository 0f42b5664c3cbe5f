-- OpenKAT's organisation flag: may boefje tasks be shared with organisations that have equal settings (default yes).
ALTER TABLE organisations ADD COLUMN deduplicate BIGINT NOT NULL DEFAULT 1;
