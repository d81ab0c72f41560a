-- Version 3: the egress queue (src/egress), shared by every node. A transfer is one request to
-- send a selection to one destination; its items are its instances, each sent, retried and given
-- up on by itself. Leases and retry times are the database's clock (now()), never a node's.
CREATE TABLE transfers (
  id text COLLATE "C" PRIMARY KEY,
  seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
  destination text COLLATE "C" NOT NULL,
  origin text NOT NULL,
  client text COLLATE "C",
  request text NOT NULL,
  once_key text COLLATE "C" UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  cancelled_at timestamptz
);

CREATE TABLE transfer_items (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  transfer_id text COLLATE "C" NOT NULL REFERENCES transfers(id),
  destination text COLLATE "C" NOT NULL,
  study_uid text COLLATE "C" NOT NULL,
  series_uid text COLLATE "C" NOT NULL,
  sop_instance_uid text COLLATE "C" NOT NULL,
  state text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'sending', 'sent', 'failed', 'cancelled')),
  attempts integer NOT NULL DEFAULT 0,
  next_at timestamptz NOT NULL DEFAULT now(),
  node text COLLATE "C",
  batch text COLLATE "C",
  lease_expires_at timestamptz,
  error text,
  updated_at timestamptz,
  UNIQUE (transfer_id, sop_instance_uid)
);
CREATE INDEX transfer_items_due ON transfer_items (destination, next_at, id) WHERE state = 'queued';
CREATE INDEX transfer_items_batch ON transfer_items (batch) WHERE batch IS NOT NULL;
CREATE INDEX transfer_items_sending ON transfer_items (destination, lease_expires_at) WHERE state = 'sending';
