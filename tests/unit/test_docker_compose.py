"""docker-compose.yaml is checked here because CI has no Docker engine to run it.

What can be checked without Docker is: the file against the Compose Specification's JSON schema
(the CeleryExecutor with its Redis broker and a worker service, like Airflow's own Compose file,
is checked the same way)
(vendored in ``tests/unit/data/compose-spec.json``, Apache-2.0, from compose-spec/compose-spec at
commit 170098ba07d9f53c383a41bfd4c5166b0a4529a6), that every path it mounts or builds from
exists, that every image is pinned to a version, that services wait for healthy dependencies,
that every variable it interpolates has a default and is in the README's settings table, that the
connections it defines agree with the passwords and with the DAG's defaults (with the defaults and
with every variable set), that the README names exactly its services, and that mysql-blue's init
scripts are MySQL 8 SQL with the same procedures as the sandbox's.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yaml"
SCHEMA_FILE = Path(__file__).resolve().parent / "data" / "compose-spec.json"
README = REPO_ROOT / "README.md"
MYSQL_INIT = REPO_ROOT / "docker" / "mysql-blue" / "initdb"
SANDBOX_SQL = REPO_ROOT / "plugins" / "aurora_bluegreen" / "sandbox" / "sql"
SANDBOX_PROCEDURES = SANDBOX_SQL / "rds_procedures.sql"
MYSQL_PROCEDURES = SANDBOX_SQL / "rds_procedures_mysql.sql"

# A release number in the tag, optionally a suffix (-python3.12), or a digest. PostgreSQL names a
# release with two numbers (16.9); MySQL and Airflow need three, since 8.0 and 3.3 are series.
PINNED_TAG = re.compile(r"^(?P<version>\d+(\.\d+)+)[A-Za-z0-9._-]*$")
THREE_NUMBER_RELEASES = ("mysql", "apache/airflow")
# Compose's interpolation: "$$" is a literal "$"; ${VAR:-default} (default when unset or empty),
# ${VAR-default} (when unset), ${VAR:?error} / ${VAR?error} (required), ${VAR} and $VAR.
_VARIABLE = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict[str, dict[str, Any]]:
    return compose["services"]


def interpolate(value: Any, settings: Mapping[str, str]) -> Any:
    """``value`` as Compose interpolates it with ``settings`` (the shell's variables and ``.env``)."""
    if isinstance(value, str):
        return _VARIABLE.sub(lambda match: _substitute(match, settings), value)
    if isinstance(value, dict):
        return {key: interpolate(item, settings) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, settings) for item in value]
    return value


def _substitute(match: re.Match[str], settings: Mapping[str, str]) -> str:
    if match["escaped"]:
        return "$"
    name = match["name"] or match["bare"]
    value, op, arg = settings.get(name), match["op"], match["arg"]
    missing = value is None or (value == "" and op is not None and op.startswith(":"))
    if missing and op and op.endswith("?"):
        raise ValueError(f"{name} is required: {arg}")
    if missing and op and op.endswith("-"):
        return arg
    return value or ""


def variables(text: str) -> dict[str, str | None]:
    """Every variable the file interpolates -> its ``:-`` default (None when it has none)."""
    found: dict[str, str | None] = {}
    for match in _VARIABLE.finditer(text):
        name = match["name"] or match["bare"]
        if name and found.get(name) is None:
            found[name] = match["arg"] if match["op"] == ":-" else None
    return found


def environment(service: dict[str, Any], settings: Mapping[str, str]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in interpolate(env, settings).items()}


def every_variable_set(text: str) -> dict[str, str]:
    """A value of its own for each variable the file uses: ports get numbers, the rest words."""
    return {
        name: str(41000 + n) if name.endswith("_PORT") else f"{name.lower().replace('_', '-')}-set"
        for n, name in enumerate(sorted(variables(text)))
    }


# Each check of what the file means runs with no settings (the defaults) and with every variable
# set, so a value that does not follow its variable (written out twice, or misspelt) shows up.
SETTINGS = {
    "defaults": {},
    "every-variable-set": every_variable_set(COMPOSE_FILE.read_text()),
}
with_settings = pytest.mark.parametrize("settings", list(SETTINGS.values()), ids=list(SETTINGS))


def is_pinned(image: str) -> bool:
    if re.search(r"@sha256:[0-9a-f]{64}$", image):
        return True
    name, _, tag = image.partition(":")
    match = PINNED_TAG.match(tag)
    if not match:
        return False
    numbers = match.group("version").count(".") + 1
    return numbers >= (3 if name in THREE_NUMBER_RELEASES else 2)


def bind_sources(service: dict[str, Any]) -> list[str]:
    sources = []
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source = volume.split(":", 1)[0]
            if source.startswith((".", "/", "~")):
                sources.append(source)
        elif volume.get("type") == "bind":
            sources.append(volume["source"])
    return sources


def named_volumes(service: dict[str, Any]) -> list[str]:
    names = []
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source = volume.split(":", 1)[0]
            if ":" in volume and not source.startswith((".", "/", "~")):
                names.append(source)
        elif volume.get("type") == "volume":
            names.append(volume["source"])
    return names


def airflow_services(services) -> dict[str, dict[str, Any]]:
    return {name: service for name, service in services.items() if "build" in service}


def readme_settings() -> dict[str, str]:
    """Variable -> its documented default, from the settings table of the README's Compose section."""
    text = README.read_text()
    compose_section = re.search(r"^## Docker Compose\n(.*?)(?=^## )", text, re.MULTILINE | re.DOTALL)
    assert compose_section, "README has no '## Docker Compose' section"
    documented = {}
    for names, default in re.findall(
        r"^\| ((?:`[A-Z0-9_]+`(?:, )?)+) \| ([^|]*) \|", compose_section.group(1), re.MULTILINE
    ):
        for name in re.findall(r"`([A-Z0-9_]+)`", names):
            documented[name] = default.strip()
    return documented


# -- the file itself ---------------------------------------------------------------------------


def test_interpolation_follows_composes_rules():
    settings = {"SET": "value", "EMPTY": ""}
    cases = {
        "${SET}/$SET/${SET:-d}/${SET-d}/${SET:?e}": "value/value/value/value/value",
        "${EMPTY:-d}|${EMPTY-d}|${EMPTY}": "d||",
        "${UNSET:-d}|${UNSET-d}|${UNSET}|${UNSET:-}": "d|d||",
        "$$SET and $${SET} are literal": "$SET and ${SET} are literal",
    }
    for text, expected in cases.items():
        assert interpolate(text, settings) == expected, text
    for required in ("${UNSET:?needed}", "${EMPTY:?needed}", "${UNSET?needed}"):
        with pytest.raises(ValueError, match="needed"):
            interpolate(required, settings)
    assert variables("${A:-1} $B ${C-3} $${D} ${A}") == {"A": "1", "B": None, "C": None}


def test_every_variable_has_a_default_and_is_documented_with_it():
    used = variables(COMPOSE_FILE.read_text())
    documented = readme_settings()
    # Without a default, `docker compose up` with no .env would run with an empty value.
    assert [name for name, default in used.items() if default is None] == []
    assert sorted(used) == sorted(documented), "README's settings table and the file's variables differ"
    for name, default in documented.items():
        if default.startswith("`"):
            assert default == f"`{used[name]}`", f"README says {name} defaults to {default}"


def test_file_is_valid_against_the_compose_specification(compose):
    schema = json.loads(SCHEMA_FILE.read_text())
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(compose), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors)


def test_the_schema_check_does_catch_a_broken_file(compose):
    schema = json.loads(SCHEMA_FILE.read_text())
    broken = json.loads(json.dumps(compose))
    broken["services"]["postgres"]["healthcheck"]["retires"] = 3
    assert not jsonschema.Draft7Validator(schema).is_valid(broken)


def test_every_mounted_or_built_path_exists(services):
    for name, service in services.items():
        for source in bind_sources(service):
            assert (REPO_ROOT / source).exists(), f"{name} mounts {source}, which does not exist"
        build = service.get("build")
        if build:
            context = REPO_ROOT / build["context"]
            assert context.is_dir(), f"{name} builds from {context}"
            assert (context / build["dockerfile"]).is_file(), f"{name}: no {build['dockerfile']}"


def test_every_named_volume_is_declared(compose, services):
    declared = set(compose.get("volumes") or {})
    used = {volume for service in services.values() for volume in named_volumes(service)}
    assert used == declared, f"used {sorted(used)}, declared {sorted(declared)}"


def test_pinning_rule():
    assert (
        is_pinned("postgres:16.9")
        and is_pinned("mysql:8.0.42")
        and is_pinned("apache/airflow:3.3.2-python3.12")
    )
    assert not any(
        map(is_pinned, ("mysql:8.0", "postgres", "postgres:latest", "apache/airflow:3.3", "redis:7"))
    )


def test_every_image_is_pinned_to_a_version(services):
    for name, service in services.items():
        image = service["image"]
        if "build" in service:
            assert not image.endswith((":latest", ":local")) and ":" in image, f"{name}: {image}"
            continue
        assert is_pinned(image), f"{name}: {image} is not pinned to a release"


def test_dockerfile_bases_are_pinned_and_copied_files_exist(services):
    dockerfiles = {
        REPO_ROOT / s["build"]["context"] / s["build"]["dockerfile"]
        for s in services.values()
        if "build" in s
    }
    for dockerfile in dockerfiles:
        text = dockerfile.read_text()
        bases = re.findall(r"^FROM\s+(\S+)", text, re.MULTILINE)
        assert bases, dockerfile
        for base in bases:
            assert is_pinned(base), f"{dockerfile}: FROM {base} is not pinned to a release"
        ignore = Path(f"{dockerfile}.dockerignore")
        kept = [line[1:].rstrip("/") for line in ignore.read_text().splitlines() if line.startswith("!")]
        for line in re.findall(r"^COPY\s+(.+)$", text, re.MULTILINE):
            *sources, _destination = [part for part in line.split() if not part.startswith("--")]
            for source in sources:
                assert (REPO_ROOT / source).exists(), f"{dockerfile}: COPY {source} does not exist"
                assert any(source == k or source.startswith(f"{k}/") for k in kept), (
                    f"{dockerfile}: COPY {source} is excluded by {ignore.name}"
                )


def test_services_wait_for_what_they_need_and_have_health_checks(services):
    for name, service in services.items():
        if service.get("restart") != "no":
            assert "healthcheck" in service, f"{name} runs for good but has no health check"
        for dependency, rule in (service.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            target = services[dependency]
            if rule["condition"] == "service_healthy":
                assert "healthcheck" in target, (
                    f"{name} waits for {dependency} to be healthy; it has no check"
                )
            if rule["condition"] == "service_completed_successfully":
                assert target.get("restart") == "no", f"{dependency} is a one-shot; it must not restart"


def test_worker_and_triggerer_share_the_sandboxs_network_and_processes(services):
    # Clones started by tasks listen on 127.0.0.1 and are watched by pid: all three must agree.
    # On the CeleryExecutor the worker runs the tasks; the scheduler runs none.
    assert "network_mode" not in services["airflow-scheduler"]
    for name in ("airflow-worker", "airflow-triggerer"):
        service = services[name]
        assert service["network_mode"] == "service:sandbox"
        assert service["pid"] == "service:sandbox"
        assert "ports" not in service and "networks" not in service
        assert "sandbox-state:/opt/airflow/sandbox" in service["volumes"]
    assert "sandbox-state:/opt/airflow/sandbox" in services["sandbox"]["volumes"]


@with_settings
def test_airflow_components_share_their_secrets_and_connections(services, settings):
    shared = ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__API__SECRET_KEY", "AIRFLOW__CORE__FERNET_KEY")
    envs = {name: environment(service, settings) for name, service in airflow_services(services).items()}
    for key in shared:
        values = {name: env.get(key) for name, env in envs.items()}
        assert len(set(values.values())) == 1 and None not in values.values(), f"{key}: {values}"
    secrets = {key: envs["airflow-scheduler"][key] for key in shared}
    if settings:
        assert secrets == {
            "AIRFLOW__API_AUTH__JWT_SECRET": settings["AIRFLOW_JWT_SECRET"],
            "AIRFLOW__API__SECRET_KEY": settings["AIRFLOW_API_SECRET_KEY"],
            "AIRFLOW__CORE__FERNET_KEY": settings["AIRFLOW_FERNET_KEY"],
        }


@with_settings
def test_every_airflow_service_runs_the_celery_executor_on_the_files_redis_and_postgres(services, settings):
    for name, service in airflow_services(services).items():
        env = environment(service, settings)
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        broker = urlsplit(env["AIRFLOW__CELERY__BROKER_URL"])
        assert (broker.scheme, broker.hostname, broker.port) == ("redis", "redis", 6379), name
        database = urlsplit(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
        results = urlsplit(env["AIRFLOW__CELERY__RESULT_BACKEND"])
        # Celery's "db+" backend with the same driver, credentials and database as Airflow's.
        assert results.scheme == f"db+{database.scheme}" and results.netloc == database.netloc, name
        assert results.path == database.path and database.hostname == "postgres", name
    postgres = environment(services["postgres"], settings)
    assert (database.username, database.password) == (
        postgres["POSTGRES_USER"],
        postgres["POSTGRES_PASSWORD"],
    )
    assert "6379" in map(str, services["redis"]["expose"]) and "ports" not in services["redis"]


def test_a_worker_service_runs_celery_and_what_queues_tasks_waits_for_redis(services):
    worker = services["airflow-worker"]
    assert worker["command"] == "celery worker"
    assert "celery@$${HOSTNAME}" in worker["healthcheck"]["test"][-1]
    for name in ("airflow-scheduler", "airflow-worker"):
        assert services[name]["depends_on"]["redis"] == {"condition": "service_healthy"}, name
    # Tasks call the execution API; the worker starts once it answers.
    assert worker["depends_on"]["airflow-apiserver"] == {"condition": "service_healthy"}


@with_settings
def test_the_ui_address_in_notices_is_the_published_port(services, settings):
    (published,) = interpolate(services["airflow-apiserver"]["ports"], settings)
    host, port, container_port = published.split(":")
    assert (host, container_port) == ("127.0.0.1", "8080")
    assert port == settings.get("AIRFLOW_PORT", "8080")
    for name, service in airflow_services(services).items():
        assert environment(service, settings)["AIRFLOW__API__BASE_URL"] == f"http://localhost:{port}", name


@with_settings
def test_connections_parse_and_agree_with_the_servers_passwords(services, settings):
    env = environment(services["airflow-scheduler"], settings)
    connections = {
        key.removeprefix("AIRFLOW_CONN_").lower(): json.loads(value)
        for key, value in env.items()
        if key.startswith("AIRFLOW_CONN_")
    }
    assert connections["aurora_sandbox"]["conn_type"] == "aurora_sandbox"
    assert connections["aurora_sandbox"]["extra"]["state_dir"] == env["AURORA_BLUEGREEN_SANDBOX_DIR"]
    sandbox_env = environment(services["sandbox"], settings)
    assert connections["aurora_blue_admin"]["password"] == sandbox_env["SANDBOX_ADMIN_PASSWORD"]
    mysql_env = environment(services["mysql-blue"], settings)
    assert connections["mysql_blue_admin"]["password"] == mysql_env["MYSQL_BLUE_ADMIN_PASSWORD"]
    assert connections["mysql_blue_admin"]["host"] == "mysql-blue"
    replication = connections["aurora_replication"]
    assert re.match(r"^[A-Za-z][A-Za-z0-9_]{3,15}$", replication["login"]) and replication["password"]
    assert replication["password"] == settings.get("REPLICATION_PASSWORD", replication["password"])


def test_the_deployment_dags_default_connections_exist_in_compose(services, deployment_dag):
    env = environment(services["airflow-scheduler"], {})
    for param in ("control_plane_conn_id", "admin_conn_id", "replication_conn_id"):
        conn_id = deployment_dag.params[param]
        assert f"AIRFLOW_CONN_{conn_id.upper()}" in env, (
            f"the form's default {param}={conn_id!r} is not defined"
        )


def test_readme_names_exactly_the_services(services):
    text = README.read_text()
    match = re.search(r"^## Docker Compose\n(.*?)(?=^## )", text, re.MULTILINE | re.DOTALL)
    assert match, "README has no '## Docker Compose' section"
    named = re.findall(r"^\| `([a-z0-9-]+)` \|", match.group(1), re.MULTILINE)
    assert sorted(named) == sorted(services), f"README lists {sorted(named)}"
    assert "CI validates" in match.group(1) and "does not run" in match.group(1)


# -- mysql-blue's init scripts -----------------------------------------------------------------


def procedures(sql: str) -> dict[str, list[str]]:
    """Procedure name -> parameter names, from CREATE [OR REPLACE] [DEFINER=...] PROCEDURE."""
    found = {}
    pattern = r"CREATE (?:OR REPLACE )?DEFINER = \S+ PROCEDURE (mysql\.\w+)\((.*?)\)\s*\nSQL SECURITY DEFINER"
    for name, params in re.findall(pattern, sql, re.DOTALL):
        found[name] = [p.split()[1] for p in params.split(",") if p.strip()]
    return found


def test_mysql_blue_runs_the_sandboxs_mysql_procedures_file_itself(compose):
    """One SQL source: mysql-blue's init script is the file the MySQL engine's tests install."""
    volumes = compose["services"]["mysql-blue"]["volumes"]
    mounted = [v for v in volumes if v.startswith("./plugins/")]
    assert mounted == [
        "./plugins/aurora_bluegreen/sandbox/sql/rds_procedures_mysql.sql"
        ":/docker-entrypoint-initdb.d/01-rds-procedures.sql:ro"
    ]
    assert not (MYSQL_INIT / "01-rds-procedures.sql").exists(), "a second copy would drift"


def test_both_engines_procedures_take_the_same_parameters():
    mysql = procedures(MYSQL_PROCEDURES.read_text())
    mariadb = procedures(SANDBOX_PROCEDURES.read_text())
    assert mariadb and mysql, "no procedures found: the pattern is out of date"
    # The rds_sandbox_* helpers are each file's own plumbing; the Aurora names must agree.
    shared = {name for name in mysql.keys() & mariadb.keys() if not name.startswith("mysql.rds_sandbox_")}
    assert {"mysql.rds_set_external_source", "mysql.rds_set_read_only"} <= shared
    assert {name: mysql[name] for name in shared} == {name: mariadb[name] for name in shared}


def test_every_rds_procedure_the_provider_calls_exists_on_mysql_blue():
    called = set()
    for path in (REPO_ROOT / "plugins" / "aurora_bluegreen").rglob("*.py"):
        called |= set(re.findall(r"mysql\.(rds_\w+)", path.read_text()))
    # mysql.rds_configuration is the table behind rds_show_configuration.
    called.discard("rds_configuration")
    defined = {name.removeprefix("mysql.") for name in procedures(MYSQL_PROCEDURES.read_text())}
    assert called <= defined, f"missing on mysql-blue: {sorted(called - defined)}"


def test_mysql_procedures_are_mysql_8_syntax_not_mariadb():
    sql = MYSQL_PROCEDURES.read_text()
    code = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    for mariadb_only in (
        "CREATE OR REPLACE",
        "EXECUTE IMMEDIATE",
        "CHANGE MASTER",
        "MASTER_USE_GTID",
        "SLAVE",
    ):
        assert mariadb_only not in code.upper(), mariadb_only
    for mysql_8 in ("CHANGE REPLICATION SOURCE TO", "PREPARE", "START REPLICA", "RESET REPLICA ALL"):
        assert mysql_8 in code, mysql_8
    # Every procedure is dropped before it is created, so the file can run twice.
    created = re.findall(r"CREATE DEFINER = \S+ PROCEDURE (mysql\.\w+)", code)
    dropped = re.findall(r"DROP PROCEDURE IF EXISTS (mysql\.\w+)", code)
    assert created == dropped


def test_mysql_blue_master_user_bypasses_read_only_only_through_its_role_and_the_script_is_sourced():
    accounts = MYSQL_INIT / "02-accounts.sh"
    # The mysql image sources non-executable .sh files (which gives them docker_process_sql) and
    # runs executable ones in a shell of their own, where that function does not exist.
    assert not os.access(accounts, os.X_OK), f"{accounts} must not be executable"
    text = accounts.read_text()
    grant = re.search(r"GRANT (.*?) ON \*\.\* TO 'admin'", text, re.DOTALL)
    assert grant
    privileges = {p.strip() for p in grant.group(1).split(",")}
    assert not privileges & {"SUPER", "CONNECTION_ADMIN", "SYSTEM_VARIABLES_ADMIN", "ALL", "ALL PRIVILEGES"}
    assert "REPLICATION SLAVE" in privileges  # to grant it to the replication user
    # As on Aurora 3: CONNECTION_ADMIN, which writes through read_only, arrives through the role.
    role = re.search(r"GRANT (.*?) ON \*\.\* TO 'rds_superuser_role'", text, re.DOTALL)
    assert role and "CONNECTION_ADMIN" in role.group(1)
    assert "DEFAULT ROLE 'rds_superuser_role'" in text
    subprocess.run(["bash", "-n", str(accounts)], check=True)


def test_helper_scripts_parse():
    subprocess.run(["bash", "-n", str(REPO_ROOT / "docker" / "airflow" / "sandbox-service.sh")], check=True)
    compile(
        (REPO_ROOT / "docker" / "airflow" / "check_mysql_blue.py").read_text(), "check_mysql_blue", "exec"
    )
