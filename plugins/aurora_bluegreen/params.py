"""JSON-schema pieces shared by the DAGs' trigger forms, matching ``validation``'s rules."""

from __future__ import annotations

CLUSTER_ID_SCHEMA = {
    "type": "string",
    "minLength": 1,
    "maxLength": 63,
    "pattern": "^[A-Za-z](?!.*--)[A-Za-z0-9-]*[A-Za-z0-9]$|^[A-Za-z]$",
}
CONN_ID_SCHEMA = {"type": "string", "minLength": 1, "maxLength": 250, "pattern": "^[A-Za-z0-9_.-]+$"}
REPOINT_SCHEMA = {
    "type": "string",
    "pattern": "^(none|sandbox:[A-Za-z_][A-Za-z0-9_]*"
    "|route53:(/hostedzone/)?[A-Z0-9]{1,32}/[A-Za-z0-9_.*-]+"
    "|secretsmanager:[A-Za-z0-9/_+=.@!:-]+)$",
}


def param(name: str) -> str:
    """A template for one trigger-form value, rendered as its native type."""
    return "{{ params." + name + " }}"
