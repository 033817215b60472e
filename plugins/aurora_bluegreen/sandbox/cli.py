"""``aurora-bluegreen sandbox up|status|load|restart|upgrade|down``."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path

import pymysql

from aurora_bluegreen import dialects, server_answers
from aurora_bluegreen.errors import AuroraBlueGreenError
from aurora_bluegreen.sandbox.aurora import DEFAULT_AURORA_VERSION
from aurora_bluegreen.sandbox.endpoints import APP_ENDPOINT, read_endpoint
from aurora_bluegreen.sandbox.engines import DEFAULT_ENGINE, ENGINES
from aurora_bluegreen.sandbox.load import LoadGenerator
from aurora_bluegreen.sandbox.sandbox import Sandbox
from aurora_bluegreen.sandbox.state import STATE_DIR_ENV, ClusterRecord, default_state_dir

BLUE_CLUSTER_ID = "blue"
_PROGRESS_SECONDS = 1.0


def add_sandbox_commands(subparsers: argparse._SubParsersAction) -> None:
    sandbox = subparsers.add_parser(
        "sandbox", help="local MySQL or MariaDB servers that play Aurora clusters"
    )
    commands = sandbox.add_subparsers(dest="sandbox_command", required=True)

    state_dir = argparse.ArgumentParser(add_help=False)
    state_dir.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help=f"where the sandbox lives (default: ${STATE_DIR_ENV}, else ./.sandbox)",
    )

    _add_up_command(commands, state_dir)

    status = commands.add_parser("status", parents=[state_dir], help="list clusters and endpoints")
    status.set_defaults(handler=_status)

    load = commands.add_parser("load", parents=[state_dir], help="write orders like the application")
    load.add_argument("--rate", type=float, default=500, help="writes per second; 0 = unthrottled")
    load.add_argument("--duration", type=float, default=None, help="seconds (default: until Ctrl-C)")
    load.add_argument("--endpoint", default=APP_ENDPOINT, help="endpoint name to follow")
    load.add_argument("--run-id", default=None, help="names the acked-ids and summary files")
    load.set_defaults(handler=_load)

    restart = commands.add_parser(
        "restart",
        parents=[state_dir],
        help="reboot a cluster as Aurora does: parameter group applied, runtime switches forgotten",
    )
    restart.add_argument("cluster_id", help="the cluster to restart, e.g. blue")
    restart.set_defaults(handler=_restart)

    _add_upgrade_command(commands, state_dir)

    down = commands.add_parser(
        "down", parents=[state_dir], help="stop every server, remove all state (asks first unless --yes)"
    )
    down.add_argument(
        "-y", "--yes", action="store_true", help="do not ask; needed when there is no terminal to ask on"
    )
    down.set_defaults(handler=_down)


def _add_up_command(commands: argparse._SubParsersAction, state_dir: argparse.ArgumentParser) -> None:
    up = commands.add_parser("up", parents=[state_dir], help="start blue with demo data (reuses it)")
    up.add_argument("--port", type=int, default=None, help="blue's TCP port (default: a free one)")
    up.add_argument(
        "--engine",
        choices=ENGINES,
        default=None,
        help=f"database server of a new sandbox (default: {DEFAULT_ENGINE}); an existing one keeps its own",
    )
    up.add_argument(
        "--aurora-version",
        default=None,
        help=f"Aurora MySQL version blue plays, e.g. 2.11.2 or 3.05.2 (default: {DEFAULT_AURORA_VERSION}); "
        "it decides the mysql.rds_* procedures, and clones inherit it",
    )
    up.add_argument(
        "--parameter-apply-seconds",
        type=float,
        default=None,
        help="seconds a parameter-group change takes to reach a running server (default: 2; 0 = at once)",
    )
    up.set_defaults(handler=_up)


def _add_upgrade_command(commands: argparse._SubParsersAction, state_dir: argparse.ArgumentParser) -> None:
    upgrade = commands.add_parser(
        "upgrade",
        parents=[state_dir],
        help="upgrade a cluster's MariaDB in place to a newer major version, keeping its replication",
    )
    upgrade.add_argument("cluster_id", help="the cluster to upgrade, e.g. green")
    upgrade.add_argument("--to", default=None, help="release series, e.g. 11.8 (default: the one offered)")
    upgrade.add_argument("--list", action="store_true", help="only list the release series offered")
    upgrade.set_defaults(handler=_upgrade)


def run_sandbox_command(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        sandbox = Sandbox(args.state_dir or default_state_dir(), engine=getattr(args, "engine", None))
        return args.handler(sandbox, args)
    except AuroraBlueGreenError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def _up(sandbox: Sandbox, args: argparse.Namespace) -> int:
    if args.parameter_apply_seconds is not None:
        sandbox.set_parameter_apply_seconds(args.parameter_apply_seconds)
    blue = sandbox.create_blue(BLUE_CLUSTER_ID, port=args.port, aurora_version=args.aurora_version)
    endpoint_path = sandbox.endpoint_file(APP_ENDPOINT)
    # After a cutover the endpoint names green; running `up` again must not undo that.
    endpoint = read_endpoint(endpoint_path) or sandbox.point_endpoint(APP_ENDPOINT, blue.cluster_id)
    print(
        f"{blue.cluster_id} is {blue.status} at {blue.endpoint}:{blue.port} "
        f"({sandbox.engine.version}, playing Aurora MySQL {sandbox.record(blue.cluster_id).aurora_version})"
    )
    print(f"parameter-group changes apply after {sandbox.parameter_apply_seconds:g}s")
    print(f"endpoint {APP_ENDPOINT!r} -> {endpoint} ({endpoint_path})")
    print(f"credentials (admin = master user, app = application): {sandbox.store.credentials_file}")
    print(f"state directory: {sandbox.state_dir}")
    return 0


def _status(sandbox: Sandbox, args: argparse.Namespace) -> int:
    records = sandbox.clusters()
    if not records:
        print(f"no clusters in {sandbox.state_dir}")
        return 0
    rows = [("CLUSTER", "STATUS", "PORT", "AURORA", "SERVER", "READ_ONLY", "ROLE", "MANAGED", "REPLICATION")]
    for record in records:
        info = sandbox.describe(record.cluster_id)
        read_only, replication = _live_state(sandbox, record) if info.is_available else ("-", "-")
        rows.append(
            (
                record.cluster_id,
                info.status,
                str(record.port),
                record.aurora_version,
                _server(record),
                f"{read_only} (group {_group_read_only(sandbox, record.cluster_id)})",
                _role(record),
                "yes" if info.is_managed else "no",
                replication,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1])
    for path in sorted(sandbox.store.endpoints_dir.glob("*.json")):
        if path.is_file():
            print(f"endpoint {path.stem!r} -> {read_endpoint(path)}")
    return 0


def _server(record: ClusterRecord) -> str:
    """``10.11.19``, or ``11.8.9 (mariadb-trixie)`` for a cluster on a Debian root's MariaDB."""
    version = (record.server_version or "-").split("-")[0]
    return version if record.installation in ("system", "mysql") else f"{version} ({record.installation})"


def _group_read_only(sandbox: Sandbox, cluster_id: str) -> str:
    """The parameter group's read_only, and "applying" while it has not reached the server."""
    status = sandbox.parameter_status(cluster_id).get("read_only")
    if status is None:
        return "-"
    return ("ON" if status.value == "1" else "OFF") + ("" if status.applied else ", applying")


def _role(record: ClusterRecord) -> str:
    if record.created_by_sandbox:
        return "blue (plays production)"
    return record.tags.get("role", "-")


def _live_state(sandbox: Sandbox, record: ClusterRecord) -> tuple[str, str]:
    with sandbox.connect(record.cluster_id) as root, root.cursor(pymysql.cursors.DictCursor) as cursor:
        cursor.execute("SELECT @@GLOBAL.read_only AS read_only, @@GLOBAL.version AS version")
        row = cursor.fetchone()
        read_only = "ON" if row["read_only"] else "OFF"
        cursor.execute(dialects.show_replica_status(dialects.ServerVersion(row["version"])).sql)
        replica = server_answers.replica_status_from_rows(cursor.fetchall())
    if replica is None:
        return read_only, "-"
    summary = f"from {replica.source_port}: {replica.summary()}"
    return read_only, f"{summary} error={replica.error!r}" if replica.error else summary


def _load(sandbox: Sandbox, args: argparse.Namespace) -> int:
    generator = LoadGenerator.in_sandbox(sandbox.state_dir, args.endpoint, args.rate, args.run_id)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: generator.request_stop())
    print(f"writing {args.rate or 'as many as possible'}/s through endpoint {args.endpoint!r}; Ctrl-C stops")
    print(f"acknowledged ids: {generator.acked_ids_file}")
    generator.start(args.duration)
    summary = None
    while summary is None:
        summary = generator.join(_PROGRESS_SECONDS)
        counters = generator.counters()
        print(
            f"acked={counters.acknowledged} errors={counters.errors} reconnects={counters.reconnects} "
            f"max_gap={counters.max_ack_gap_ms:.1f}ms cluster={(counters.clusters_seen or ['-'])[-1]}",
            flush=True,
        )
    print(f"{summary.counters.acknowledged} writes acknowledged at {summary.achieved_rate}/s")
    print(f"summary: {generator.summary_file}")
    return 0


def _restart(sandbox: Sandbox, args: argparse.Namespace) -> int:
    info = sandbox.restart(args.cluster_id)
    print(f"{info.cluster_id} restarted: {info.status} at {info.endpoint}:{info.port}")
    return 0


def _upgrade(sandbox: Sandbox, args: argparse.Namespace) -> int:
    targets = sandbox.upgrade_targets(args.cluster_id)
    if args.list or (not targets and args.to is None):
        print(", ".join(targets) if targets else f"no upgrade: {sandbox.upgrade_refusal(args.cluster_id)}")
        return 0 if targets or args.list else 1
    report = sandbox.upgrade(args.cluster_id, args.to or targets[-1])
    if report.already_done:
        print(f"{args.cluster_id} runs {report.to_version} already")
        return 0
    steps = ", ".join(f"{step} {seconds:.2f}s" for step, seconds in report.seconds.items())
    print(f"{args.cluster_id}: {report.from_version} -> {report.to_version} ({steps})")
    if report.replica_after is not None:
        print(f"replication: {report.replica_after.summary()}")
    return 0


def _down(sandbox: Sandbox, args: argparse.Namespace) -> int:
    if not args.yes and not _confirmed_down(sandbox):
        return 1
    sandbox.down()
    print(f"removed {sandbox.state_dir}")
    return 0


def _confirmed_down(sandbox: Sandbox) -> bool:
    """Asks on the terminal before blue and every clone are deleted; refuses without one."""
    if not sandbox.state_dir.exists():
        return True
    clusters = ", ".join(record.cluster_id for record in sandbox.clusters()) or "no clusters"
    if not sys.stdin.isatty():
        print(
            f"error: `sandbox down` deletes {sandbox.state_dir} ({clusters}), data included; "
            "pass --yes to confirm without a terminal",
            file=sys.stderr,
        )
        return False
    try:
        answer = input(
            f"Stop and delete every server in {sandbox.state_dir} ({clusters}), data included? [y/N] "
        )
    except EOFError:
        answer = ""
    if answer.strip().lower() in ("y", "yes"):
        return True
    print("nothing deleted")
    return False
