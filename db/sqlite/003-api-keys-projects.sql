-- Version 3.
-- API keys (AUTH=keys): only a hash of each secret is kept; the key itself is shown once, when made.
CREATE TABLE IF NOT EXISTS api_keys (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  secret_sha256 TEXT NOT NULL,
  roles TEXT NOT NULL,
  projects TEXT NOT NULL,
  created_at TEXT NOT NULL,
  revoked_at TEXT
);

-- Every study belongs to one or more projects, set by the source of its first instance.
CREATE TABLE IF NOT EXISTS study_projects (
  study_uid TEXT NOT NULL,
  project TEXT NOT NULL,
  PRIMARY KEY (study_uid, project)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS study_projects_by_project ON study_projects(project, study_uid);

-- Studies stored before projects existed (auth off) belong to the default project.
INSERT OR IGNORE INTO study_projects (study_uid, project) SELECT study_uid, 'default' FROM studies;
