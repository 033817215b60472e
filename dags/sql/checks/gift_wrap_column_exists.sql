-- The migration add_gift_wrap_to_orders.sql reached green.
SELECT COUNT(*) = 1
FROM information_schema.COLUMNS
WHERE TABLE_SCHEMA = 'shop' AND TABLE_NAME = 'orders' AND COLUMN_NAME = 'gift_wrap';
