"""The ``aurora_sandbox`` connection type, so the sandbox shows up in Airflow's connection form."""

from __future__ import annotations

import json
from typing import Any

from airflow.sdk import BaseHook


class SandboxConnectionHook(BaseHook):
    """Points the control plane at a local sandbox: its state directory lives in the extra."""

    conn_name_attr = "sandbox_conn_id"
    default_conn_name = "aurora_sandbox"
    conn_type = "aurora_sandbox"
    hook_name = "Aurora sandbox (local MySQL or MariaDB)"

    def __init__(self, sandbox_conn_id: str = default_conn_name, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sandbox_conn_id = sandbox_conn_id

    def get_conn(self) -> Any:
        from aurora_bluegreen.control_plane.factory import get_backend

        return get_backend(self.sandbox_conn_id)

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return {
            "hidden_fields": ["host", "port", "login", "password", "schema"],
            "relabeling": {},
            "placeholders": {
                "extra": json.dumps({"state_dir": "/path/to/repo/.demo/sandbox", "engine": "mysql"})
            },
        }
