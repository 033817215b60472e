"""The ``shop`` schema that stands in for blue's production data.

``shop.orders`` is the table the load generator writes: every row carries a ``request_id`` chosen
by the client, unique, so a write can be retried safely and checked for afterwards.
"""

from __future__ import annotations

import pymysql

SCHEMA = "shop"
ORDERS_TABLE = f"{SCHEMA}.orders"
CUSTOMERS = 1000
PRODUCTS = 100
SEED_ORDERS = 5000

_TABLES = (
    f"""CREATE TABLE {SCHEMA}.customers (
        id INT UNSIGNED NOT NULL PRIMARY KEY,
        name VARCHAR(100) NOT NULL,
        email VARCHAR(200) NOT NULL UNIQUE,
        created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
    ) ENGINE = InnoDB""",
    f"""CREATE TABLE {SCHEMA}.products (
        id INT UNSIGNED NOT NULL PRIMARY KEY,
        sku VARCHAR(32) NOT NULL UNIQUE,
        name VARCHAR(100) NOT NULL,
        price_cents INT UNSIGNED NOT NULL
    ) ENGINE = InnoDB""",
    f"""CREATE TABLE {ORDERS_TABLE} (
        id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
        request_id VARCHAR(64) NOT NULL UNIQUE,
        customer_id INT UNSIGNED NOT NULL,
        product_id INT UNSIGNED NOT NULL,
        quantity INT UNSIGNED NOT NULL,
        amount_cents INT UNSIGNED NOT NULL,
        created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
        KEY orders_by_customer (customer_id)
    ) ENGINE = InnoDB""",
)

INSERT_ORDER = (
    f"INSERT INTO {ORDERS_TABLE} (request_id, customer_id, product_id, quantity, amount_cents) "
    "VALUES (%s, %s, %s, %s, %s)"
)


def order_row(request_id: str, n: int) -> tuple[str, int, int, int, int]:
    """Values for INSERT_ORDER: plausible and cheap to compute, varied by ``n``."""
    product_id = n % PRODUCTS + 1
    quantity = n % 5 + 1
    return (request_id, n % CUSTOMERS + 1, product_id, quantity, quantity * _price_cents(product_id))


def _price_cents(product_id: int) -> int:
    return 199 + product_id * 37 % 5000


def create_demo_schema(root: pymysql.connections.Connection) -> None:
    """Create and fill ``shop``; written to the binlog like any application data."""
    with root.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {SCHEMA} CHARACTER SET utf8mb4")
        for statement in _TABLES:
            cursor.execute(statement)
        cursor.executemany(
            f"INSERT INTO {SCHEMA}.customers (id, name, email) VALUES (%s, %s, %s)",
            [(i, f"Customer {i}", f"customer{i}@example.com") for i in range(1, CUSTOMERS + 1)],
        )
        cursor.executemany(
            f"INSERT INTO {SCHEMA}.products (id, sku, name, price_cents) VALUES (%s, %s, %s, %s)",
            [(i, f"SKU-{i:05d}", f"Product {i}", _price_cents(i)) for i in range(1, PRODUCTS + 1)],
        )
        cursor.executemany(INSERT_ORDER, [order_row(f"seed-{n}", n) for n in range(SEED_ORDERS)])
