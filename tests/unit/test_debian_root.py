"""debian_root without the network: apt sources parsing, and builds by a stand-in debootstrap.

The stand-in is a shell script on PATH that writes the dpkg status a real build would leave (or
fails the way debootstrap does), so the caching, locking, renaming and error paths run for real.
"""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from aurora_bluegreen.errors import RootBuildError
from aurora_bluegreen.sandbox import debian_root
from aurora_bluegreen.sandbox.debian_root import RootSpec, ensure_root, find_root

SPEC = RootSpec("sid", ("mysql-server-core", "mysql-client-core"), "mysql-server-core")

FAKE_DEBOOTSTRAP = """#!/bin/sh
# debootstrap --variant=minbase --include=PKGS SUITE TARGET ARCHIVE
echo "$@" >> "{calls}"
sleep {sleep}
[ -n "{fail}" ] && {{ echo "E: Couldn't find these debs: {fail}"; exit 1; }}
mkdir -p "$4/var/lib/dpkg"
printf 'Package: mysql-server-core\\nStatus: install ok installed\\nVersion: 9.7.4-2\\n\\n' \\
    > "$4/var/lib/dpkg/status"
"""


@pytest.fixture
def fake_debootstrap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Install a stand-in debootstrap; returns a function that configures it and the calls file."""
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv(debian_root.ARCHIVE_ENV, "http://archive.invalid/debian")

    def configure(sleep: float = 0, fail: str = "") -> Path:
        script = bin_dir / "debootstrap"
        script.write_text(FAKE_DEBOOTSTRAP.format(calls=calls, sleep=sleep, fail=fail))
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
        return calls

    return configure


needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="ensure_root refuses to run debootstrap without root"
)


@needs_root
def test_a_root_is_built_once_and_its_version_recorded(tmp_path: Path, fake_debootstrap) -> None:
    calls = fake_debootstrap()
    roots = tmp_path / "roots"
    built = ensure_root(SPEC, roots)
    assert built.path == roots / SPEC.name and built.path.is_dir()
    assert (built.version, built.main_package, built.archive) == (
        "9.7.4-2",
        "mysql-server-core",
        "http://archive.invalid/debian",
    )
    assert find_root(SPEC, roots) == built
    assert ensure_root(SPEC, roots) == built
    assert calls.read_text().count("\n") == 1
    assert "--include=mysql-server-core,mysql-client-core sid" in calls.read_text()
    assert oct(built.path.stat().st_mode & 0o777) == "0o755"


@needs_root
def test_two_builders_at_once_build_once(tmp_path: Path, fake_debootstrap) -> None:
    calls = fake_debootstrap(sleep=0.5)
    roots, results = tmp_path / "roots", []
    threads = [threading.Thread(target=lambda: results.append(ensure_root(SPEC, roots))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 2 and results[0] == results[1]
    assert calls.read_text().count("\n") == 1


@needs_root
def test_a_failed_build_says_why_and_leaves_nothing_to_use(tmp_path: Path, fake_debootstrap) -> None:
    fake_debootstrap(fail="mysql-server-core")
    roots = tmp_path / "roots"
    with pytest.raises(RootBuildError) as failed:
        ensure_root(SPEC, roots)
    message = str(failed.value)
    assert "Couldn't find these debs: mysql-server-core" in message
    assert "python -m aurora_bluegreen.sandbox.debian_root mysql" in message
    assert "--engine mariadb" in message
    assert find_root(SPEC, roots) is None
    assert not (roots / SPEC.name).exists()
    assert not list(roots.glob(f".{SPEC.name}.partial-*"))


@needs_root
def test_a_half_built_root_left_by_a_crash_is_removed_before_building(
    tmp_path: Path, fake_debootstrap
) -> None:
    fake_debootstrap()
    roots = tmp_path / "roots"
    leftover = roots / f".{SPEC.name}.partial-crashed"
    (leftover / "usr").mkdir(parents=True)
    ensure_root(SPEC, roots)
    assert not leftover.exists()


def test_missing_debootstrap_says_how_to_install_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(debian_root.shutil, "which", lambda *args, **kwargs: None)
    with pytest.raises(RootBuildError, match=r"apt-get install -y debootstrap.*--engine mariadb"):
        ensure_root(SPEC, tmp_path / "roots")


def test_the_archive_is_the_source_of_this_machines_release(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sources_dir = tmp_path / "sources.list.d"
    sources_dir.mkdir()
    (sources_dir / "debian.sources").write_text(
        "Types: deb\nURIs: http://security.example/debian-security\nSuites: bookworm-security\n"
        "Components: main\n\n"
        "Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\n\n"
        "Types: deb\nURIs: http://off.example/debian\nSuites: bookworm\nEnabled: no\n\n"
        "Types: deb\n# a comment\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\n"
    )
    (tmp_path / "os-release").write_text(
        'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nVERSION_CODENAME=bookworm\n'
    )
    monkeypatch.delenv(debian_root.ARCHIVE_ENV, raising=False)
    monkeypatch.setattr(debian_root, "_APT_SOURCES_DIR", sources_dir)
    monkeypatch.setattr(debian_root, "_APT_SOURCES_LIST", tmp_path / "sources.list")
    monkeypatch.setattr(debian_root, "_OS_RELEASE", tmp_path / "os-release")
    assert debian_root.debian_archive() == "http://mirror.example/debian"

    (sources_dir / "debian.sources").unlink()
    (tmp_path / "sources.list").write_text(
        "# deb http://commented.example/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/usr/share/keyrings/d.gpg] http://one-line.example/debian bookworm main\n"
    )
    assert debian_root.debian_archive() == "http://one-line.example/debian"

    (tmp_path / "sources.list").unlink()
    with pytest.raises(RootBuildError, match=debian_root.ARCHIVE_ENV):
        debian_root.debian_archive()
    monkeypatch.setenv(debian_root.ARCHIVE_ENV, "http://chosen.example/debian")
    assert debian_root.debian_archive() == "http://chosen.example/debian"


def test_roots_live_in_the_user_cache_unless_told_otherwise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(debian_root.ROOTS_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert debian_root.roots_dir() == tmp_path / "cache" / "aurora-bluegreen" / "roots"
    monkeypatch.setenv(debian_root.ROOTS_ENV, str(tmp_path / "elsewhere"))
    assert debian_root.roots_dir() == tmp_path / "elsewhere"


def test_a_different_package_set_is_a_different_root() -> None:
    assert SPEC.name.startswith("sid-")
    assert RootSpec("sid", ("mysql-client-core", "mysql-server-core"), "mysql-server-core").name == SPEC.name
    assert RootSpec("sid", ("mysql-server-core",), "mysql-server-core").name != SPEC.name
    assert debian_root.MARIADB_TRIXIE_ROOT.name.startswith("trixie-")
