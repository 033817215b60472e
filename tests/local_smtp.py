"""A real SMTP server on loopback for the approval-mail tests, and the Airflow connection to it."""

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
    connection = {
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
    try:
        yield inbox, connection
    finally:
        controller.stop()
