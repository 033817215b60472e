"""JSON-schema pieces shared by the DAGs' trigger forms, matching ``validation``'s rules."""

from __future__ import annotations

from aurora_bluegreen.freeze_methods import DEFAULT_QUIET_SECONDS, FREEZE_METHODS, RDS_SET_READ_ONLY
from aurora_bluegreen.repointers.registry import repoint_schema
from aurora_bluegreen.validation import ENGINE_VERSION_PATTERN

CLUSTER_ID_SCHEMA = {
    "type": "string",
    "minLength": 1,
    "maxLength": 63,
    "pattern": "^[A-Za-z](?!.*--)[A-Za-z0-9-]*[A-Za-z0-9]$|^[A-Za-z]$",
}
CONN_ID_SCHEMA = {"type": "string", "minLength": 1, "maxLength": 250, "pattern": "^[A-Za-z0-9_.-]+$"}
REPOINT_SCHEMA = repoint_schema()
TARGET_ENGINE_VERSION_SCHEMA = {
    "type": ["null", "string"],
    "maxLength": 64,
    "pattern": f"^$|{ENGINE_VERSION_PATTERN}",
}
"""Empty (no upgrade) or an engine version; whether green can reach it is preflight's question."""


def param(name: str) -> str:
    """A template for one trigger-form value, rendered as its native type."""
    return "{{ params." + name + " }}"


def string_param(name: str) -> str:
    """A template for a string trigger-form value that must stay a string, or '' when empty.

    The DAGs render templates as native objects, which would turn a version such as ``11.8`` into
    the float 11.8 (and ``11.10`` into 11.1); rendered as JSON, it is read back as the string.
    """
    return "{{ (params." + name + " or '') | tojson }}"


def connection_params(replication_title: str = "Replication user connection (login + password)") -> dict:
    """The three connection ids every DAG's form asks for; secrets stay in the connections."""
    from airflow.sdk import Param

    return {
        "control_plane_conn_id": Param(
            "aurora_sandbox", **CONN_ID_SCHEMA, title="Control-plane connection (aws or aurora_sandbox)"
        ),
        "admin_conn_id": Param(
            "aurora_blue_admin", **CONN_ID_SCHEMA, title="Blue master-user connection (MySQL)"
        ),
        "replication_conn_id": Param("aurora_replication", **CONN_ID_SCHEMA, title=replication_title),
    }


def freeze_params() -> dict:
    """How the cutover freezes blue (``freeze_methods``): the choice that Aurora's version decides."""
    from airflow.sdk import Param

    return {
        "freeze_method": Param(
            RDS_SET_READ_ONLY,
            type="string",
            enum=list(FREEZE_METHODS),
            title="How blue is frozen",
            description="rds_set_read_only: Aurora MySQL 3.06+ (milliseconds). parameter_group: read_only=1 "
            "in blue's own custom parameter group, for 2.x and 3.0x before 3.06 (a minute per switch; "
            "allow at least 120 s of freeze budget). application_stops: stop the application first; "
            "the cutover proves blue's binlog stands still. See docs/aws.md.",
        ),
        "quiet_seconds": Param(
            DEFAULT_QUIET_SECONDS,
            type="number",
            exclusiveMinimum=0,
            maximum=300,
            title="application_stops: how long blue's binlog must stand still (seconds)",
        ),
    }
