"""Which engine upgrade the sandbox offers (``installations.UPGRADE_PATHS``), and how it runs a root's
programs, without servers or a real root."""

from __future__ import annotations

from pathlib import Path

import pytest

from aurora_bluegreen.errors import UpgradeUnavailable
from aurora_bluegreen.sandbox.installations import (
    MariadbInstallation,
    mysql_refusal,
    release_series,
    upgrade_path,
)
from aurora_bluegreen.sandbox.state import ClusterRecord


@pytest.mark.parametrize(
    ("version", "series"),
    [
        ("10.11.19", "10.11"),
        ("10.11.19-MariaDB-0+deb12u1-log", "10.11"),
        ("1:11.8.9+ds-0+deb13u1", "11.8"),
        ("MariaDB 11.8.9", "11.8"),
        ("11.8.9-MariaDB-0+deb13u1 from Debian-log", "11.8"),
    ],
)
def test_release_series_of_every_spelling(version, series):
    assert release_series(version) == series


def test_debian_12s_mariadb_upgrades_to_debian_13s_from_the_trixie_root():
    path = upgrade_path("10.11")
    assert (path.from_series, path.to_series, path.root) == ("10.11", "11.8", "mariadb-trixie")


def test_debian_13s_mariadb_has_no_upgrade_and_says_why():
    with pytest.raises(UpgradeUnavailable, match=r"11\.8 is the newest series in Debian's archive"):
        upgrade_path("11.8")


def test_an_unknown_series_is_refused_naming_the_upgrades_there_are():
    with pytest.raises(UpgradeUnavailable, match=r"no upgrade from MariaDB 10\.6 .*10\.11 -> 11\.8"):
        upgrade_path("10.6")


def test_the_mysql_refusal_says_one_version_exists_and_where_upgrades_run():
    message = mysql_refusal("9.7.4-2")
    assert "single version here, MySQL 9.7.4-2" in message
    assert "--engine mariadb" in message and "10.11 -> 11.8" in message


def _fake_root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    for path in ("usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "usr/sbin/mariadbd", "usr/bin/mariadb"):
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).touch()
    (root / "usr/bin/mariadb-upgrade").touch()
    (root / "usr/bin/mariadb-check").touch()
    return root


def test_a_roots_program_runs_through_the_roots_loader_and_libraries(tmp_path):
    root = _fake_root(tmp_path)
    installation = MariadbInstallation("mariadb-trixie", "11.8.9", root)
    libraries = root / "usr/lib/x86_64-linux-gnu"
    assert installation.command("mariadbd", "--version") == [
        str(libraries / "ld-linux-x86-64.so.2"),
        "--library-path",
        str(libraries),
        str(root / "usr/sbin/mariadbd"),
        "--version",
    ]
    assert f"--lc-messages-dir={root}/usr/share/mariadb" in installation.server_options()
    assert installation.environment({"A": "1"}) == {"A": "1", "OPENSSL_CONF": "/dev/null"}


def test_mariadb_upgrade_finds_scripts_that_run_the_roots_helpers_beside_itself(tmp_path):
    root = _fake_root(tmp_path)
    installation = MariadbInstallation("mariadb-trixie", "11.8.9", root)
    tools = tmp_path / "tools"
    command = installation.command_beside(tools, "mariadb-upgrade", ("mariadb", "mariadb-check"), "--force")
    assert command[-2:] == [str(tools / "mariadb-upgrade"), "--force"]
    assert (tools / "mariadb-upgrade").resolve() == root / "usr/bin/mariadb-upgrade"
    script = (tools / "mariadb").read_text()
    assert "ld-linux-x86-64.so.2" in script and str(root / "usr/bin/mariadb") in script
    assert script.rstrip().endswith('"$@"')


def test_records_written_before_installations_name_their_engines_only_one():
    base = {
        "cluster_id": "c",
        "status": "created",
        "port": 1,
        "server_id": 1,
        "server_dir": "s",
        "datadir": "d",
        "socket": "k",
        "pid_file": "p",
        "log_error": "e",
        "writer_instance_id": "w",
        "created_by_sandbox": True,
    }
    assert ClusterRecord.from_dict(base).installation == "system"
    assert ClusterRecord.from_dict({**base, "engine": "mysql"}).installation == "mysql"
    assert (
        ClusterRecord.from_dict({**base, "installation": "mariadb-trixie"}).installation == "mariadb-trixie"
    )
