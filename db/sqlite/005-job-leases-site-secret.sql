-- Version 5: jobs held under a lease by one node, rules' jobs created once, the site secret's fingerprint.
--
-- A running job names the node that holds it and when that node's lease runs out (ms since the
-- epoch): a node that stops renewing (it died) loses the job to whichever node recovers it next.
ALTER TABLE jobs ADD COLUMN node TEXT;
ALTER TABLE jobs ADD COLUMN lease_until INTEGER;
-- A key only one job may hold (a rule's job on one series): a second create is a no-op.
ALTER TABLE jobs ADD COLUMN once_key TEXT;
CREATE UNIQUE INDEX IF NOT EXISTS jobs_once_key ON jobs(once_key) WHERE once_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS jobs_lease ON jobs(state, lease_until);
-- Jobs on a study, for the project filter of listings and for a series' jobs.
CREATE INDEX IF NOT EXISTS jobs_study ON jobs(study_uid, series_uid, seq);

-- Facts about the index itself: the fingerprint of the site secret it was first opened with.
CREATE TABLE IF NOT EXISTS index_facts (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
