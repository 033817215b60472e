"""``aurora_version()`` in the sandbox: a loadable function, built once per state directory.

Aurora MySQL answers ``SELECT aurora_version()`` (and ``SELECT @@aurora_version``) with its own
version, "3.05.2", on version 2 and 3 alike:
https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/AuroraMySQL.Updates.Versions.html#AuroraMySQL.Updates.DBVersions
The function is built in: it needs no schema and answers from any database, or none. On MySQL and
MariaDB an unqualified name means a built-in, a loadable function (UDF) or a stored function of
the *current* database, so a stored function would fail with "No database selected" (1046) or
"FUNCTION x.aurora_version does not exist" in every other schema. Only a loadable function behaves
like Aurora's, so the sandbox compiles ``udf/aurora_version.c`` with the machine's C compiler
(``cc``, as ``scripts/setup.sh`` installs for mysqlclient) and registers it once on blue; clones
copy the registration with the data (``mysql.func``).

Each server gets its own plugin directory, the engine's own plugins linked into it plus this
library, and the version in its environment (``VERSION_VARIABLE``), so the function answers with
its cluster's version. What the sandbox cannot give: ``@@aurora_version`` (a server variable
cannot be added without a server plugin), and the result's type: a loadable function returns a
binary string, so a client gets bytes (``b"3.08.0"``) where Aurora's is presumably text.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import pymysql

from aurora_bluegreen.errors import ServerError

VERSION_VARIABLE = "AURORA_BLUEGREEN_AURORA_VERSION"
"""The environment variable the server's ``aurora_version()`` reads (``udf/aurora_version.c``)."""
LIBRARY = "aurora_version.so"
_SOURCE = "aurora_version.c"
_COMPILE_SECONDS = 120


def build_library(directory: Path) -> Path:
    """The compiled function in ``directory``, built if missing; call with the state lock held.

    Named by a digest of its source, so a newer source is built next to an older library that
    running servers may still use.
    """
    source = resources.files("aurora_bluegreen.sandbox").joinpath("udf", _SOURCE).read_bytes()
    library = directory / f"aurora_version-{hashlib.sha256(source).hexdigest()[:12]}.so"
    if library.is_file():
        return library
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not compiler:
        raise ServerError(
            "the sandbox builds aurora_version() with a C compiler and found none (cc, gcc or $CC): "
            "apt-get install -y gcc libc6-dev (scripts/setup.sh does)"
        )
    directory.mkdir(parents=True, exist_ok=True)
    (directory / _SOURCE).write_bytes(source)
    partial = library.with_suffix(".partial")
    result = subprocess.run(
        [compiler, "-shared", "-fPIC", "-O2", "-o", str(partial), str(directory / _SOURCE)],
        capture_output=True,
        text=True,
        timeout=_COMPILE_SECONDS,
        check=False,
    )
    if result.returncode != 0:
        raise ServerError(
            f"{compiler} could not build {_SOURCE} ({result.returncode}): {result.stderr[-2000:]}"
        )
    os.replace(partial, library)
    return library


@dataclass(frozen=True)
class AuroraFunction:
    """What a server needs to answer ``aurora_version()``: the version, and the compiled function."""

    aurora_version: str
    library: Path


def server_setup(
    server_dir: Path, engine_plugins: Path, base: Mapping[str, str], function: AuroraFunction | None
) -> tuple[Path, dict[str, str]]:
    """A server's plugin directory and environment.

    With ``function``: its own directory, made anew at each start, linking the engine's plugins and
    the function, and the version in the environment. Without: the engine's plugins and ``base``.
    """
    if function is None:
        return engine_plugins, dict(base)
    target = server_dir / "plugin"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    # A Debian root's MariaDB may have no plugin directory at all (installations.py).
    for plugin in engine_plugins.iterdir() if engine_plugins.is_dir() else ():
        (target / plugin.name).symlink_to(plugin)
    (target / LIBRARY).symlink_to(function.library)
    return target, {**base, VERSION_VARIABLE: function.aurora_version}


def create_function(root: pymysql.connections.Connection) -> None:
    """Register the function on a new server, outside the binlog (clones copy it with the data)."""
    with root.cursor() as cursor:
        cursor.execute("SET SESSION sql_log_bin = 0")
        cursor.execute(f"CREATE FUNCTION aurora_version RETURNS STRING SONAME '{LIBRARY}'")
        cursor.execute("SET SESSION sql_log_bin = 1")
