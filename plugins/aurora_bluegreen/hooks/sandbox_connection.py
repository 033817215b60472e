"""The ``aurora_sandbox`` connection type, so the sandbox shows up in Airflow's connection form.

The form itself (which fields are hidden, the extra's placeholder) is declared in
``get_provider_info.py``, as Airflow 3.2+ expects, not by a ``get_ui_field_behaviour()`` here.
"""

from __future__ import annotations

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
