-- OpenKAT's rules: a raw file's hash covers its run's ended_at (the rule is
-- recorded per row; rows stored before this migration used the save time in
-- isoformat and keep verifying with it), and meta lists are ordered by
-- started_at (microseconds since the epoch, backfilled from the stored body).
ALTER TABLE raw_data ADD COLUMN hash_rule TEXT NOT NULL DEFAULT 'isoformat';
ALTER TABLE boefje_meta ADD COLUMN started_at_us BIGINT;
ALTER TABLE normalizer_meta ADD COLUMN started_at_us BIGINT;
UPDATE boefje_meta SET started_at_us = (extract(epoch from (body::jsonb ->> 'started_at')::timestamptz) * 1000000)::bigint
    WHERE body::jsonb ->> 'started_at' IS NOT NULL;
UPDATE normalizer_meta SET started_at_us = (extract(epoch from (body::jsonb ->> 'started_at')::timestamptz) * 1000000)::bigint
    WHERE body::jsonb ->> 'started_at' IS NOT NULL;
CREATE INDEX boefje_meta_organization ON boefje_meta (organization, started_at_us);
