-- A change the application's current writes on blue still fit: a column added at the end of
-- the table, with a default, and an index. Row-based replication keeps applying blue's rows.
ALTER TABLE shop.orders ADD COLUMN gift_wrap TINYINT NOT NULL DEFAULT 0;
CREATE INDEX orders_by_created_at ON shop.orders (created_at);
