-- Personal data of customers replaced by stand-ins derived from the id, so joins still work.
UPDATE shop.customers
SET name = CONCAT('Customer ', id),
    email = CONCAT('customer', id, '@example.invalid');
