"""One mysqld from the MySQL Debian root: its command line, a cached template data directory, start.

How mysqld runs, and why not in a chroot. FACTS.md ran ``chroot ROOT /usr/sbin/mysqld``; that
needs root privileges, and every path mysqld touches (data directory, socket, pid file, logs,
tmpdir) must then lie inside the root, so a sandbox state directory anywhere else (pytest's tmp
dir, ``.sandbox`` in a checkout) would need bind mounts. Instead the root's own dynamic loader
runs the root's mysqld, ``ROOT/usr/lib/<arch>/ld-linux-*.so --library-path ROOT/usr/lib/<arch>
ROOT/usr/sbin/mysqld --basedir=ROOT/usr ...``: every library comes from the root (a running
server's /proc/PID/maps lists no other, the clone plugin's included), and every path argument is
an ordinary host path. Measured on this machine (2026-12-01): both ways accept connections 0.40-0.49 s after
launch; under strace the loader-run mysqld opens no host file but /etc/passwd, /etc/nsswitch.conf
and /etc/localtime (wanted: host users and time zone) and the host's OpenSSL configuration, which
belongs to another OpenSSL version and is therefore switched off (``OPENSSL_CONF``). Limits: the
library path does not pass to child processes (mysqld starts none), and the process's command
line begins with the loader, so a server is recognised by its ``--datadir=`` argument, as
``sandbox.server.is_running`` does.

``--initialize-insecure`` takes 3 s on a quiet machine and 10-15 s under load, so it runs once per
root into a cached template (built like a root: temporary directory, then rename, under a lock);
each new server gets a copy without ``auto.cnf``, so it makes its own server_uuid at first start.
root@localhost has an empty password: it logs in over the socket with no password, as on MariaDB.

Waiting, liveness and stopping are the MariaDB engine's (``sandbox.server``): they need nothing
engine-specific.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import pwd
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from aurora_bluegreen.errors import ServerError
from aurora_bluegreen.sandbox import aurora_function, server
from aurora_bluegreen.sandbox.debian_root import MYSQL_ROOT, DebianRoot, build_once, ensure_root
from aurora_bluegreen.sandbox.server import BINLOG_BASENAME, ServerFiles
from aurora_bluegreen.sandbox.state import file_lock

log = logging.getLogger(__name__)

INITIALIZE_ATTEMPTS = 3
# Small redo log for the template (16 MB instead of 100 MB: a 106 MB copy instead of 190 MB);
# servers resize it at start (--innodb-redo-log-capacity is dynamic).
INITIALIZE_OPTIONS = ("--initialize-insecure", "--innodb-redo-log-capacity=16M")
# The root's libcrypto would read the host's OpenSSL configuration, written for another version.
# Debian's mysqld uses tcmalloc, which returns freed memory sooner this way (idle RSS 219 -> 197 MB).
_ENVIRONMENT = {"OPENSSL_CONF": os.devnull, "TCMALLOC_AGGRESSIVE_DECOMMIT": "true"}

# performance_schema stays on: with it off, clone_status stays empty after a clone (seen here), and
# the rds procedures read its replication tables. These buffers at 0 keep those tables and cut the
# idle RSS from 441 MB to 197 MB, the same as with performance_schema off. What remains is mostly
# InnoDB structures of fixed size (82 MB of zeroed heap pages) and the 41 MB of mysqld's code.
# Both engines' buffers at 0 (``sandbox.server``), plus MySQL's error summary table.
_PERFORMANCE_SCHEMA_BUFFERS = (*server.PERFORMANCE_SCHEMA_BUFFERS, "error-size")


@dataclass(frozen=True)
class MysqlInstallation:
    """The MySQL programs of a Debian root, and how to run them from the host."""

    root: Path
    version: str

    @classmethod
    def from_root(cls, root: DebianRoot) -> MysqlInstallation:
        return cls(root=root.path, version=root.version)

    @property
    def library_dir(self) -> Path:
        """The root's multiarch library directory, the one that holds its dynamic loader."""
        loaders = sorted(self.root.glob("usr/lib/*-linux-gnu/ld-linux*.so.*"))
        if not loaders:
            raise ServerError(f"no dynamic loader in {self.root}/usr/lib/*-linux-gnu: not a usable root")
        return loaders[0].parent

    def command(self, program: str, *arguments: str) -> list[str]:
        """Run ``program`` (a path inside the root, such as ``usr/bin/mysql``) with the root's libraries."""
        loader = next(self.library_dir.glob("ld-linux*.so.*"))
        return [str(loader), "--library-path", str(self.library_dir), str(self.root / program), *arguments]

    @property
    def plugin_dir(self) -> Path:
        return self.root / "usr/lib/mysql/plugin"

    def mysqld(self, *arguments: str, plugin_dir: Path | None = None) -> list[str]:
        """mysqld with the root's files and no option files: everything else comes from ``arguments``."""
        return self.command(
            "usr/sbin/mysqld",
            "--no-defaults",
            # mysqld refuses to run as root unless told --user=root; for anyone else it is a no-op.
            f"--user={pwd.getpwuid(os.geteuid()).pw_name}",
            f"--basedir={self.root / 'usr'}",
            f"--plugin-dir={plugin_dir or self.plugin_dir}",
            f"--lc-messages-dir={self.root / 'usr/share/mysql'}",
            f"--character-sets-dir={self.root / 'usr/share/mysql/charsets'}",
            *arguments,
        )


def mysql_installation() -> MysqlInstallation:
    """The MySQL root's programs, building the root first if needed (RootBuildError if that fails)."""
    return MysqlInstallation.from_root(ensure_root(MYSQL_ROOT))


def server_files(server_dir: Path, cluster_id: str) -> ServerFiles:
    """The MariaDB engine's layout (its socket name and /tmp fallback too), with mysqld's pid file."""
    files = ServerFiles.under(server_dir, cluster_id)
    return dataclasses.replace(files, pid_file=server_dir / "mysqld.pid")


def template_datadir(installation: MysqlInstallation) -> Path:
    """A freshly initialised data directory for this root, made once and reused (copy it, never use it)."""
    digest = hashlib.sha256(" ".join((installation.version, *INITIALIZE_OPTIONS)).encode()).hexdigest()
    target = installation.root.parent / f"{installation.root.name}.mysql-template-{digest[:10]}"
    if not target.is_dir():
        with file_lock(target.parent / f"{target.name}.lock"):
            build_once(target, lambda partial: _initialize(installation, partial / "data"))
    return target / "data"


def init_datadir(installation: MysqlInstallation, datadir: Path) -> None:
    """A new data directory: a copy of the template, which has no server_uuid (auto.cnf) of its own.

    Copies share the template's TLS certificates and RSA key pair, which is harmless on loopback.
    """
    datadir.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(template_datadir(installation), datadir, symlinks=True)


def _initialize(installation: MysqlInstallation, datadir: Path) -> None:
    log_file = datadir.parent / "initialize.log"
    command = installation.mysqld(*INITIALIZE_OPTIONS, f"--datadir={datadir}", f"--log-error={log_file}")
    started = time.monotonic()
    for attempt in range(1, INITIALIZE_ATTEMPTS + 1):
        result = subprocess.run(command, capture_output=True, text=True, env=_environment(), check=False)
        if result.returncode == 0:
            # A copy must make its own server_uuid: replication refuses a source with the replica's.
            (datadir / "auto.cnf").unlink()
            log.info("Initialised the MySQL template %s in %.1fs", datadir, time.monotonic() - started)
            return
        log.warning("mysqld --initialize failed (attempt %d of %d)", attempt, INITIALIZE_ATTEMPTS)
        shutil.rmtree(datadir, ignore_errors=True)
    written = log_file.read_text(errors="replace")[-3000:] if log_file.exists() else result.stderr[-3000:]
    raise ServerError(f"mysqld --initialize-insecure failed ({result.returncode}):\n{written}")


def start(
    installation: MysqlInstallation,
    files: ServerFiles,
    port: int,
    server_id: int,
    read_only: bool,
    function: aurora_function.AuroraFunction | None = None,
) -> int:
    """Launch mysqld in its own session (it outlives the caller) and return its pid.

    ``function`` gives it the sandbox's ``aurora_version()``; without it, the root's plugins only.
    """
    files.socket.parent.mkdir(parents=True, exist_ok=True)
    (files.server_dir / "tmp").mkdir(parents=True, exist_ok=True)
    # A server killed with SIGKILL leaves ``<socket>.lock`` naming its pid; once that pid is reused
    # by any process, mysqld refuses to start ("Another process ... is using unix socket file").
    # Nothing of this cluster runs now (the sandbox starts only a stopped server), so it is stale.
    Path(f"{files.socket}.lock").unlink(missing_ok=True)
    plugins, environment = aurora_function.server_setup(
        files.server_dir, installation.plugin_dir, _environment(), function
    )
    command = installation.mysqld(*server_options(files, port, server_id, read_only), plugin_dir=plugins)
    return server.spawn(command, environment, files)


def server_options(files: ServerFiles, port: int, server_id: int, read_only: bool) -> list[str]:
    """mysqld's options: the MariaDB engine's where MySQL has them, plus GTIDs and the clone plugin."""
    return [
        f"--datadir={files.datadir}",
        f"--socket={files.socket}",
        f"--port={port}",
        "--bind-address=127.0.0.1",
        f"--pid-file={files.pid_file}",
        f"--log-error={files.log_error}",
        f"--tmpdir={files.server_dir / 'tmp'}",
        # The X plugin would listen on port 33060 for every server, and nothing here speaks it.
        "--mysqlx=OFF",
        # Without it mysqld aborts: its default directory, /var/lib/mysql-files, does not exist.
        "--secure-file-priv=NULL",
        f"--server-id={server_id}",
        f"--log-bin={BINLOG_BASENAME}",
        "--relay-log=relay-bin",
        "--binlog-format=ROW",
        "--gtid-mode=ON",
        "--enforce-gtid-consistency=ON",
        "--log-replica-updates",
        # Replication is resumed by the sandbox after each start, if the rds procedures left it
        # running (procedures.resume_replication), not by the server on its own.
        "--skip-replica-start",
        # Aurora resolves no host names; the users are created for '%'.
        "--skip-name-resolve",
        "--plugin-load-add=mysql_clone.so",
        f"--read-only={'ON' if read_only else 'OFF'}",
        # 16 MB as on the MariaDB engine (5 MB would save 10 MB of RSS); the 16 MB default log
        # buffer alone costs 63 MB of RSS.
        "--innodb-buffer-pool-size=16M",
        "--innodb-log-buffer-size=1M",
        "--innodb-redo-log-capacity=32M",
        # Flush the redo log and the binlog once a second rather than per commit: a killed mysqld
        # loses nothing (the OS has the data), only a host crash could, and commits get cheaper.
        "--innodb-flush-log-at-trx-commit=2",
        "--sync-binlog=0",
        "--performance-schema=ON",
        *(f"--performance-schema-{name}=0" for name in _PERFORMANCE_SCHEMA_BUFFERS),
    ]


def _environment() -> dict[str, str]:
    return {**os.environ, **_ENVIRONMENT}
