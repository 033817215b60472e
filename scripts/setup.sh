#!/usr/bin/env bash
# Prepares this machine for `make demo` and `make test`; safe to run again (then it does nothing).
#  1. System packages, only when something is missing: MariaDB server and mariadb-backup (the
#     sandbox's "clusters"), the headers mysqlclient needs, since the mysql provider builds
#     it from source, Chromium for the browser test, and PostgreSQL and Redis for the Celery stack
#     (`demo --executor celery`, tests/e2e/test_celery_stack.py), which starts servers of its own
#     on ports of its own: the packaged services are not used.
#  2. .venv with this package and its test extras, reinstalled only when pyproject.toml changed.
#  3. The MySQL 9.7 engine's Debian root (debootstrap from the archive apt already uses), built
#     once into ~/.cache/aurora-bluegreen/roots (or $AURORA_BLUEGREEN_ROOTS) and reused; and, where
#     the machine's MariaDB is 10.11 (Debian 12), the engine-upgrade root with Debian 13's 11.8.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
STAMP="$VENV/.installed-from"

has_command() {
    # mariadbd lives in /usr/sbin, which is not on a normal user's PATH.
    command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]
}

missing_packages() {
    has_command mariadbd || echo mariadb-server
    has_command mariadb-backup || echo mariadb-backup
    # Debian keeps initdb and postgres out of PATH, under /usr/lib/postgresql/<major>/bin.
    compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || has_command initdb || echo postgresql
    has_command redis-server || echo redis-server
    # Builds the minimal Debian root that the sandbox's MySQL engine runs from.
    has_command debootstrap || echo debootstrap
    has_command pkg-config || echo pkg-config
    pkg-config --exists mysqlclient 2>/dev/null || echo default-libmysqlclient-dev
    # mysqlclient is compiled from source: it needs a C compiler and Python's headers. The
    # sandbox builds its aurora_version() function with the same compiler.
    has_command gcc || echo gcc
    has_command python3 || echo python3
    python3 -c 'import sysconfig, os, sys; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' 2>/dev/null || echo python3-dev
    # Debian's python3 cannot create a venv (no ensurepip) without python3-venv.
    python3 -c 'import ensurepip' 2>/dev/null || echo python3-venv
    # The browser test drives Debian's Chromium with Playwright; Playwright's own browser
    # download is not used (and cannot be fetched everywhere). Ubuntu ships Chromium only as a
    # snap: there the package is skipped, and so is the browser test.
    [ -x /usr/bin/chromium ] || ! apt-cache show chromium >/dev/null 2>&1 || echo chromium
}

install_packages() {
    local packages=("$@")
    local as_root=()
    if [ "$(id -u)" -ne 0 ]; then
        if ! command -v sudo >/dev/null 2>&1; then
            echo "setup: need root (or sudo) to install: ${packages[*]}" >&2
            exit 1
        fi
        as_root=(sudo)
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "setup: no apt-get here; please install the equivalents of: ${packages[*]}" >&2
        exit 1
    fi
    echo "setup: installing ${packages[*]}"
    "${as_root[@]}" apt-get update -qq
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}"
}

mapfile -t packages < <(missing_packages)
if [ "${#packages[@]}" -gt 0 ]; then
    install_packages "${packages[@]}"
fi

if [ ! -x "$VENV/bin/python" ]; then
    echo "setup: creating $VENV"
    python3 -m venv "$VENV"
fi

# The install is current when it was made from this very pyproject.toml by this interpreter.
wanted="$(sha256sum pyproject.toml | cut -d' ' -f1) $("$VENV/bin/python" --version 2>&1)"
if [ "$(cat "$STAMP" 2>/dev/null)" != "$wanted" ]; then
    echo "setup: installing the package into $VENV (a minute on a fresh machine)"
    "$VENV/bin/python" -m pip install --quiet -e '.[test]'
    echo "$wanted" >"$STAMP"
fi

# Idempotent: prints the cached root and its MySQL version, or builds it (a minute or two, once).
"$VENV/bin/python" -m aurora_bluegreen.sandbox.debian_root mysql
# The same for engine upgrades (`sandbox upgrade`): about 30 s and 330 MB once, built only where it
# is an upgrade; elsewhere this prints why no upgrade exists. The sandbox would build it on first use.
"$VENV/bin/python" -m aurora_bluegreen.sandbox.installations mariadb-upgrade
