"""The sandbox's two users and their passwords, kept in ``<state_dir>/credentials.json`` (0600).

Format::

    {"admin": {"user": "admin", "password": "..."}, "app": {"user": "app", "password": "..."}}

``admin`` plays Aurora's master user, ``app`` the application. root has no password: it logs in
over the server's unix socket only, as the operating-system user that started the sandbox.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from aurora_bluegreen.sandbox.state import read_json, write_json_atomic

ADMIN_USER = "admin"
APP_USER = "app"


@dataclass(frozen=True)
class Credentials:
    admin_password: str
    app_password: str
    admin_user: str = ADMIN_USER
    app_user: str = APP_USER

    @classmethod
    def generate(cls) -> Credentials:
        return cls(admin_password=secrets.token_urlsafe(18), app_password=secrets.token_urlsafe(18))

    def to_dict(self) -> dict[str, dict[str, str]]:
        return {
            "admin": {"user": self.admin_user, "password": self.admin_password},
            "app": {"user": self.app_user, "password": self.app_password},
        }

    @classmethod
    def from_dict(cls, data: dict[str, dict[str, str]]) -> Credentials:
        return cls(
            admin_user=data["admin"]["user"],
            admin_password=data["admin"]["password"],
            app_user=data["app"]["user"],
            app_password=data["app"]["password"],
        )


def load_credentials(path: Path) -> Credentials | None:
    data = read_json(path)
    return Credentials.from_dict(data) if data else None


def save_credentials(path: Path, credentials: Credentials) -> None:
    write_json_atomic(path, credentials.to_dict(), mode=0o600)
