"""The provider's DAGs, as the wheel carries them, and ``aurora-bluegreen dags install DIR``.

The repository's ``dags/`` folder is the one source: the build maps it into the package as
``aurora_bluegreen.dags`` (pyproject.toml), so an installed provider has the four DAG files and
their ``sql/`` folder. Each DAG finds its SQL next to itself (``Path(__file__).parent / "sql"``),
so ``install`` copies the files and the folder together into a DAGs folder of your choice.
"""

from __future__ import annotations

import filecmp
import importlib.util
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from aurora_bluegreen.errors import AuroraBlueGreenError

PACKAGE = "aurora_bluegreen.dags"
DAG_FILES = (
    "aurora_bluegreen_deployment.py",
    "aurora_bluegreen_fleet.py",
    "aurora_bluegreen_rollback.py",
    "aurora_bluegreen_teardown.py",
    "aurora_qa_refresh.py",
)
SQL_FOLDER = "sql"


def source_dir() -> Path:
    """Where the DAGs are: inside the installed package, else (a checkout) the repository's ``dags/``."""
    spec = importlib.util.find_spec(PACKAGE)
    candidates = [Path(location) for location in (spec.submodule_search_locations or [])] if spec else []
    # An editable install or a bare checkout on PYTHONPATH has no aurora_bluegreen/dags/.
    candidates.append(Path(__file__).resolve().parents[2] / "dags")
    for candidate in candidates:
        if all((candidate / name).is_file() for name in DAG_FILES) and (candidate / SQL_FOLDER).is_dir():
            return candidate
    raise AuroraBlueGreenError(
        f"the provider's DAG files are missing (looked in {', '.join(map(str, candidates))}); "
        "reinstall aurora-bluegreen"
    )


def packaged_files(source: Path | None = None) -> list[Path]:
    """The DAG files and everything under ``sql/``, relative to the source folder."""
    source = source or source_dir()
    sql = sorted(
        path.relative_to(source)
        for path in (source / SQL_FOLDER).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    )
    return [Path(name) for name in DAG_FILES] + sql


@dataclass
class InstallReport:
    copied: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)
    replaced: list[Path] = field(default_factory=list)


def install(target: Path, force: bool = False, source: Path | None = None) -> InstallReport:
    """Copy the DAGs and their ``sql/`` folder into ``target`` (made if missing).

    A file already there with the same content is left alone; one with other content (your own
    migration, an edited DAG) is refused, naming every such file, unless ``force``. Nothing is
    written when anything is refused.
    """
    source = source or source_dir()
    target = Path(target)
    if target.exists() and not target.is_dir():
        raise AuroraBlueGreenError(f"{target} is not a directory")
    files = packaged_files(source)
    report = InstallReport()
    conflicts = []
    for name in files:
        destination = target / name
        if not destination.exists():
            report.copied.append(name)
        elif destination.is_file() and filecmp.cmp(source / name, destination, shallow=False):
            report.unchanged.append(name)
        else:
            conflicts.append(name)
    if conflicts and not force:
        listed = ", ".join(str(name) for name in conflicts)
        raise AuroraBlueGreenError(
            f"{target} already has other versions of: {listed}; nothing was copied. "
            "Pass --force to overwrite them, or install into another folder."
        )
    report.replaced = conflicts
    for name in report.copied + report.replaced:
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        if destination.is_dir():
            shutil.rmtree(destination)
        shutil.copyfile(source / name, destination)
    return report
