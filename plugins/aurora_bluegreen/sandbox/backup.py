"""Hot physical copy of a running server with mariadb-backup: the sandbox's copy-on-write clone.

The backup briefly blocks commits (BLOCK_COMMIT) while it notes the binlog position, so the data
and the coordinates in ``xtrabackup_binlog_info`` describe exactly the same point.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aurora_bluegreen.errors import ServerError
from aurora_bluegreen.models import BinlogPosition, CloneCoordinates
from aurora_bluegreen.sandbox.server import find_binary

COORDINATES_EVIDENCE = "mariadb-backup xtrabackup_binlog_info"
# Where the backup notes the binlog coordinates: mariadb-backup 10.11 writes the first name, 11.8
# (installations.py) the second (seen with 11.8.9).
BINLOG_INFO_FILES = ("xtrabackup_binlog_info", "mariadb_backup_binlog_info")
# Milliseconds between redo-log copies. The default (1 s) stalls the source's commits for about
# a second during BLOCK_COMMIT; 10 ms keeps that stall near 30-45 ms.
_LOG_COPY_INTERVAL_MS = 10


@dataclass(frozen=True)
class BackupCoordinates:
    binlog_file: str
    binlog_position: int
    gtid: str

    def as_clone_coordinates(self) -> CloneCoordinates:
        return CloneCoordinates(
            position=BinlogPosition(self.binlog_file, self.binlog_position),
            gtid_set=self.gtid or None,
            evidence=COORDINATES_EVIDENCE,
        )


def copy_running_server(
    source_socket: str, work_dir: Path, target_datadir: Path, program: Sequence[str] | None = None
) -> BackupCoordinates:
    """Back up the server behind ``source_socket`` into ``target_datadir``, ready to start.

    ``work_dir`` (empty or absent) holds the backup while it is prepared; it is removed afterwards.
    ``program`` runs mariadb-backup (default: the machine's); it must be the source server's own
    version's (``installations.MariadbInstallation.command``).
    """
    program = list(program or [find_binary("mariadb-backup")])
    _run(
        program,
        "--backup",
        f"--target-dir={work_dir}",
        f"--socket={source_socket}",
        "--user=root",
        f"--log-copy-interval={_LOG_COPY_INTERVAL_MS}",
    )
    found = (work_dir / name for name in BINLOG_INFO_FILES)
    coordinates = read_binlog_info(next((path for path in found if path.exists()), work_dir / "(none)"))
    _run(program, "--prepare", f"--target-dir={work_dir}")
    _run(program, "--move-back", f"--target-dir={work_dir}", f"--datadir={target_datadir}")
    shutil.rmtree(work_dir, ignore_errors=True)
    return coordinates


def read_binlog_info(path: Path) -> BackupCoordinates:
    """Parse ``file<TAB>position<TAB>gtid`` (the gtid column is absent on old versions)."""
    fields = path.read_text().strip().split("\t")
    if len(fields) < 2:
        raise ServerError(f"{path} does not hold binlog coordinates: {fields!r}")
    return BackupCoordinates(
        binlog_file=fields[0],
        binlog_position=int(fields[1]),
        gtid=fields[2] if len(fields) > 2 else "",
    )


def _run(program: list[str], *arguments: str) -> None:
    command = [*program, "--no-defaults", *arguments]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ServerError(
            f"mariadb-backup {arguments[0]} failed ({result.returncode}):\n{result.stderr[-3000:]}"
        )
