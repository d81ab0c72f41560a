-- Version 2: instances rejected (IOCM, a Key Object Selection rejection note in the same study)
-- and kept until their grace period ends (rejectedGraceDays), as db/sqlite/006 keeps them.
--
-- A rejected instance's row moves here from instances in the transaction that rejects it, so no
-- search or retrieval reads it; its blob stays until the grace-period task deletes the row and
-- then the blob. Its UID stays taken meanwhile (findInstance still finds it).
CREATE TABLE rejected_instances (
  sop_instance_uid text COLLATE "C" PRIMARY KEY,
  series_uid text COLLATE "C" NOT NULL,
  study_uid text COLLATE "C" NOT NULL,
  sop_class_uid text COLLATE "C" NOT NULL,
  transfer_syntax_uid text COLLATE "C" NOT NULL,
  blob_key text COLLATE "C" NOT NULL,
  size bigint NOT NULL,
  frames text,
  bulk text NOT NULL,
  content_sha256 text COLLATE "C",
  -- The rejection code (PS3.16 CID 7011), e.g. 113001 / DCM.
  reason_code text COLLATE "C" NOT NULL,
  reason_scheme text COLLATE "C" NOT NULL,
  -- When it was rejected, ms since the epoch (the grace period runs from here).
  rejected_at bigint NOT NULL
);
CREATE INDEX rejected_instances_at ON rejected_instances (rejected_at);
CREATE INDEX rejected_instances_blob ON rejected_instances (blob_key);
-- A study's words, for deleting a study (and the foreign-key check its row's deletion makes).
CREATE INDEX person_name_words_study ON person_name_words (study_uid);
