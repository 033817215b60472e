"""Local MySQL or MariaDB servers that play Aurora clusters, with a CLI and a load generator.

See ``Sandbox`` for clusters, ``endpoints`` for the application's "DNS", ``load`` for the
application itself.
"""

from typing import Any

from aurora_bluegreen.errors import CloneConflict, SandboxError
from aurora_bluegreen.sandbox.credentials import Credentials
from aurora_bluegreen.sandbox.endpoints import Endpoint, endpoint_file, read_endpoint, write_endpoint
from aurora_bluegreen.sandbox.state import default_state_dir

__all__ = [
    "CloneConflict",
    "Credentials",
    "Endpoint",
    "Sandbox",
    "SandboxError",
    "default_state_dir",
    "endpoint_file",
    "read_endpoint",
    "write_endpoint",
]


def __getattr__(name: str) -> Any:
    """``Sandbox`` on first use: importing the package must not load the servers' modules, so that
    ``python -m aurora_bluegreen.sandbox.debian_root`` (and kin) run a module not yet imported."""
    if name == "Sandbox":
        from aurora_bluegreen.sandbox.sandbox import Sandbox

        return Sandbox
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
