"""Minimal Debian roots, built once with debootstrap and cached, for servers the host has no package for.

Debian 12's archive has no MySQL server, and the servers of newer suites need a newer C library
than the host's, so they run from a root of their own (FACTS.md: "MySQL 9.7 and MariaDB 11.8 from
Debian, in a chroot"). A root is named by its suite and package set, ``<suite>-<hash>``, so a
different package set is a different root.

What this module guarantees:

- A root directory is complete whenever it exists. debootstrap fills a temporary sibling that is
  renamed into place as the last step; a crash leaves only a ``.<name>.partial-*`` directory,
  which the next build removes.
- One build per root at a time, across processes: the builder holds ``<name>.lock`` (flock),
  and a second caller waits for it and then uses the finished root.
- Roots live outside the repository and survive between runs: ``$AURORA_BLUEGREEN_ROOTS``, else
  ``$XDG_CACHE_HOME/aurora-bluegreen/roots``, else ``~/.cache/aurora-bluegreen/roots``.
- The archive comes from the machine's own apt sources (``AURORA_BLUEGREEN_DEBIAN_ARCHIVE``
  overrides it on a machine that has none), never from a mirror written here.
- ``<name>.json`` beside the root records the version of its main package, as dpkg installed it.
- Every failure raises ``RootBuildError`` saying what failed, how to retry, and that the
  MariaDB engine needs no root. Nothing falls back silently.

CLI, for scripts/setup.sh: ``python -m aurora_bluegreen.sandbox.debian_root mysql`` builds the
MySQL root if it is missing and prints ``<path><TAB><version>``; ``... mariadb-trixie`` does the
same for the engine-upgrade root (Debian 13's MariaDB 11.8), and ``... mariadb-upgrade`` builds
whichever root the machine's MariaDB upgrades to, or says why there is none (Debian 13).
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from aurora_bluegreen.errors import RootBuildError
from aurora_bluegreen.sandbox.state import file_lock, read_json, write_json_atomic

log = logging.getLogger(__name__)

ROOTS_ENV = "AURORA_BLUEGREEN_ROOTS"
ARCHIVE_ENV = "AURORA_BLUEGREEN_DEBIAN_ARCHIVE"
_APT_SOURCES_DIR = Path("/etc/apt/sources.list.d")
_APT_SOURCES_LIST = Path("/etc/apt/sources.list")
_OS_RELEASE = Path("/etc/os-release")
_LOG_TAIL_LINES = 25
# "deb [arch=amd64 signed-by=...] URI SUITE COMPONENT..."; the options are optional.
_ONE_LINE_SOURCE = re.compile(r"^\s*deb\s+(?:\[[^\]]*\]\s+)?(?P<uri>\S+)\s+(?P<suite>\S+)")
_ALTERNATIVE = "`--engine mariadb` runs the sandbox on the machine's own MariaDB and needs no root."


@dataclass(frozen=True)
class RootSpec:
    """What a root holds: ``packages`` from ``suite``; ``main_package`` is the one whose version counts."""

    suite: str
    packages: tuple[str, ...]
    main_package: str
    without: str = field(default=_ALTERNATIVE, compare=False)
    """What still works without this root, for error messages."""

    @property
    def name(self) -> str:
        digest = hashlib.sha256(" ".join([self.suite, *sorted(self.packages)]).encode()).hexdigest()
        return f"{self.suite}-{digest[:10]}"


# MySQL is only in Debian's unstable suite (9.7 there, seen 2026-12); the two packages hold mysqld,
# its plugins (clone among them) and the client programs.
MYSQL_ROOT = RootSpec("sid", ("mysql-server-core", "mysql-client-core"), "mysql-server-core")
# For engine upgrades (installations.py): a newer MariaDB than Debian 12's, 11.8 from Debian 13.
# mariadb-server-core holds mariadbd and mariadb-upgrade, mariadb-client-core the mariadb and
# mariadb-check that mariadb-upgrade runs, mariadb-backup the copy tool for clones of an upgraded
# cluster. Built on 2026-12-02 in 27 s, 326 MB, MariaDB 1:11.8.9+ds-0+deb13u1.
MARIADB_TRIXIE_ROOT = RootSpec(
    "trixie",
    ("mariadb-server-core", "mariadb-backup", "mariadb-client-core"),
    "mariadb-server-core",
    without="Only engine upgrades (`sandbox upgrade`) need this root; everything else runs without it.",
)
KNOWN_ROOTS = {"mysql": MYSQL_ROOT, "mariadb-trixie": MARIADB_TRIXIE_ROOT}
UPGRADE_CHOICE = "mariadb-upgrade"
"""The CLI's name for whichever root the machine's MariaDB upgrades to (``installations.py``)."""


@dataclass(frozen=True)
class DebianRoot:
    """A finished root and what its record says about it."""

    path: Path
    suite: str
    packages: tuple[str, ...]
    main_package: str
    version: str
    archive: str
    built_at: str
    build_seconds: float
    size_bytes: int


def roots_dir() -> Path:
    configured = os.environ.get(ROOTS_ENV)
    if configured:
        return Path(configured).expanduser().resolve()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return (cache / "aurora-bluegreen" / "roots").resolve()


def find_root(spec: RootSpec, directory: Path | None = None) -> DebianRoot | None:
    """The finished root for ``spec``, or None if it was never built (or its record is missing)."""
    path = (directory or roots_dir()) / spec.name
    record = read_json(_record_file(path))
    if record is None or not path.is_dir():
        return None
    return DebianRoot(**{**record, "path": path, "packages": tuple(record["packages"])})


def ensure_root(spec: RootSpec, directory: Path | None = None) -> DebianRoot:
    """The root for ``spec``, built first if it does not exist yet (about 30 s to 2 min)."""
    path = (directory or roots_dir()) / spec.name
    found = find_root(spec, path.parent)
    if found is not None:
        return found
    with file_lock(path.parent / f"{spec.name}.lock"):
        if path.is_dir() and not _record_file(path).exists():
            # The record is written before the rename, so only a hand-deleted record gets here:
            # the root itself is complete, and its record can be made again from it.
            _write_record(spec, path, archive="(unknown: record made again from the root)", seconds=0.0)
        build_once(path, lambda target: _debootstrap(spec, target))
    found = find_root(spec, path.parent)
    if found is None:
        raise RootBuildError(f"{path} was built but its record {_record_file(path)} is missing")
    return found


def build_once(target: Path, build: Callable[[Path], None]) -> Path:
    """Run ``build`` into a fresh temporary sibling of ``target`` and rename it into place.

    Call with the target's lock held. A target that exists is returned as it is: it is only ever
    renamed into place complete. Leftovers of builds that died are removed first.
    """
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    for leftover in target.parent.glob(f".{target.name}.partial-*"):
        log.warning("Removing %s, left by a build that did not finish", leftover)
        _remove_tree(leftover)
    partial = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    # mkdtemp makes it 0700; a root built by root is used by other accounts too.
    partial.chmod(0o755)
    try:
        build(partial)
        os.rename(partial, target)
    finally:
        if partial.exists():
            _remove_tree(partial)
    return target


def debian_archive() -> str:
    """The Debian archive this machine's apt uses: the source that serves its own release."""
    override = os.environ.get(ARCHIVE_ENV)
    if override:
        return override
    release = _os_release()
    codename = release.get("VERSION_CODENAME", "")
    for uri, suites in _apt_sources():
        if codename and codename in suites:
            return uri
    raise RootBuildError(
        f"found no apt source for this machine's release ({release.get('PRETTY_NAME', 'unknown')}, "
        f"codename {codename or 'unknown'}) in {_APT_SOURCES_DIR} or {_APT_SOURCES_LIST}. On a machine "
        f"without Debian's archive in its apt sources, set {ARCHIVE_ENV} to a Debian mirror. {_ALTERNATIVE}"
    )


def installed_version(root: Path, package: str) -> str:
    """The version of ``package`` in the root's dpkg database."""
    status = root / "var" / "lib" / "dpkg" / "status"
    for paragraph in status.read_text(errors="replace").split("\n\n"):
        fields = dict(_fields(paragraph))
        if fields.get("Package") == package and fields.get("Status", "").endswith(" installed"):
            return fields["Version"]
    raise RootBuildError(f"{package} is not installed in {root} (read {status})")


def _debootstrap(spec: RootSpec, target: Path) -> None:
    command = _debootstrap_command(spec, target)
    build_log = target.parent / f"{spec.name}.build.log"
    log.info("Building the %s root: %s (log: %s)", spec.suite, " ".join(command), build_log)
    started = time.monotonic()
    with open(build_log, "w") as output:
        result = subprocess.run(command, stdout=output, stderr=subprocess.STDOUT, check=False)
    if result.returncode != 0:
        inner_log = target / "debootstrap" / "debootstrap.log"
        if inner_log.exists():
            with open(build_log, "a") as output:
                output.write(f"\n--- {inner_log}\n{inner_log.read_text(errors='replace')}")
        raise RootBuildError(
            f"debootstrap failed (exit {result.returncode}) building the {spec.suite} root with "
            f"{', '.join(spec.packages)}. Last lines of {build_log}:\n{_tail(build_log)}\n"
            f"To retry: python -m aurora_bluegreen.sandbox.debian_root {_cli_name(spec)} "
            f"(a half-built root is never used; the next attempt starts clean). {spec.without}"
        )
    _write_record(spec, target, archive=command[-1], seconds=time.monotonic() - started)


def _debootstrap_command(spec: RootSpec, target: Path) -> list[str]:
    debootstrap = shutil.which("debootstrap") or shutil.which("debootstrap", path="/usr/sbin:/sbin")
    if debootstrap is None:
        raise RootBuildError(
            "debootstrap is not installed; it builds the Debian root the MySQL engine runs from. "
            f"Install it with: apt-get install -y debootstrap. {spec.without}"
        )
    if os.geteuid() != 0:
        raise RootBuildError(
            f"building a Debian root needs root (debootstrap installs packages into {target.parent}). "
            f"Build it once as root: sudo python -m aurora_bluegreen.sandbox.debian_root {_cli_name(spec)}, "
            f"with {ROOTS_ENV} pointing where the sandbox will look. {spec.without}"
        )
    return [
        debootstrap,
        "--variant=minbase",
        f"--include={','.join(spec.packages)}",
        spec.suite,
        str(target),
        debian_archive(),
    ]


def _write_record(spec: RootSpec, path: Path, archive: str, seconds: float) -> None:
    record = DebianRoot(
        path=path,
        suite=spec.suite,
        packages=spec.packages,
        main_package=spec.main_package,
        version=installed_version(path, spec.main_package),
        archive=archive,
        built_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        build_seconds=round(seconds, 1),
        size_bytes=_size(path),
    )
    data = {key: value for key, value in asdict(record).items() if key != "path"}
    # The record sits beside the final directory, wherever the build itself happened.
    write_json_atomic(_record_file(path.parent / spec.name), {**data, "packages": list(spec.packages)})


def _record_file(root: Path) -> Path:
    return root.parent / f"{root.name}.json"


def _apt_sources() -> Iterator[tuple[str, set[str]]]:
    """(URI, suites) of every enabled binary source, deb822 files first, then one-line ones."""
    for path in sorted(_APT_SOURCES_DIR.glob("*.sources")):
        for paragraph in path.read_text(errors="replace").split("\n\n"):
            fields = dict(_fields(paragraph))
            if "deb" not in fields.get("Types", "").split() or fields.get("Enabled", "yes") == "no":
                continue
            for uri in fields.get("URIs", "").split():
                yield uri, set(fields.get("Suites", "").split())
    one_line = [_APT_SOURCES_LIST, *sorted(_APT_SOURCES_DIR.glob("*.list"))]
    for path in (candidate for candidate in one_line if candidate.is_file()):
        for line in path.read_text(errors="replace").splitlines():
            match = _ONE_LINE_SOURCE.match(line)
            if match:
                yield match.group("uri"), {match.group("suite")}


def _fields(paragraph: str) -> Iterator[tuple[str, str]]:
    """``Name: value`` pairs of a deb822 paragraph; continuation lines and comments are skipped."""
    for line in paragraph.splitlines():
        if line[:1] in (" ", "\t", "#") or ":" not in line:
            continue
        name, value = line.split(":", 1)
        yield name.strip(), value.strip()


def _os_release() -> dict[str, str]:
    if not _OS_RELEASE.exists():
        return {}
    pairs = (line.split("=", 1) for line in _OS_RELEASE.read_text().splitlines() if "=" in line)
    return {name: value.strip().strip('"') for name, value in pairs}


def _remove_tree(path: Path) -> None:
    # debootstrap mounts /proc and /sys inside the root while it configures packages; a build killed
    # then leaves them mounted, and they must be unmounted before anything is deleted below them.
    prefix = f"{path.resolve()}/"
    mounts = [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()]
    for mount_point in sorted((m for m in mounts if m.startswith(prefix)), key=len, reverse=True):
        subprocess.run(["umount", "--lazy", mount_point], check=False)
    shutil.rmtree(path, ignore_errors=True)


def _size(path: Path) -> int:
    total = 0
    for directory, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(directory, name)).st_size
            except OSError:
                continue
    return total


def _tail(path: Path) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-_LOG_TAIL_LINES:])


def _cli_name(spec: RootSpec) -> str:
    return next((name for name, known in KNOWN_ROOTS.items() if known == spec), spec.suite)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m aurora_bluegreen.sandbox.debian_root",
        description="Build a Debian root for the sandbox if it is missing; print its path and version.",
    )
    parser.add_argument(
        "root",
        choices=sorted(KNOWN_ROOTS),
        help="which root (the one this machine's MariaDB upgrades to: python -m "
        "aurora_bluegreen.sandbox.installations upgrade-root)",
    )
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    return build_and_print(arguments.root)


def build_and_print(name: str) -> int:
    """The CLIs' answer: build (or find) the root called ``name`` and print its path and version;
    the exit status."""
    try:
        root = ensure_root(KNOWN_ROOTS[name])
    except RootBuildError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"{root.path}\t{root.version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
