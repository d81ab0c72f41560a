-- Version 4: searches that stay fast at a million instances, and metadata version stamps.
--
-- Matching keys (src/index/sqlite-search.ts compiles QIDO and C-FIND conditions against them):
-- * person names match case-insensitively (ASCII, as SQLite's LIKE does), so each PN column gets a
--   key column holding upper() of it; a value such as "doe*" becomes the range
--   key >= 'DOE' AND key < 'DOF', a scan of an index, never of the table;
-- * fuzzy matching (any name component, from its start) reads person_name_words: one row per
--   position after a word break ('^', '=' or ' '), holding the uppercased rest of the name;
-- * every other match key gets an index of its own, so equality gives the matches in id order
--   (the row id is the last column of every index) and ranges or wildcard prefixes scan a range;
-- * narrow id-ordered indexes serve limit/offset paging without reading the wide rows;
-- * study_project_ids: the project filter by study row id.
-- Existing databases are back-filled here, in the migration's own transaction.

ALTER TABLE studies ADD COLUMN patient_name_key TEXT;
ALTER TABLE studies ADD COLUMN referring_physician_name_key TEXT;
UPDATE studies SET patient_name_key = upper(patient_name), referring_physician_name_key = upper(referring_physician_name);

-- Each match key's index holds the row id next (an equality gives its rows in id order, the order
-- of results) and then the row's UID, so a search below the study (or series) level that a study
-- key drives reaches the series and instances from the index alone, never reading the study rows
-- (a range of 3,000 studies read row by row was 30 ms). The three indexes of version 1 are made
-- again so.
DROP INDEX IF EXISTS studies_patient_id;
DROP INDEX IF EXISTS studies_study_date;
DROP INDEX IF EXISTS studies_accession;
CREATE INDEX IF NOT EXISTS studies_patient_id ON studies(patient_id, id, study_uid);
CREATE INDEX IF NOT EXISTS studies_study_date ON studies(study_date, id, study_uid);
CREATE INDEX IF NOT EXISTS studies_accession ON studies(accession_number, id, study_uid);
CREATE INDEX IF NOT EXISTS studies_patient_name_key ON studies(patient_name_key, id, study_uid);
CREATE INDEX IF NOT EXISTS studies_referring_physician_name_key ON studies(referring_physician_name_key, id, study_uid);
CREATE INDEX IF NOT EXISTS studies_patient_birth_date ON studies(patient_birth_date, id, study_uid);
CREATE INDEX IF NOT EXISTS studies_patient_sex ON studies(patient_sex, id, study_uid);
CREATE INDEX IF NOT EXISTS studies_study_time ON studies(study_time, id, study_uid);
CREATE INDEX IF NOT EXISTS studies_study_id ON studies(study_id, id, study_uid);
CREATE INDEX IF NOT EXISTS studies_study_description ON studies(study_description, id, study_uid);
-- Narrow id-ordered indexes: paging (ORDER BY id LIMIT OFFSET) and the checks an id-ordered walk
-- makes (the study a row belongs to) read these, not the wide rows.
CREATE INDEX IF NOT EXISTS studies_by_id ON studies(id, study_uid);

CREATE INDEX IF NOT EXISTS series_modality ON series(modality, id, series_uid);
-- ModalitiesInStudy matches a study by its series' modalities, ignoring ASCII case.
CREATE INDEX IF NOT EXISTS series_modality_key ON series(upper(modality), study_uid);
CREATE INDEX IF NOT EXISTS series_series_number ON series(series_number, id, series_uid);
CREATE INDEX IF NOT EXISTS series_series_description ON series(series_description, id, series_uid);
CREATE INDEX IF NOT EXISTS series_performed_start ON series(performed_start_date, id, series_uid);
CREATE INDEX IF NOT EXISTS series_performed_start_time ON series(performed_start_time, id, series_uid);
CREATE INDEX IF NOT EXISTS series_scheduled_step_id ON series(scheduled_step_id, id, series_uid);
CREATE INDEX IF NOT EXISTS series_requested_procedure_id ON series(requested_procedure_id, id, series_uid);
CREATE INDEX IF NOT EXISTS series_by_id ON series(id, study_uid, series_uid);

CREATE INDEX IF NOT EXISTS instances_sop_class ON instances(sop_class_uid);
CREATE INDEX IF NOT EXISTS instances_instance_number ON instances(instance_number);
CREATE INDEX IF NOT EXISTS instances_by_id ON instances(id, series_uid, study_uid);

CREATE TABLE IF NOT EXISTS person_name_words (
  -- 0: PatientName, 1: ReferringPhysicianName (src/index/sqlite-search.ts PN_WORD_ATTR).
  attr INTEGER NOT NULL,
  word TEXT NOT NULL,
  study_id INTEGER NOT NULL,
  -- The study's UID too: a series or instance search reaches its rows from here without the study's.
  study_uid TEXT NOT NULL,
  PRIMARY KEY (attr, word, study_id)
) WITHOUT ROWID;

INSERT OR IGNORE INTO person_name_words (attr, word, study_id, study_uid)
  WITH RECURSIVE w(study_id, study_uid, attr, rest) AS (
    SELECT id, study_uid, 0, replace(replace(upper(patient_name), '^', ' '), '=', ' ') FROM studies WHERE patient_name IS NOT NULL
    UNION ALL
    SELECT id, study_uid, 1, replace(replace(upper(referring_physician_name), '^', ' '), '=', ' ') FROM studies WHERE referring_physician_name IS NOT NULL
    UNION ALL
    SELECT study_id, study_uid, attr, substr(rest, instr(rest, ' ') + 1) FROM w WHERE instr(rest, ' ') > 0
  )
  SELECT attr, rest, study_id, study_uid FROM w;

-- The projects of each study by the study's row id, kept by triggers from study_projects, so that
-- a search at the study level checks a study's projects from any of its indexes (each holds the
-- row id) with one primary-key lookup, and a small project's studies come in id order.
CREATE TABLE IF NOT EXISTS study_project_ids (
  study_id INTEGER NOT NULL,
  project TEXT NOT NULL,
  PRIMARY KEY (study_id, project)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS study_project_ids_by_project ON study_project_ids(project, study_id);
INSERT OR IGNORE INTO study_project_ids (study_id, project)
  SELECT s.id, sp.project FROM study_projects sp JOIN studies s ON s.study_uid = sp.study_uid;
CREATE TRIGGER IF NOT EXISTS study_projects_insert AFTER INSERT ON study_projects BEGIN
  INSERT OR IGNORE INTO study_project_ids (study_id, project) SELECT id, NEW.project FROM studies WHERE study_uid = NEW.study_uid;
END;
CREATE TRIGGER IF NOT EXISTS study_projects_delete AFTER DELETE ON study_projects BEGIN
  DELETE FROM study_project_ids WHERE project = OLD.project AND study_id IN (SELECT id FROM studies WHERE study_uid = OLD.study_uid);
END;
CREATE TRIGGER IF NOT EXISTS studies_projects_insert AFTER INSERT ON studies BEGIN
  INSERT OR IGNORE INTO study_project_ids (study_id, project) SELECT NEW.id, project FROM study_projects WHERE study_uid = NEW.study_uid;
END;
CREATE TRIGGER IF NOT EXISTS studies_projects_delete AFTER DELETE ON studies BEGIN
  DELETE FROM study_project_ids WHERE study_id = OLD.id;
END;

-- Metadata version stamps: every change to an instance row gives its series and study a new value
-- of one clock that only moves forward, so a metadata document cached under (scope, version) is
-- never served after a change, from this process or another writer (veilgate import), and a
-- series deleted and stored again never repeats an old stamp.
ALTER TABLE studies ADD COLUMN metadata_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE series ADD COLUMN metadata_version INTEGER NOT NULL DEFAULT 0;
CREATE TABLE IF NOT EXISTS metadata_clock (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  tick INTEGER NOT NULL
);
INSERT OR IGNORE INTO metadata_clock (id, tick) VALUES (1, 0);

CREATE TRIGGER IF NOT EXISTS instances_metadata_insert AFTER INSERT ON instances BEGIN
  UPDATE metadata_clock SET tick = tick + 1 WHERE id = 1;
  UPDATE series SET metadata_version = (SELECT tick FROM metadata_clock WHERE id = 1) WHERE series_uid = NEW.series_uid;
  UPDATE studies SET metadata_version = (SELECT tick FROM metadata_clock WHERE id = 1) WHERE study_uid = NEW.study_uid;
END;
CREATE TRIGGER IF NOT EXISTS instances_metadata_delete AFTER DELETE ON instances BEGIN
  UPDATE metadata_clock SET tick = tick + 1 WHERE id = 1;
  UPDATE series SET metadata_version = (SELECT tick FROM metadata_clock WHERE id = 1) WHERE series_uid = OLD.series_uid;
  UPDATE studies SET metadata_version = (SELECT tick FROM metadata_clock WHERE id = 1) WHERE study_uid = OLD.study_uid;
END;
CREATE TRIGGER IF NOT EXISTS instances_metadata_update AFTER UPDATE OF metadata, series_uid, study_uid, instance_number ON instances BEGIN
  UPDATE metadata_clock SET tick = tick + 1 WHERE id = 1;
  UPDATE series SET metadata_version = (SELECT tick FROM metadata_clock WHERE id = 1) WHERE series_uid IN (OLD.series_uid, NEW.series_uid);
  UPDATE studies SET metadata_version = (SELECT tick FROM metadata_clock WHERE id = 1) WHERE study_uid IN (OLD.study_uid, NEW.study_uid);
END;
