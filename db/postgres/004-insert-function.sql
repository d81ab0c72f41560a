-- Veilgate index schema (PostgreSQL), version 4: one instance goes in with one call
-- (src/index/postgres/insert-record.ts), not a dozen statements each a round trip.
--
-- The caller's transaction holds the study's advisory lock already (lockStudies). The function
-- does what SqliteIndex.insert does, in the same order: a stored or rejected SOP Instance UID is a
-- duplicate; the study is created unless it exists (with its person-name words), its row locked,
-- its projects judged (a study joins only a source it is open to: auth/projects.ts studyOpenTo,
-- '*' being ALL_PROJECTS) or set; the series is created (the study's series count and modality
-- list follow) or must be under the same study; then the instance row, the identifier
-- fingerprints, and new metadata stamps for the series and the study.
--
-- Whatever a refused or duplicate record changed is undone by the block's subtransaction, so a
-- group of records in one transaction keeps the others. It answers 'inserted', 'duplicate',
-- 'forbidden' (the study is not open to the source) or 'series-elsewhere' (the series is stored
-- under another study); any other failure is raised to the caller.

CREATE FUNCTION vg_insert_instance(
  i_sop text, i_series text, i_study text, i_sop_class text, i_instance_number bigint, i_transfer_syntax text,
  i_blob_key text, i_size bigint, i_frames text, i_bulk text, i_metadata text, i_attrs text, i_sha256 text,
  s_patient_name text, s_patient_name_key text, s_patient_id text, s_patient_birth_date text, s_patient_sex text,
  s_study_date text, s_study_time text, s_accession_number text, s_study_id text, s_referring text, s_referring_key text,
  s_study_description text, s_attrs text, s_word_attrs smallint[], s_words text[],
  se_modality text, se_modality_key text, se_series_number bigint, se_series_description text, se_performed_date text,
  se_performed_time text, se_scheduled_step_id text, se_requested_procedure_id text, se_attrs text,
  p_projects text[], p_joiner text, p_fingerprints text[]
) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  held text[];
  series_study text;
BEGIN
  -- A rejected instance awaiting deletion keeps its UID: a re-send is a duplicate, never stored over it.
  IF EXISTS (SELECT 1 FROM instances WHERE sop_instance_uid = i_sop) OR EXISTS (SELECT 1 FROM rejected_instances WHERE sop_instance_uid = i_sop) THEN
    RETURN 'duplicate';
  END IF;
  BEGIN
    INSERT INTO studies (study_uid, patient_name, patient_name_key, patient_id, patient_birth_date, patient_sex, study_date,
      study_time, accession_number, study_id, referring_physician_name, referring_physician_name_key, study_description, attrs)
    VALUES (i_study, s_patient_name, s_patient_name_key, s_patient_id, s_patient_birth_date, s_patient_sex, s_study_date,
      s_study_time, s_accession_number, s_study_id, s_referring, s_referring_key, s_study_description, s_attrs)
    ON CONFLICT (study_uid) DO NOTHING;
    IF FOUND AND cardinality(s_words) > 0 THEN
      INSERT INTO person_name_words (attr, word, study_uid) SELECT unnest(s_word_attrs), unnest(s_words), i_study ON CONFLICT DO NOTHING;
    END IF;
    -- FOR NO KEY UPDATE: the foreign-key checks' KEY SHARE locks of other inserts do not wait for it.
    PERFORM 1 FROM studies WHERE study_uid = i_study FOR NO KEY UPDATE;
    SELECT array_agg(project) INTO held FROM study_projects WHERE study_uid = i_study;
    IF held IS NOT NULL THEN
      IF NOT (p_joiner = '*' OR p_joiner = ANY (held)) THEN
        RAISE EXCEPTION 'not open' USING ERRCODE = 'VG403';
      END IF;
    ELSIF cardinality(p_projects) > 0 THEN
      INSERT INTO study_projects (study_uid, project) SELECT i_study, unnest(p_projects) ON CONFLICT DO NOTHING;
    END IF;

    INSERT INTO series (series_uid, study_uid, modality, modality_key, series_number, series_description, performed_start_date,
      performed_start_time, scheduled_step_id, requested_procedure_id, attrs)
    VALUES (i_series, i_study, se_modality, se_modality_key, se_series_number, se_series_description, se_performed_date,
      se_performed_time, se_scheduled_step_id, se_requested_procedure_id, se_attrs)
    ON CONFLICT (series_uid) DO NOTHING;
    IF FOUND THEN
      -- The study's distinct modalities in the order its series first brought them (as SQLite lists them).
      UPDATE studies SET num_series = num_series + 1, modalities = coalesce((
        SELECT string_agg(modality, ',' ORDER BY first) FROM (
          SELECT modality, min(id) AS first FROM series WHERE study_uid = i_study AND modality IS NOT NULL GROUP BY modality) m), '')
      WHERE study_uid = i_study;
    ELSE
      SELECT study_uid INTO series_study FROM series WHERE series_uid = i_series;
      IF series_study IS DISTINCT FROM i_study THEN
        RAISE EXCEPTION 'series elsewhere' USING ERRCODE = 'VG409';
      END IF;
    END IF;

    INSERT INTO instances (sop_instance_uid, series_uid, study_uid, sop_class_uid, instance_number, transfer_syntax_uid,
      blob_key, size, frames, bulk, metadata, attrs, content_sha256)
    VALUES (i_sop, i_series, i_study, i_sop_class, i_instance_number, i_transfer_syntax,
      i_blob_key, i_size, i_frames, i_bulk, i_metadata, i_attrs, i_sha256)
    ON CONFLICT (sop_instance_uid) DO NOTHING;
    IF NOT FOUND THEN
      -- Stored at the same moment by another transaction (under another study): undo this record's work.
      RAISE EXCEPTION 'duplicate' USING ERRCODE = 'VGDUP';
    END IF;
    IF cardinality(p_fingerprints) > 0 THEN
      INSERT INTO study_identifier_fingerprints (study_uid, fingerprint) SELECT i_study, unnest(p_fingerprints) ON CONFLICT DO NOTHING;
    END IF;
    -- A new stamp for the series and the study: their metadata changed (metadataStamp).
    UPDATE series SET num_instances = num_instances + 1, metadata_version = nextval('metadata_clock') WHERE series_uid = i_series;
    UPDATE studies SET num_instances = num_instances + 1, metadata_version = nextval('metadata_clock') WHERE study_uid = i_study;
  EXCEPTION
    WHEN SQLSTATE 'VGDUP' THEN RETURN 'duplicate';
    WHEN SQLSTATE 'VG403' THEN RETURN 'forbidden';
    WHEN SQLSTATE 'VG409' THEN RETURN 'series-elsewhere';
  END;
  RETURN 'inserted';
END
$$;
