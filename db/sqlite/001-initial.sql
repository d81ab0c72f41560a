-- Veilgate index schema (SQLite), version 1: the schema as first released.
-- Columns hold normalised values for matching; *_attrs hold the PS3.18 JSON returned by searches.
-- Migrations are applied in order by src/index/sqlite-migrations.ts; PRAGMA user_version is the version.

CREATE TABLE IF NOT EXISTS studies (
  id INTEGER PRIMARY KEY,
  study_uid TEXT NOT NULL UNIQUE,
  patient_name TEXT,
  patient_id TEXT,
  patient_birth_date TEXT,
  patient_sex TEXT,
  study_date TEXT,
  study_time TEXT,
  accession_number TEXT,
  study_id TEXT,
  referring_physician_name TEXT,
  study_description TEXT,
  modalities TEXT NOT NULL DEFAULT '',
  num_series INTEGER NOT NULL DEFAULT 0,
  num_instances INTEGER NOT NULL DEFAULT 0,
  attrs TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS studies_patient_id ON studies(patient_id);
CREATE INDEX IF NOT EXISTS studies_study_date ON studies(study_date);
CREATE INDEX IF NOT EXISTS studies_accession ON studies(accession_number);

CREATE TABLE IF NOT EXISTS series (
  id INTEGER PRIMARY KEY,
  series_uid TEXT NOT NULL UNIQUE,
  study_uid TEXT NOT NULL REFERENCES studies(study_uid),
  modality TEXT,
  series_number INTEGER,
  series_description TEXT,
  performed_start_date TEXT,
  performed_start_time TEXT,
  scheduled_step_id TEXT,
  requested_procedure_id TEXT,
  num_instances INTEGER NOT NULL DEFAULT 0,
  attrs TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS series_study ON series(study_uid);

CREATE TABLE IF NOT EXISTS instances (
  id INTEGER PRIMARY KEY,
  sop_instance_uid TEXT NOT NULL UNIQUE,
  series_uid TEXT NOT NULL REFERENCES series(series_uid),
  study_uid TEXT NOT NULL REFERENCES studies(study_uid),
  sop_class_uid TEXT NOT NULL,
  instance_number INTEGER,
  transfer_syntax_uid TEXT NOT NULL,
  blob_key TEXT NOT NULL,
  size INTEGER NOT NULL,
  frames TEXT,
  bulk TEXT NOT NULL,
  metadata TEXT NOT NULL,
  attrs TEXT NOT NULL,
  stored_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS instances_series ON instances(series_uid, instance_number);
CREATE INDEX IF NOT EXISTS instances_study ON instances(study_uid);
CREATE INDEX IF NOT EXISTS instances_blob ON instances(blob_key);

-- Processing jobs (durable queue): one row per job, its state and result.
CREATE TABLE IF NOT EXISTS jobs (
  id TEXT PRIMARY KEY,
  seq INTEGER NOT NULL,
  op TEXT NOT NULL,
  study_uid TEXT NOT NULL,
  series_uid TEXT NOT NULL,
  params TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed', 'cancelled')),
  progress INTEGER NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0,
  error TEXT,
  result TEXT,
  created_at TEXT NOT NULL,
  started_at TEXT,
  finished_at TEXT
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state, seq);
