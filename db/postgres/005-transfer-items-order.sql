-- Veilgate index schema (PostgreSQL), version 5: a transfer's items in order (GET /api/transfers/{id}
-- pages them by id) from an index, not a sort of every item of the transfer for each page.
CREATE INDEX transfer_items_of_transfer ON transfer_items (transfer_id, id);
