"""Aurora MySQL versions, as the sandbox plays them: which version a cluster runs, what it has.

Every sandbox cluster carries an Aurora MySQL version, chosen when blue is made and inherited by
its clones. Here is the one rule, used by both engines, for which ``mysql.rds_*`` procedures a
version has, so code that calls one a version lacks fails in the sandbox as it would on Aurora:
https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/mysql-stored-proc-replicating.html
(each procedure names the versions that have it).

Versions come in two spellings: Aurora's own, ``3.08.0``, which ``SELECT aurora_version()``
returns, and the RDS engine version, ``8.0.mysql_aurora.3.08.0``, which ``describe_db_clusters``
reports: https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/AuroraMySQL.Updates.Versions.html
"""

from __future__ import annotations

import re

from aurora_bluegreen.errors import InvalidInput

DEFAULT_AURORA_VERSION = "3.08.0"
"""A current Aurora MySQL 3 release: what a sandbox blue runs unless told otherwise."""

AURORA_2_ONLY = frozenset(
    {"rds_set_external_master", "rds_set_external_master_with_auto_position", "rds_reset_external_master"}
)
AURORA_3_ONLY = frozenset(
    {
        "rds_set_external_source",
        "rds_set_external_source_with_auto_position",
        "rds_reset_external_source",
        "rds_set_binlog_source_ssl",
        "rds_set_read_only",
    }
)
SINCE = {"rds_set_read_only": (3, 6), "rds_set_binlog_source_ssl": (3, 6)}
"""Aurora 3 procedures that came later: both arrived in 3.06.0 ("This procedure is supported for
Aurora MySQL version 3.06 and higher", in each one's section of the page above)."""

# The RDS family of each major version: "The mysql-major-version portion is 5.7 or 8.0".
_MYSQL_SERIES = {2: "5.7", 3: "8.0"}
_LOOSE = re.compile(r"(?:^|\.)(?P<major>[23])\.(?P<minor>\d+)(?:\.\d+)?$")
_EXACT = re.compile(r"^(?:(?P<series>5\.7|8\.0)\.mysql_aurora\.)?(?P<version>(?P<major>[23])\.\d{2}\.\d+)$")


def major_minor(version: str) -> tuple[int, int]:
    """(3, 5) for "3.05.2", "3.05", "8.0.mysql_aurora.3.05.2"; ValueError for anything not 2.x or 3.x."""
    match = _LOOSE.search(version.strip())
    if match is None:
        raise ValueError(f"not an Aurora MySQL 2.x or 3.x version: {version!r}")
    return int(match.group("major")), int(match.group("minor"))


def aurora_version(value: str) -> str:
    """A cluster's version in Aurora's own spelling ("3.08.0"), from either spelling; InvalidInput else."""
    match = _EXACT.match(value.strip())
    if match is None or (
        match.group("series") and match.group("series") != _MYSQL_SERIES[int(match.group("major"))]
    ):
        raise InvalidInput(
            "aurora_version",
            value,
            'an Aurora MySQL 2 or 3 version such as "3.08.0", "2.11.2" or "8.0.mysql_aurora.3.08.0"',
        )
    return match.group("version")


def engine_version(version: str) -> str:
    """What RDS reports as the cluster's EngineVersion: "8.0.mysql_aurora.3.08.0"."""
    return f"{_MYSQL_SERIES[major_minor(version)[0]]}.mysql_aurora.{version}"


def skipped_for_aurora(version: str) -> frozenset[str]:
    """The ``mysql.rds_*`` procedures Aurora MySQL ``version`` lacks."""
    major, minor = major_minor(version)
    if major == 2:
        return AURORA_3_ONLY
    return AURORA_2_ONLY | {name for name, since in SINCE.items() if (major, minor) < since}
