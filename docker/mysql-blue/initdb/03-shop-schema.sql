-- The shop schema that stands in for blue's production data, as in the sandbox
-- (plugins/aurora_bluegreen/sandbox/demo_schema.py), with fewer seed rows. Written to the binlog
-- like any application data. shop.orders.request_id is chosen by the client and unique, so a
-- write can be retried safely and checked for afterwards.

USE shop;

CREATE TABLE customers (
    id INT UNSIGNED NOT NULL PRIMARY KEY,
    name VARCHAR(100) NOT NULL,
    email VARCHAR(200) NOT NULL UNIQUE,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE = InnoDB;

CREATE TABLE products (
    id INT UNSIGNED NOT NULL PRIMARY KEY,
    sku VARCHAR(32) NOT NULL UNIQUE,
    name VARCHAR(100) NOT NULL,
    price_cents INT UNSIGNED NOT NULL
) ENGINE = InnoDB;

CREATE TABLE orders (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    request_id VARCHAR(64) NOT NULL UNIQUE,
    customer_id INT UNSIGNED NOT NULL,
    product_id INT UNSIGNED NOT NULL,
    quantity INT UNSIGNED NOT NULL,
    amount_cents INT UNSIGNED NOT NULL,
    created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    KEY orders_by_customer (customer_id)
) ENGINE = InnoDB;

INSERT INTO customers (id, name, email)
WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100)
SELECT i, CONCAT('Customer ', i), CONCAT('customer', i, '@example.com') FROM n;

INSERT INTO products (id, sku, name, price_cents)
WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20)
SELECT i, CONCAT('SKU-', LPAD(i, 5, '0')), CONCAT('Product ', i), 199 + i * 37 % 5000 FROM n;

INSERT INTO orders (request_id, customer_id, product_id, quantity, amount_cents)
WITH RECURSIVE n (i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 499)
SELECT CONCAT('seed-', i), i % 100 + 1, i % 20 + 1, i % 5 + 1,
       (i % 5 + 1) * (199 + (i % 20 + 1) * 37 % 5000)
  FROM n;
