"""One mariadbd process: its files, how to initialise, start, wait for and stop it."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Protocol

import pymysql

from aurora_bluegreen.errors import ServerError, ServerExited
from aurora_bluegreen.sandbox import aurora_function
from aurora_bluegreen.sandbox.connect import root_connection


class ServerPrograms(Protocol):
    """Where a MariaDB server's programs come from (``installations.MariadbInstallation``)."""

    @property
    def plugin_dir(self) -> Path: ...
    def environment(self, base: Mapping[str, str]) -> dict[str, str]: ...
    def command(self, program: str, *arguments: str) -> list[str]: ...
    def server_options(self) -> list[str]: ...


# Aurora's binlog base name, so the coordinates the sandbox hands out look like Aurora's.
BINLOG_BASENAME = "mysql-bin-changelog"
# AF_UNIX paths longer than this do not fit in sockaddr_un.
_MAX_SOCKET_PATH = 100
_BINARY_DIRS = ("/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin")

# performance_schema is on only because mysql.rds_skip_repl_error needs
# replication_applier_status_by_coordinator, which is filled regardless of these sizes. Setting
# every buffer to 0 keeps the server at its usual ~90 MB instead of ~190 MB.
PERFORMANCE_SCHEMA_BUFFERS = (
    "accounts-size",
    "digests-size",
    "events-stages-history-long-size",
    "events-stages-history-size",
    "events-statements-history-long-size",
    "events-statements-history-size",
    "events-transactions-history-long-size",
    "events-transactions-history-size",
    "events-waits-history-long-size",
    "events-waits-history-size",
    "hosts-size",
    "max-cond-instances",
    "max-digest-length",
    "max-file-handles",
    "max-file-instances",
    "max-index-stat",
    "max-metadata-locks",
    "max-mutex-instances",
    "max-prepared-statements-instances",
    "max-program-instances",
    "max-rwlock-instances",
    "max-socket-instances",
    "max-sql-text-length",
    "max-table-handles",
    "max-table-instances",
    "max-table-lock-stat",
    "max-thread-instances",
    "session-connect-attrs-size",
    "setup-actors-size",
    "setup-objects-size",
    "users-size",
)


def find_binary(name: str) -> str:
    """Path of a MariaDB program; /usr/sbin is searched too because it is often not on PATH."""
    found = shutil.which(name) or shutil.which(name, path=os.pathsep.join(_BINARY_DIRS))
    if not found:
        raise ServerError(f"{name} not found on PATH or in {', '.join(_BINARY_DIRS)}")
    return found


def mariadb_version() -> str:
    """``MariaDB 10.11.14`` for the mariadbd this machine runs."""
    result = subprocess.run(
        [find_binary("mariadbd"), "--version"], capture_output=True, text=True, check=False
    )
    match = re.search(r"Ver (\d+\.\d+\.\d+)", result.stdout)
    return f"MariaDB {match.group(1)}" if match else f"MariaDB ({result.stdout.strip() or 'version unknown'})"


@cache
def mariadb_plugin_dir() -> Path:
    """Where the machine's mariadbd keeps its plugins (``/usr/lib/mysql/plugin`` on Debian)."""
    result = subprocess.run(
        [find_binary("mariadbd"), "--no-defaults", "--verbose", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    match = re.search(r"^plugin-dir\s+(\S+)", result.stdout, re.MULTILINE)
    if match is None:
        raise ServerError(f"mariadbd --verbose --help names no plugin-dir: {result.stderr[-500:]}")
    return Path(match.group(1))


def binaries_missing() -> list[str]:
    """The MariaDB programs the sandbox needs that are not installed."""
    missing = []
    for name in ("mariadbd", "mariadb-install-db", "mariadb-backup"):
        try:
            find_binary(name)
        except ServerError:
            missing.append(name)
    return missing


@dataclass(frozen=True)
class ServerFiles:
    """Where one server keeps its data directory, socket, pid file and logs."""

    server_dir: Path
    datadir: Path
    socket: Path
    pid_file: Path
    log_error: Path
    console_log: Path

    @classmethod
    def under(cls, server_dir: Path, cluster_id: str) -> ServerFiles:
        return cls(
            server_dir=server_dir,
            datadir=server_dir / "data",
            socket=_socket_path(server_dir, cluster_id),
            pid_file=server_dir / "mariadbd.pid",
            log_error=server_dir / "error.log",
            console_log=server_dir / "console.log",
        )


def _socket_path(server_dir: Path, cluster_id: str) -> Path:
    preferred = server_dir / "mariadbd.sock"
    if len(str(preferred)) <= _MAX_SOCKET_PATH:
        return preferred
    # A deep state directory would not fit in sockaddr_un; a short per-directory spot in /tmp does.
    digest = hashlib.sha1(str(server_dir).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / "aurora-bluegreen" / f"{cluster_id[:40]}-{digest}.sock"


def _os_user() -> str:
    # mariadbd refuses to run as root unless told --user=root; for anyone else it is a no-op.
    return pwd.getpwuid(os.geteuid()).pw_name


log = logging.getLogger(__name__)

INSTALL_DB_ATTEMPTS = 3
START_ATTEMPTS = 3


def init_datadir(datadir: Path) -> None:
    """A fresh system schema in ``datadir``; root may log in over the socket only."""
    datadir.parent.mkdir(parents=True, exist_ok=True)
    command = [
        find_binary("mariadb-install-db"),
        "--no-defaults",
        f"--datadir={datadir}",
        f"--user={_os_user()}",
        "--auth-root-authentication-method=socket",
        "--skip-test-db",
        "--innodb-log-file-size=8M",
    ]
    # The bootstrap server now and then segfaults on a busy machine (seen here: 1 in ~100 runs,
    # under parallel test load); a clean directory and another go has always succeeded.
    for attempt in range(1, INSTALL_DB_ATTEMPTS + 1):
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode == 0:
            return
        log.warning("mariadb-install-db failed (attempt %d of %d), retrying", attempt, INSTALL_DB_ATTEMPTS)
        shutil.rmtree(datadir, ignore_errors=True)
    raise ServerError(f"mariadb-install-db failed ({result.returncode}): {result.stderr[-2000:]}")


def start(
    files: ServerFiles,
    port: int,
    server_id: int,
    read_only: bool,
    function: aurora_function.AuroraFunction | None,
    installation: ServerPrograms,
) -> int:
    """Launch mariadbd in its own session (it outlives the caller) and return its pid.

    ``function`` gives it the sandbox's ``aurora_version()``; without it, the engine's plugins only.
    ``installation`` is the MariaDB it runs (``installations.py``).
    """
    files.socket.parent.mkdir(parents=True, exist_ok=True)
    tmpdir = files.server_dir / "tmp"
    tmpdir.mkdir(parents=True, exist_ok=True)
    plugins, environment = aurora_function.server_setup(
        files.server_dir, installation.plugin_dir, installation.environment(os.environ), function
    )
    command = installation.command(
        "mariadbd",
        "--no-defaults",
        f"--user={_os_user()}",
        *installation.server_options(),
        f"--datadir={files.datadir}",
        f"--socket={files.socket}",
        f"--port={port}",
        "--bind-address=127.0.0.1",
        f"--pid-file={files.pid_file}",
        f"--log-error={files.log_error}",
        # Its own temp directory: a shared /tmp that something else cleans broke implicit temp tables.
        f"--tmpdir={tmpdir}",
        f"--server-id={server_id}",
        f"--log-bin={BINLOG_BASENAME}",
        "--relay-log=relay-bin",
        "--binlog-format=ROW",
        "--log-slave-updates=1",
        # Replication is resumed by the sandbox after each start, if the rds procedures left it
        # running (procedures.resume_replication), not by the server on its own.
        "--skip-slave-start",
        # Aurora resolves no host names; the users are created for '%'.
        "--skip-name-resolve",
        "--character-set-server=utf8mb4",
        "--collation-server=utf8mb4_general_ci",
        "--innodb-buffer-pool-size=16M",
        "--innodb-log-file-size=8M",
        # Flush the redo log once a second rather than per commit: a killed mariadbd loses
        # nothing (the OS has the data), only a host crash could, and commits get cheaper.
        "--innodb-flush-log-at-trx-commit=2",
        f"--read-only={'ON' if read_only else 'OFF'}",
        f"--plugin-dir={plugins}",
        "--performance-schema=ON",
        *(f"--performance-schema-{name}=0" for name in PERFORMANCE_SCHEMA_BUFFERS),
    )
    return spawn(command, environment, files)


def spawn(command: list[str], environment: dict[str, str] | os._Environ, files: ServerFiles) -> int:
    """Launch a server in its own session, its output in ``console_log``; return once it is exec'd.

    posix_spawn rather than subprocess.Popen: no Popen object to warn "still running" when it is
    garbage-collected, and a new session keeps Ctrl-C in the caller's terminal away from it.
    """
    pid = os.posix_spawn(
        command[0],
        command,
        environment,
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, str(files.console_log), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ],
        setsid=True,
    )
    _wait_for_exec(pid)
    return pid


def _wait_for_exec(pid: int, timeout: float = 5) -> None:
    """Return once the new process's command line is readable, or it is gone.

    posix_spawn returns while the kernel is still inside execve, and for a moment /proc/PID/cmdline
    reads empty (seen here in 4 of 8 mysqld and 8 of 20 mariadbd starts): is_running, which
    recognises the server by that command line, would take a live server for a dead one.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if Path(f"/proc/{pid}/cmdline").read_bytes():
                return
        except (FileNotFoundError, ProcessLookupError):
            return
        time.sleep(0.001)


def wait_until_ready(files: ServerFiles, pid: int, timeout: float = 60) -> None:
    """Return once root can connect over the socket; fail fast if the process died."""
    deadline = time.monotonic() + timeout
    while True:
        if not is_running(pid, files):
            raise ServerExited(f"mariadbd (pid {pid}) exited while starting:\n{startup_log(files)}")
        # Probe with a bare socket first: a refused pymysql connect leaves its socket unclosed,
        # and the socket file appears (or is left from a crash) before the server listens.
        if _listening(files.socket):
            with contextlib.suppress(pymysql.err.OperationalError):
                root_connection(str(files.socket), connect_timeout=1).close()
                return
        if time.monotonic() > deadline:
            raise ServerError(
                f"mariadbd (pid {pid}) did not accept connections within {timeout}s:\n{startup_log(files)}"
            )
        time.sleep(0.01)


def _listening(socket_path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        return probe.connect_ex(str(socket_path)) == 0


def startup_log(files: ServerFiles, lines: int = 15) -> str:
    tails = []
    for path in (files.console_log, files.log_error):
        if path.exists():
            text = path.read_text(errors="replace").splitlines()[-lines:]
            tails.append(f"--- {path}\n" + "\n".join(text))
    return "\n".join(tails) or "(no log written)"


def is_running(pid: int | None, files: ServerFiles) -> bool:
    """Whether ``pid`` is still this server, judged by its command line.

    A recorded pid can outlive its server (kill -9, reboot) and be reused by another process,
    which must never be taken for the server, let alone be sent a signal.
    """
    if pid is None:
        return False
    # Reap it if it is our exited child, so it stops existing; any other parent reaps its own.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    try:
        arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (FileNotFoundError, ProcessLookupError):
        return False
    return f"--datadir={files.datadir}".encode() in arguments


def stop(pid: int | None, files: ServerFiles, kill: bool = False, timeout: float = 60) -> None:
    """SIGTERM (a clean shutdown) or SIGKILL (a crash), then wait until the process is gone."""
    if not is_running(pid, files):
        return
    try:
        os.kill(pid, signal.SIGKILL if kill else signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while is_running(pid, files):
        if time.monotonic() > deadline:
            raise ServerError(f"mariadbd (pid {pid}) still running {timeout}s after the signal")
        time.sleep(0.005)


def free_port(taken: set[int]) -> int:
    """A TCP port on 127.0.0.1 that is free now and not recorded for another sandbox server."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port not in taken:
            return port
