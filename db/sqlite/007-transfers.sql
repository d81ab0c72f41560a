-- Version 7: the egress queue (src/egress). A transfer is one request to send a selection to one
-- destination (a routing rule's or POST /api/transfers'); its items are its instances, each sent,
-- retried and given up on by itself. Times of leases and retries are ms since the epoch (the
-- machine's clock, which every process on one SQLite file shares).
CREATE TABLE IF NOT EXISTS transfers (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  destination TEXT NOT NULL,
  -- 'api', or 'route:<name>' for a routing rule's.
  origin TEXT NOT NULL,
  client TEXT,
  -- What was asked for (JSON: a study, a series, a query, a study list), for the API's view.
  request TEXT NOT NULL,
  -- A routing rule's transfer of one series to one destination is made once; later instances join it.
  once_key TEXT UNIQUE,
  created_at TEXT NOT NULL,
  cancelled_at TEXT
);

CREATE TABLE IF NOT EXISTS transfer_items (
  id INTEGER PRIMARY KEY,
  transfer_id TEXT NOT NULL REFERENCES transfers(id),
  destination TEXT NOT NULL,
  study_uid TEXT NOT NULL,
  series_uid TEXT NOT NULL,
  sop_instance_uid TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'sending', 'sent', 'failed', 'cancelled')),
  attempts INTEGER NOT NULL DEFAULT 0,
  -- Not tried again before this time (backoff).
  next_at INTEGER NOT NULL DEFAULT 0,
  -- While sending: the node, its batch and when its lease runs out.
  node TEXT,
  batch TEXT,
  lease_until INTEGER,
  -- Why the last attempt failed (a status or an error code, never a data set value).
  error TEXT,
  updated_at TEXT,
  UNIQUE (transfer_id, sop_instance_uid)
);
-- Claims take due items by (next_at, id): new items carry their creation time, so the queue is
-- first in, first out, and items waiting out a backoff are never scanned.
CREATE INDEX IF NOT EXISTS transfer_items_due ON transfer_items (destination, state, next_at, id);
CREATE INDEX IF NOT EXISTS transfer_items_batch ON transfer_items (batch) WHERE batch IS NOT NULL;
CREATE INDEX IF NOT EXISTS transfer_items_lease ON transfer_items (lease_until) WHERE state = 'sending';
