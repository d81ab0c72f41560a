-- Version 2.
-- The SHA-256 of each stored file: a re-sent SOP Instance UID with other content is told apart
-- from a true duplicate (and refused), never shadowing or shadowed in silence.
ALTER TABLE instances ADD COLUMN content_sha256 TEXT;

-- Who queued a job (client address, later the authenticated principal): jobs per client are bounded.
ALTER TABLE jobs ADD COLUMN client TEXT;
CREATE INDEX IF NOT EXISTS jobs_client ON jobs(client, state);

-- Keyed fingerprints (64 bits of HMAC-SHA256 with the site secret) of the identifier words each
-- study's instances carried at ingest, never the words: text a client types into a derived object
-- of the study is cleaned of the patient's own identifiers (src/deid/fingerprints.ts).
CREATE TABLE IF NOT EXISTS study_identifier_fingerprints (
  study_uid TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  PRIMARY KEY (study_uid, fingerprint)
) WITHOUT ROWID;

-- One row the health check writes: the index is writable only if a write succeeds (a full disk fails it).
CREATE TABLE IF NOT EXISTS health_check (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  checked_at TEXT NOT NULL
);
