-- Version 6: instances rejected (IOCM, a Key Object Selection rejection note in the same study)
-- and kept until their grace period ends (rejectedGraceDays).
--
-- A rejected instance's row moves here from instances in the transaction that rejects it, so no
-- search or retrieval reads it and none needs a filter; its blob stays, named here, until the
-- grace-period task (src/maintenance/rejected-purge.ts) deletes the row and then the blob. Its
-- UID stays taken meanwhile (findInstance still finds it): a re-send neither revives it nor
-- overwrites its file. The columns are those of instances that findInstance returns.
CREATE TABLE IF NOT EXISTS rejected_instances (
  sop_instance_uid TEXT PRIMARY KEY,
  series_uid TEXT NOT NULL,
  study_uid TEXT NOT NULL,
  sop_class_uid TEXT NOT NULL,
  transfer_syntax_uid TEXT NOT NULL,
  blob_key TEXT NOT NULL,
  size INTEGER NOT NULL,
  frames TEXT,
  bulk TEXT NOT NULL,
  content_sha256 TEXT,
  -- The rejection code (PS3.16 CID 7011), e.g. 113001 / DCM.
  reason_code TEXT NOT NULL,
  reason_scheme TEXT NOT NULL,
  -- When it was rejected, ms since the epoch (the grace period runs from here).
  rejected_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS rejected_instances_at ON rejected_instances(rejected_at);
CREATE INDEX IF NOT EXISTS rejected_instances_blob ON rejected_instances(blob_key);
