"""The processes of a demo stack: free ports, sessions, signals, and their log files.

Each component of a stack runs in its own session, and task processes stay in the session of the
scheduler or worker that started them: so a stack is stopped by its sessions, not by its pids.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt while inside, so ``finally`` blocks still stop the stack.

    A CI timeout or ``kill`` sends SIGTERM, which by default ends Python without unwinding and
    leaves every Airflow process running.
    """

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        # As uvicorn does: connections of a stopped server linger in TIME_WAIT for a minute.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def pids_in_sessions(sessions: set[int]) -> list[int]:
    """Live processes (not zombies) whose session id is one of ``sessions``."""
    if not sessions:
        return []
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = proc_stat(int(entry.name))
            if stat and stat[0] != "Z" and int(stat[3]) in sessions:
                found.append(int(entry.name))
    return found


def proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name: state, ppid, pgrp, session, ..."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()


def session_of(pid: int) -> int | None:
    stat = proc_stat(pid)
    return int(stat[3]) if stat else None


# What a stack starts: Airflow's components and workers, and the Celery stack's servers.
_STACK_PROGRAMS = (b"airflow", b"postgres", b"redis-server")


def runs_a_stack_program(pid: int) -> bool:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return any(program in command for program in _STACK_PROGRAMS)


def signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signum)


def signal_pid(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def wait_gone(sessions: set[int], seconds: float) -> list[int]:
    """Wait up to ``seconds`` for the sessions to empty; return who is still there."""
    deadline = time.monotonic() + seconds
    while (left := pids_in_sessions(sessions)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {path})"


def write_private(path: Path, text: str) -> None:
    path.touch(mode=0o600)
    path.write_text(text)
