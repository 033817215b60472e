"""MariaDB installations a sandbox cluster can run on, and which one upgrades which (issue 14).

An installation is a set of MariaDB programs: the machine's own (``system``, from apt) or the
programs of a Debian root (``debian_root.KNOWN_ROOTS``), run like the MySQL engine's: through the
root's own dynamic loader with its libraries, every path argument a host path (see
``mysql/server.py`` for why not a chroot). What a root's mariadbd needs besides its libraries,
seen with Debian 13's MariaDB 11.8.9 (2026-12-02): ``--basedir``, its messages
(``usr/share/mariadb/english/errmsg.sys``, so ``--lc-messages-dir``) and character sets
(``--character-sets-dir``). Debian 13's ``mariadb-server-core`` ships no server plugins at all
(those are in ``mariadb-server`` and ``mariadb-plugin-*``), and the sandbox loads none but its own
``aurora_version()`` function, so a root's plugin directory may be missing.

Which upgrade exists is decided by the table ``UPGRADE_PATHS``, keyed by release series (MariaDB
numbers a major release by its first two parts: 10.11, 11.8). Tested here:

- 10.11 -> 11.8: Debian 12's MariaDB 10.11.19 to Debian 13's 11.8.9 from the ``mariadb-trixie``
  root (``tests/integration/test_engine_upgrade.py``, ``bench/upgrade.py``).
- 11.8 -> nothing: on Debian 13 the machine's MariaDB is 11.8 already, and Debian's archive has no
  newer one (its ``sid`` suite also carries 11.8.9, read from the Packages index that the MySQL
  root's debootstrap left behind, 2026-12-02). Not tested on a Debian 13 machine; the table's
  answer for it is unit-tested.

The MySQL engine has one version here (9.7 from ``sid``, the only MySQL in Debian's archive), so it
has no upgrade path at all and the sandbox refuses one (``UpgradeUnavailable``).
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from aurora_bluegreen.errors import ServerError, UpgradeUnavailable
from aurora_bluegreen.sandbox import server
from aurora_bluegreen.sandbox.debian_root import (
    KNOWN_ROOTS,
    UPGRADE_CHOICE,
    build_and_print,
    ensure_root,
    find_root,
)

SYSTEM = "system"
"""The machine's own MariaDB, the one ``sandbox up --engine mariadb`` starts blue on."""
MYSQL_INSTALLATION = "mysql"
"""The MySQL engine's only installation: the ``mysql`` Debian root (``debian_root.MYSQL_ROOT``)."""
_VERSION = re.compile(r"(?:^|\D)(?P<version>\d+\.\d+\.\d+)")
# The root's libcrypto would read the host's OpenSSL configuration, written for another version.
_ROOT_ENVIRONMENT = {"OPENSSL_CONF": os.devnull}


@dataclass(frozen=True)
class UpgradePath:
    """An engine upgrade the sandbox can run: ``from_series`` to ``to_series`` from root ``root``."""

    from_series: str
    to_series: str
    root: str
    """The installation (a ``debian_root.KNOWN_ROOTS`` name) whose MariaDB is ``to_series``."""


UPGRADE_PATHS: tuple[UpgradePath, ...] = (UpgradePath("10.11", "11.8", "mariadb-trixie"),)
"""Every MariaDB upgrade the sandbox offers: Debian 12's 10.11 to Debian 13's 11.8."""
NO_PATH_REASONS: Mapping[str, str] = {
    "11.8": "MariaDB 11.8 is the newest series in Debian's archive (Debian 13 and sid both carry "
    "11.8.9, seen 2026-12-02), so no newer MariaDB exists here to upgrade to",
}


def release_series(version: str) -> str:
    """``10.11`` for ``10.11.19``, ``1:11.8.9+ds-0+deb13u1`` or ``MariaDB 11.8.9``."""
    match = _VERSION.search(version)
    if match is None:
        raise ValueError(f"not a MariaDB version: {version!r}")
    return ".".join(match.group("version").split(".")[:2])


def upgrade_path(series: str) -> UpgradePath:
    """The upgrade from MariaDB ``series``; UpgradeUnavailable, saying why, where there is none."""
    for path in UPGRADE_PATHS:
        if path.from_series == series:
            return path
    reason = NO_PATH_REASONS.get(series, f"the sandbox knows no upgrade from MariaDB {series}")
    raise UpgradeUnavailable(f"{reason} (the sandbox's upgrades: {_paths()})")


def mysql_refusal(version: str) -> str:
    """Why the MySQL engine cannot upgrade: one version exists here."""
    return (
        f"the MySQL engine has a single version here, MySQL {version} from Debian's sid "
        "suite, the only MySQL in Debian's archive: no newer MySQL exists to upgrade to, and the "
        "sandbox will not fake one. Engine upgrades run on the MariaDB engine "
        f"(`sandbox up --engine mariadb`: {_paths()})"
    )


def _paths() -> str:
    return ", ".join(f"{path.from_series} -> {path.to_series}" for path in UPGRADE_PATHS)


@dataclass(frozen=True)
class MariadbInstallation:
    """The MariaDB programs of one installation, and how to run them from the host."""

    name: str
    version: str
    """``10.11.19``: what its mariadbd reports, without the distribution's suffix."""
    root: Path | None = None
    """The Debian root the programs come from; None for the machine's own."""

    @property
    def series(self) -> str:
        return release_series(self.version)

    @property
    def label(self) -> str:
        return f"MariaDB {self.version}" + ("" if self.root is None else f" ({self.name} root)")

    def command(self, program: str, *arguments: str) -> list[str]:
        """Run ``program`` (``mariadbd``, ``mariadb-backup``...) with this installation's libraries."""
        if self.root is None:
            return [server.find_binary(program), *arguments]
        found = (self.root / folder / program for folder in ("usr/sbin", "usr/bin"))
        path = next((candidate for candidate in found if candidate.exists()), None)
        if path is None:
            raise ServerError(f"{program} is not in {self.root}/usr/sbin or usr/bin: not a usable root")
        return [str(self._loader), "--library-path", str(self._library_dir), str(path), *arguments]

    @property
    def plugin_dir(self) -> Path:
        """Its server plugins (the directory may not exist in a root: see the module's docstring)."""
        return server.mariadb_plugin_dir() if self.root is None else self.root / "usr/lib/mysql/plugin"

    def server_options(self) -> list[str]:
        """What a root's mariadbd must be told to find its files outside ``/usr``."""
        if self.root is None:
            return []
        share = self.root / "usr/share/mariadb"
        return [
            f"--basedir={self.root / 'usr'}",
            f"--lc-messages-dir={share}",
            f"--character-sets-dir={share / 'charsets'}",
        ]

    def environment(self, base: Mapping[str, str]) -> dict[str, str]:
        return dict(base) if self.root is None else {**base, **_ROOT_ENVIRONMENT}

    def command_beside(
        self, directory: Path, program: str, helpers: tuple[str, ...], *arguments: str
    ) -> list[str]:
        """Run ``program`` so that the ``helpers`` it runs from its own directory are this installation's.

        For ``mariadb-upgrade``, which runs the ``mariadb`` and ``mariadb-check`` it finds beside
        itself ("Looking for 'mariadb' as: <its own directory>/mariadb", seen here): the host's
        loader cannot run a root's binaries, so ``directory`` gets a link to ``program`` and, beside
        it, scripts that run each helper through the root's loader.
        """
        if self.root is None:
            return self.command(program, *arguments)
        directory.mkdir(parents=True, exist_ok=True)
        for helper in helpers:
            script = directory / helper
            quoted = " ".join(shlex.quote(part) for part in self.command(helper))
            script.write_text(f'#!/bin/sh\nexec {quoted} "$@"\n')
            script.chmod(0o755)
        link = directory / program
        link.unlink(missing_ok=True)
        link.symlink_to(self.command(program)[-1])
        return [*self.command(program)[:-1], str(link), *arguments]

    @property
    def _library_dir(self) -> Path:
        assert self.root is not None
        loaders = sorted(self.root.glob("usr/lib/*-linux-gnu/ld-linux*.so.*"))
        if not loaders:
            raise ServerError(f"no dynamic loader in {self.root}/usr/lib/*-linux-gnu: not a usable root")
        return loaders[0].parent

    @property
    def _loader(self) -> Path:
        return next(self._library_dir.glob("ld-linux*.so.*"))


@cache
def system_installation() -> MariadbInstallation:
    return MariadbInstallation(SYSTEM, _version_of(server.mariadb_version()))


def installation_named(name: str) -> MariadbInstallation:
    """``system`` or a MariaDB root by its ``KNOWN_ROOTS`` name, built first if it is missing."""
    if name == SYSTEM:
        return system_installation()
    roots = {known: spec for known, spec in KNOWN_ROOTS.items() if known != MYSQL_INSTALLATION}
    if name not in roots:
        raise ServerError(f"no MariaDB installation {name!r}: one of {SYSTEM}, {', '.join(roots)}")
    root = find_root(roots[name]) or ensure_root(roots[name])
    return MariadbInstallation(name, _version_of(root.version), root.path)


def _version_of(text: str) -> str:
    match = _VERSION.search(text)
    if match is None:
        raise ServerError(f"cannot read a MariaDB version from {text!r}")
    return match.group("version")


def main(argv: list[str] | None = None) -> int:
    """For scripts/setup.sh: build the root this machine's MariaDB upgrades to, if it has one."""
    parser = argparse.ArgumentParser(
        prog="python -m aurora_bluegreen.sandbox.installations",
        description="Build the Debian root of the MariaDB this machine's upgrades to; print its path.",
    )
    parser.add_argument("what", choices=[UPGRADE_CHOICE])
    parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        name = upgrade_path(system_installation().series).root
    except UpgradeUnavailable as reason:
        print(f"no engine-upgrade root needed: {reason}")
        return 0
    return build_and_print(name)


if __name__ == "__main__":
    sys.exit(main())
