"""The ``aurora-bluegreen`` command: ``--version``, ``dags install``, ``sandbox ...`` and ``demo``.

``dags`` needs only the base install. ``sandbox`` and ``demo`` need the ``sandbox`` extra
(``pip install 'aurora-bluegreen[sandbox]'``); without it they say so instead of failing on an
import.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from aurora_bluegreen.errors import AuroraBlueGreenError

DISTRIBUTION = "aurora-bluegreen"
# What the sandbox and the demo import that the base install does not bring.
SANDBOX_EXTRA_MODULES = frozenset({"pymysql", "httpx", "cryptography"})
SANDBOX_EXTRA_HINT = f"pip install '{DISTRIBUTION}[sandbox]'"


def package_version() -> str:
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:  # a checkout on PYTHONPATH, never installed
        from aurora_bluegreen.get_provider_info import get_provider_info

        return get_provider_info()["versions"][0]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="aurora-bluegreen", description="Blue/green deployments of Aurora MySQL with Airflow"
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    _add_dags_commands(commands)
    sandbox_missing = _add_sandbox_commands(commands)
    # The demo parses its own options: everything after `demo` is handed over untouched.
    commands.add_parser("demo", add_help=False, help="run the end-to-end demo (see `demo --help`)")
    args, rest = parser.parse_known_args(argv)
    if args.command == "demo":
        try:
            from aurora_bluegreen import demo
        except ModuleNotFoundError as error:
            if error.name not in SANDBOX_EXTRA_MODULES:
                raise
            return _needs_sandbox_extra("demo", error.name)
        return demo.main(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "dags":
        return _run_dags_command(args)
    if sandbox_missing:
        return _needs_sandbox_extra("sandbox", sandbox_missing)
    from aurora_bluegreen.sandbox.cli import run_sandbox_command

    return run_sandbox_command(args)


def _add_dags_commands(subparsers: argparse._SubParsersAction) -> None:
    dags = subparsers.add_parser("dags", help="the provider's DAGs, as the package carries them")
    commands = dags.add_subparsers(dest="dags_command", required=True)
    install = commands.add_parser(
        "install",
        help="copy the four DAGs and their sql/ folder into DIR (e.g. a folder in your DAGs folder)",
    )
    install.add_argument("directory", type=Path, metavar="DIR")
    install.add_argument(
        "--force", action="store_true", help="overwrite files in DIR that differ from the packaged ones"
    )
    commands.add_parser("path", help="print where the installed package keeps the DAGs")


def _run_dags_command(args: argparse.Namespace) -> int:
    from aurora_bluegreen import dag_files

    try:
        if args.dags_command == "path":
            print(dag_files.source_dir())
            return 0
        report = dag_files.install(args.directory, force=args.force)
    except AuroraBlueGreenError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for label, names in (("copied", report.copied), ("replaced", report.replaced)):
        for name in names:
            print(f"{label} {args.directory / name}")
    if report.unchanged:
        print(f"{len(report.unchanged)} file(s) already up to date")
    print(f"the DAGs are in {args.directory}; Airflow's DAGs folder must contain it")
    return 0


def _add_sandbox_commands(subparsers: argparse._SubParsersAction) -> str | None:
    """Registers ``sandbox``; returns the missing module's name when the extra is not installed."""
    try:
        from aurora_bluegreen.sandbox.cli import add_sandbox_commands
    except ModuleNotFoundError as error:
        if error.name not in SANDBOX_EXTRA_MODULES:
            raise
        sandbox = subparsers.add_parser(
            "sandbox", help=f"local servers playing Aurora (needs: {SANDBOX_EXTRA_HINT})"
        )
        sandbox.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
        return error.name
    add_sandbox_commands(subparsers)
    return None


def _needs_sandbox_extra(command: str, module: str) -> int:
    print(
        f"error: `aurora-bluegreen {command}` needs the sandbox extra ({module} is not installed): "
        f"{SANDBOX_EXTRA_HINT}",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
