-- Small raw contents (at most BYTES_INLINE_MAX bytes as stored, encrypted or
-- not) live in their metadata row, committed with it; NULL: the contents are
-- in the object store at ORGANISATION/RAW_ID.
ALTER TABLE raw_data ADD COLUMN content BYTEA;
