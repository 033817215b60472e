"""Airflow provider entry point: names the package and registers the sandbox connection type."""

from __future__ import annotations


def get_provider_info() -> dict:
    return {
        "package-name": "aurora-bluegreen",
        "name": "Aurora Blue/Green",
        "description": "Blue/green deployments of Amazon Aurora MySQL: clone, binlog replication, "
        "approved cutover with rollback, and a local MySQL or MariaDB sandbox.",
        "versions": ["0.1.0"],
        "connection-types": [
            {
                "connection-type": "aurora_sandbox",
                "hook-class-name": "aurora_bluegreen.hooks.sandbox_connection.SandboxConnectionHook",
            }
        ],
        "operators": [
            {
                "integration-name": "Aurora Blue/Green",
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
                ],
            }
        ],
        "sensors": [
            {
                "integration-name": "Aurora Blue/Green",
                "python-modules": ["aurora_bluegreen.sensors.replica_lag"],
            }
        ],
        "triggers": [
            {
                "integration-name": "Aurora Blue/Green",
                "python-modules": [
                    "aurora_bluegreen.triggers.replica_lag",
                    "aurora_bluegreen.triggers.clone_ready",
                    "aurora_bluegreen.triggers.readers_available",
                ],
            }
        ],
        "extra-links": [
            "aurora_bluegreen.links.AuroraClusterLink",
            "aurora_bluegreen.links.BinlogLagDashboardLink",
            "aurora_bluegreen.links.CutoverReportLink",
        ],
    }
