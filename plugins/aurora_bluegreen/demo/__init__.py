"""``aurora-bluegreen demo``: the whole deployment on this machine, through real Airflow 3.3.

``airflow_stack`` runs Airflow, ``airflow_rest`` talks to it, ``runner`` is the demo's flow and
``report`` its summary. The e2e tests reuse the first two.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from aurora_bluegreen.demo.airflow_stack import DEFAULT_PORT
from aurora_bluegreen.demo.executors import EXECUTORS, LOCAL
from aurora_bluegreen.demo.processes import sigterm_as_interrupt
from aurora_bluegreen.errors import DemoError
from aurora_bluegreen.sandbox.engines import DEFAULT_ENGINE, ENGINES

DAG_FILE = Path("dags") / "aurora_bluegreen_deployment.py"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aurora-bluegreen demo",
        description="Deploy the local sandbox's blue cluster to green through real Airflow, "
        "under write load, and check that no acknowledged write is lost.",
    )
    parser.add_argument(
        "--keep-running", action="store_true", help="leave Airflow and the sandbox up afterwards"
    )
    parser.add_argument("--rate", type=float, default=200.0, help="writes per second (default: 200)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"Airflow's port (default: {DEFAULT_PORT})"
    )
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default=DEFAULT_ENGINE,
        help=f"the sandbox's database server (default: {DEFAULT_ENGINE}, as Aurora is MySQL; "
        "mariadb is the machine's own and needs no Debian root)",
    )
    parser.add_argument(
        "--upgrade-green",
        action="store_true",
        help="upgrade green's engine while it replicates, before the approval (MariaDB engine: "
        "the machine's MariaDB to the next one from a Debian root, 10.11 -> 11.8 on Debian 12)",
    )
    parser.add_argument(
        "--executor",
        choices=EXECUTORS,
        default=LOCAL,
        help="local: one Airflow process tree on SQLite (default); celery: the CeleryExecutor with "
        "two workers, PostgreSQL and Redis of its own (needs the celery extra)",
    )
    parser.add_argument(
        "--fleet",
        type=int,
        default=0,
        metavar="N",
        help="deploy N sandbox blues, each under its own load, with the fleet DAG in waves of 2",
    )
    parser.add_argument(
        "--stop", action="store_true", help="stop a demo left running (of this --executor), then exit"
    )
    parser.add_argument("--repo", type=Path, default=None, help="the repository (default: found from here)")
    return parser


def main(argv: list[str]) -> int:
    """Entry point of ``aurora-bluegreen demo``; ``--help`` lists its options."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.fleet < 0 or args.fleet == 1:
        parser.error("--fleet takes 2 or more blues (one blue is the plain demo)")
    if args.fleet and args.upgrade_green:
        parser.error("--upgrade-green is for the single deployment; the fleet DAG does not upgrade engines")
    if args.upgrade_green and args.engine != "mariadb":
        parser.error(
            "--upgrade-green needs --engine mariadb: the MySQL engine has one version here (9.7), "
            "so there is nothing to upgrade to"
        )

    # Imported here so that `--help` answers without loading Airflow.
    from aurora_bluegreen.demo.runner import Demo, DemoOptions

    repo_root = args.repo or find_repo_root()
    try:
        options = DemoOptions(
            repo_root=repo_root,
            keep_running=args.keep_running,
            rate=args.rate,
            port=args.port,
            engine=args.engine,
            upgrade_green=args.upgrade_green,
            executor=args.executor,
        )
        if args.fleet:
            from aurora_bluegreen.demo.fleet import FleetDemo

            demo: Demo = FleetDemo(options, size=args.fleet)
        else:
            demo = Demo(options)
    except DemoError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    if args.stop:
        demo.stop()
        return 0
    with sigterm_as_interrupt():
        return demo.run()


def find_repo_root() -> Path:
    """The checkout holding the DAGs: the working directory or one above it, else this package's."""
    here = Path.cwd().resolve()
    package_repo = Path(__file__).resolve().parents[3]  # <repo>/plugins/aurora_bluegreen/demo
    for candidate in (here, *here.parents, package_repo):
        if (candidate / DAG_FILE).is_file():
            return candidate
    raise SystemExit(f"cannot find the repository: no {DAG_FILE} here, above, or at {package_repo}")
