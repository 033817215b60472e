"""The ``aurora-bluegreen`` command: ``sandbox up|status|load|down`` and ``demo``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from aurora_bluegreen.sandbox.cli import add_sandbox_commands, run_sandbox_command


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="aurora-bluegreen", description="Blue/green deployments of Aurora MySQL with Airflow"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    add_sandbox_commands(commands)
    # The demo parses its own options: everything after `demo` is handed over untouched.
    commands.add_parser("demo", add_help=False, help="run the end-to-end demo (see `demo --help`)")
    args, rest = parser.parse_known_args(argv)
    if args.command == "demo":
        from aurora_bluegreen import demo

        return demo.main(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    return run_sandbox_command(args)


if __name__ == "__main__":
    raise SystemExit(main())
