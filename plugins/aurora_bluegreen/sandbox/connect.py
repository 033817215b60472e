"""Opening pymysql connections to sandbox servers."""

from __future__ import annotations

import pymysql


def root_connection(
    socket: str, connect_timeout: float = 5, read_timeout: float | None = None
) -> pymysql.connections.Connection:
    """root over the server's unix socket (unix_socket authentication: no password exists).

    ``connect_timeout`` covers only the socket's connect: a server that accepts but never answers
    (hung, or stopped with SIGSTOP) holds the handshake forever unless ``read_timeout`` is set.
    """
    return pymysql.connect(
        unix_socket=socket,
        user="root",
        autocommit=True,
        charset="utf8mb4",
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
    )


def user_connection(
    host: str,
    port: int,
    user: str,
    password: str,
    database: str | None = None,
    connect_timeout: float = 5,
    read_timeout: float | None = None,
) -> pymysql.connections.Connection:
    """A password user over TCP, as a client on another machine would connect.

    The password goes in as UTF-8 bytes because pymysql encodes a ``str`` password as latin-1,
    while the server hashed the UTF-8 bytes it received in CREATE USER: any non-ASCII password
    would fail to log in. TLS is off: on loopback it only adds 15-18 ms to every connect.
    """
    return pymysql.connect(
        host=host,
        port=port,
        user=user,
        password=password.encode("utf-8"),
        database=database,
        autocommit=True,
        charset="utf8mb4",
        ssl_disabled=True,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        write_timeout=read_timeout,
    )
