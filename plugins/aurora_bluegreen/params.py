"""The DAGs' trigger forms: JSON-schema pieces matching ``validation``'s rules, with the rules in words.

Every field is in one of the form's sections (``SECTIONS``), and every patterned field says its
rule in its description, because the form shows the description and not the regular expression.
Numbers have upper bounds, and NaN (which satisfies every comparison a schema can make) is refused
by ``not: {type: number, maximum: 0}``: no positive number matches it, NaN always does.

The DAGs render templates as native objects (``render_template_as_native_obj=True``), which turns
a list Param into a list. ``param()`` prints the value as a Python literal first, so that a string
stays a string: a cluster id typed as ``None`` or ``True``, or a connection id ``12345``, would
otherwise reach the operator as None, True or 12345.
"""

from __future__ import annotations

from typing import Any

from aurora_bluegreen.approval import LONGEST_TIMEOUT_HOURS
from aurora_bluegreen.freeze_methods import DEFAULT_QUIET_SECONDS, FREEZE_METHODS, RDS_SET_READ_ONLY
from aurora_bluegreen.repointers.registry import REPOINT_RULE, repoint_schema
from aurora_bluegreen.validation import CLUSTER_ID_RULE, ENGINE_VERSION_PATTERN

CLUSTERS = "Clusters and connections"
AWS = "AWS only (ignored on the sandbox)"
QA = "Trying changes on green (QA)"
CUTOVER = "Cutover and approval"
SANDBOX = "Sandbox"
SECTIONS = (CLUSTERS, AWS, QA, CUTOVER, SANDBOX)

CLUSTER_ID_SCHEMA = {
    "type": "string",
    "minLength": 1,
    "maxLength": 63,
    "pattern": "^[A-Za-z](?!.*--)[A-Za-z0-9-]*[A-Za-z0-9]$|^[A-Za-z]$",
}
CONN_ID_RULE = "1-250 letters, digits, '_', '.' or '-'"
CONN_ID_SCHEMA = {"type": "string", "minLength": 1, "maxLength": 250, "pattern": "^[A-Za-z0-9_.-]+$"}
REPOINT_SCHEMA = repoint_schema()
TARGET_ENGINE_VERSION_SCHEMA = {
    "type": ["null", "string"],
    "maxLength": 64,
    "pattern": f"^$|{ENGINE_VERSION_PATTERN}",
}
"""Empty (no upgrade) or an engine version; whether green can reach it is preflight's question."""
NOT_NAN = {"not": {"type": "number", "maximum": 0}}
LONGEST_LAG_SECONDS = 3600
LONGEST_FREEZE_SECONDS = 600
"""Ten minutes of refused writes is already an outage; the parameter_group method needs 120 s."""


def param(name: str) -> str:
    """A template for one trigger-form value, rendered as its native type (strings stay strings)."""
    return "{{ params." + name + " | pprint }}"


def require_native_rendering(task: Any) -> None:
    """Refuse, with the fix, to render ``param()`` templates as text: lists and numbers would be strings."""
    from aurora_bluegreen.errors import InvalidInput

    native = getattr(task, "render_template_as_native_obj", None)
    if native is None:
        native = getattr(getattr(task, "dag", None), "render_template_as_native_obj", False)
    if native:
        return
    for name in task.template_fields:
        value = getattr(task, name, None)
        if isinstance(value, str) and "{{ params." in value and "| pprint" in value:
            raise InvalidInput(
                name,
                value,
                "rendered as a native object: set render_template_as_native_obj=True on the DAG "
                "(aurora_bluegreen.params.param() templates need it), or pass a plain value",
            )


def described(purpose: str, rule: str) -> str:
    return f"{purpose} Rule: {rule}." if purpose else f"Rule: {rule}."


def cluster_id_param(default: str, title: str, purpose: str = "", section: str = CLUSTERS) -> Any:
    from airflow.sdk import Param

    return Param(
        default,
        **CLUSTER_ID_SCHEMA,
        title=title,
        description=described(purpose, CLUSTER_ID_RULE),
        section=section,
    )


def seconds_param(
    default: float, title: str, maximum: float, purpose: str = "", section: str = CUTOVER
) -> Any:
    """A positive, finite number of seconds up to ``maximum``."""
    from airflow.sdk import Param

    return Param(
        default,
        type="number",
        exclusiveMinimum=0,
        maximum=maximum,
        **NOT_NAN,
        title=title,
        description=described(purpose, f"a number of seconds above 0 and at most {maximum}"),
        section=section,
    )


def repoint_param(default: str, title: str) -> Any:
    from airflow.sdk import Param

    return Param(
        default,
        **REPOINT_SCHEMA,
        title=title,
        description=described("Where the application finds its writer.", REPOINT_RULE),
        section=CUTOVER,
    )


def connection_params(replication_title: str = "Replication user connection (login + password)") -> dict:
    """The three connection ids every DAG's form asks for; secrets stay in the connections."""
    from airflow.sdk import Param

    def conn(default: str, title: str, purpose: str) -> Any:
        return Param(
            default,
            **CONN_ID_SCHEMA,
            title=title,
            description=described(purpose, CONN_ID_RULE),
            section=CLUSTERS,
        )

    return {
        "control_plane_conn_id": conn(
            "aurora_sandbox",
            "Control-plane connection (aws or aurora_sandbox)",
            "An aws connection means Aurora; an aurora_sandbox connection means the local sandbox.",
        ),
        "admin_conn_id": conn("aurora_blue_admin", "Blue master-user connection (MySQL)", ""),
        "replication_conn_id": conn("aurora_replication", replication_title, ""),
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
            section=CUTOVER,
        ),
        "quiet_seconds": seconds_param(
            DEFAULT_QUIET_SECONDS,
            "application_stops: how long blue's binlog must stand still (seconds)",
            maximum=300,
        ),
    }


def approval_params() -> dict:
    """Who may answer the approval and how long it waits; empty means the ``[aurora_bluegreen]`` options."""
    from airflow.sdk import Param

    return {
        "approvers": Param(
            [],
            type="array",
            items={"type": "string", "minLength": 1, "maxLength": 256},
            title="Who may approve (Airflow user ids)",
            description="Only these users can answer the approval. Empty: the [aurora_bluegreen] approvers "
            "option, and if that is empty too, anyone who may answer this DAG's approvals.",
            section=CUTOVER,
        ),
        "approval_timeout_hours": Param(
            None,
            type=["null", "number"],
            exclusiveMinimum=0,
            maximum=LONGEST_TIMEOUT_HOURS,
            **NOT_NAN,
            title="Approval waits at most (hours)",
            description="Unanswered after this long, the approval is a rejection and nothing changes. "
            "Leave the approval unanswered to postpone the cutover; Approve to resume. Empty: the "
            f"[aurora_bluegreen] approval_timeout_hours option (72 unless set). Rule: above 0 and at most "
            f"{LONGEST_TIMEOUT_HOURS:g}.",
            section=CUTOVER,
        ),
    }
