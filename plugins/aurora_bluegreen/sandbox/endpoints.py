"""Endpoint files: the sandbox's stand-in for a DNS name the application resolves.

``<state_dir>/endpoints/<name>.json`` holds ``{"host", "port", "cluster_id"}``. The cutover's
repointer writes it; the load generator reads it and follows it, as an application follows a
CNAME. Writes are atomic, so a reader sees either the old target or the new one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from aurora_bluegreen.sandbox.state import StateStore, read_json, write_json_atomic

APP_ENDPOINT = "app"


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    cluster_id: str

    def __str__(self) -> str:
        return f"{self.host}:{self.port} ({self.cluster_id})"


def endpoint_file(state_dir: str | Path, name: str) -> Path:
    return StateStore(state_dir).endpoints_dir / f"{name}.json"


def write_endpoint(path: Path, endpoint: Endpoint) -> None:
    write_json_atomic(path, asdict(endpoint))


def read_endpoint(path: Path) -> Endpoint | None:
    data = read_json(path)
    if not data:
        return None
    return Endpoint(host=data["host"], port=int(data["port"]), cluster_id=data["cluster_id"])
