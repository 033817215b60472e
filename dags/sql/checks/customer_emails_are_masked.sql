-- True on a masked QA clone; false on green, which holds production's real addresses.
SELECT COUNT(*) = 0 FROM shop.customers WHERE email NOT LIKE '%@example.invalid';
