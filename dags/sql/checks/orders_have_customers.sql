-- Every order belongs to a known customer.
SELECT COUNT(*) = 0
FROM shop.orders AS o
LEFT JOIN shop.customers AS c ON c.id = o.customer_id
WHERE c.id IS NULL;
