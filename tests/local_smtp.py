"""A real SMTP server on loopback for the approval-mail tests, and the Airflow connection to it;
and a server that accepts connections but never answers, for the failure path."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class Inbox:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.arrived = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        self.arrived.set()
        return "250 Message accepted for delivery"


def smtp_connection(port: int, timeout: float) -> dict[str, Any]:
    """An Airflow smtp connection to 127.0.0.1 (plain, no TLS) that tries once (``retry_limit`` 0)."""
    return {
        "conn_type": "smtp",
        "host": "127.0.0.1",
        "port": port,
        "extra": {
            "disable_ssl": True,
            "disable_tls": True,
            "from_email": "airflow@example.com",
            "timeout": timeout,
            "retry_limit": 0,
        },
    }


@contextmanager
def smtp_server(timeout: float) -> Iterator[tuple[Inbox, dict[str, Any]]]:
    """Start a server on a free port; yield its inbox and an smtp connection (plain, no TLS) to it."""
    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, smtp_connection(port, timeout)
    finally:
        controller.stop()


class SilentServer:
    """Accepts TCP connections and never sends SMTP's greeting; counts the connections."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)  # so the accepting thread sees close() soon
        self.port = self.listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                connection, _ = self.listener.accept()
            except TimeoutError:
                continue
            self.accepted.append(connection)
        # Whatever still waits in the backlog was a connection too: count it before closing.
        self.listener.setblocking(False)
        while True:
            try:
                connection, _ = self.listener.accept()
            except BlockingIOError:
                return
            self.accepted.append(connection)

    def close(self) -> None:
        """Stop accepting; ``accepted`` then holds every connection made."""
        self._closing.set()
        self._thread.join(5)
        self.listener.close()
        for connection in self.accepted:
            connection.close()


@contextmanager
def silent_server(timeout: float) -> Iterator[tuple[SilentServer, dict[str, Any]]]:
    """A server that never answers, and an smtp connection to it with ``timeout``."""
    server = SilentServer()
    try:
        yield server, smtp_connection(server.port, timeout)
    finally:
        server.close()
