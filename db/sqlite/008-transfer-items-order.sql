-- Veilgate index schema (SQLite), version 8: a transfer's items in order (GET /api/transfers/{id}
-- pages them by id) from an index, not a sort of every item of the transfer for each page.
CREATE INDEX IF NOT EXISTS transfer_items_of_transfer ON transfer_items (transfer_id, id);
