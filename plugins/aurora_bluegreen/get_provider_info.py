"""Airflow provider entry point: what this provider brings, read by Airflow's ProvidersManager.

The same sections as the official providers' generated ``get_provider_info.py``. Airflow reads it
without importing the classes it names, so it must stay a plain literal; tests/packaging checks
every name in it against the code and against Airflow's ``provider_info.schema.json``.

The ``aurora_sandbox`` connection form is declared here (``hook-name``, ``ui-field-behaviour``):
since Airflow 3.2 a hook's ``get_ui_field_behaviour()`` is deprecated, and Airflow applies it only
where the FAB provider's ``wtforms`` is installed.
"""

from __future__ import annotations

INTEGRATION = "Aurora Blue/Green"
VERSION = "0.1.0"


def get_provider_info() -> dict:
    return {
        "package-name": "aurora-bluegreen",
        "name": "Aurora Blue/Green",
        "description": "Blue/green deployments of Amazon Aurora MySQL: clone, binlog replication, "
        "approved cutover with rollback, and a local MySQL or MariaDB sandbox.",
        "versions": [VERSION],
        "integrations": [
            {
                "integration-name": INTEGRATION,
                "tags": ["aws", "database"],
            }
        ],
        "operators": [
            {
                "integration-name": INTEGRATION,
                "python-modules": [
                    "aurora_bluegreen.operators.preflight",
                    "aurora_bluegreen.operators.clone",
                    "aurora_bluegreen.operators.replication",
                    "aurora_bluegreen.operators.cutover",
                    "aurora_bluegreen.operators.dashboard",
                    "aurora_bluegreen.operators.readers",
                    "aurora_bluegreen.operators.migrations",
                    "aurora_bluegreen.operators.checks",
                    "aurora_bluegreen.operators.sql_inputs",
                    "aurora_bluegreen.operators.teardown",
                    "aurora_bluegreen.operators.qa",
                    "aurora_bluegreen.operators.cluster_task",
                    "aurora_bluegreen.operators.upgrade",
                    "aurora_bluegreen.operators.approval",
                    "aurora_bluegreen.operators.snapshot",
                    "aurora_bluegreen.operators.aws_base",
                    "aurora_bluegreen.operators.cluster_lock",
                    "aurora_bluegreen.operators.fleet",
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": INTEGRATION,
                "python-modules": ["aurora_bluegreen.sensors.replica_lag"],
            }
        ],
        "hooks": [
            {
                "integration-name": INTEGRATION,
                "python-modules": [
                    "aurora_bluegreen.hooks.cluster_sql",
                    "aurora_bluegreen.hooks.sandbox_connection",
                ],
            }
        ],
        "triggers": [
            {
                "integration-name": INTEGRATION,
                "python-modules": [
                    "aurora_bluegreen.triggers.replica_lag",
                    "aurora_bluegreen.triggers.clone_ready",
                    "aurora_bluegreen.triggers.readers_available",
                    "aurora_bluegreen.triggers.engine_upgrade",
                    "aurora_bluegreen.triggers.cluster_poll",
                ],
            }
        ],
        "connection-types": [
            {
                "connection-type": "aurora_sandbox",
                "hook-class-name": "aurora_bluegreen.hooks.sandbox_connection.SandboxConnectionHook",
                "hook-name": "Aurora sandbox (local MySQL or MariaDB)",
                "ui-field-behaviour": {
                    "hidden-fields": ["host", "port", "login", "password", "schema"],
                    "relabeling": {},
                    "placeholders": {
                        "extra": '{"state_dir": "/path/to/repo/.demo/sandbox", "engine": "mysql"}'
                    },
                },
            }
        ],
        "notifications": ["aurora_bluegreen.notifications.ApprovalNotifier"],
        "extra-links": [
            "aurora_bluegreen.links.AuroraClusterLink",
            "aurora_bluegreen.links.BinlogLagDashboardLink",
            "aurora_bluegreen.links.CutoverReportLink",
        ],
        "config": {
            "aurora_bluegreen": {
                "description": "Settings of the aurora-bluegreen provider and its DAGs.",
                "options": {
                    "approvers": {
                        "description": "Airflow user ids (comma-separated) who may answer the cutover "
                        "and switch-back approvals when a run names none in its approvers Param. "
                        "Read when the approval opens. Empty: anyone who may answer the DAG's "
                        "approvals can, which the approval's log says.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "alice,bob",
                        "default": "",
                    },
                    "approval_timeout_hours": {
                        "description": "How long an approval waits for an answer when a run gives no "
                        "approval_timeout_hours Param; then it is a rejection (nothing changes). More "
                        "than 0 and at most 720.",
                        "version_added": "0.1.0",
                        "type": "float",
                        "example": "8",
                        "default": "72",
                    },
                    "qa_refresh_schedule": {
                        "description": "When the aurora_qa_refresh DAG makes a fresh QA clone of blue: a "
                        "cron expression (minute hour day month weekday, in Airflow's default time "
                        "zone) or a preset such as @daily. An invalid value is an import error of "
                        "that DAG naming this setting, so no run starts with it.",
                        "version_added": "0.1.0",
                        "type": "string",
                        "example": "30 3 * * 1-5",
                        "default": "0 2 * * *",
                    },
                    "fleet_max_parallel_cutovers": {
                        "description": "How many cutovers of one wave the aurora_bluegreen_fleet DAG runs at "
                        "once (each its own write freeze). Read when the DAG file is parsed: Airflow fixes a "
                        "mapped task's concurrency then, so it is configuration, not a trigger-form field.",
                        "version_added": "0.2.0",
                        "type": "integer",
                        "example": "4",
                        "default": "2",
                    },
                },
            },
        },
    }
