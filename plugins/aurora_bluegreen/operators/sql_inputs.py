"""The SQL files a run names, checked before anything changes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator

from aurora_bluegreen.timing import Stopwatch


class ValidateSqlFilesOperator(BaseOperator):
    """Check each list of SQL files against its folder: present, inside it, split into statements.

    Runs first, so a missing file or a path leading out of its folder fails the run before a
    clone exists. The tasks that run the files check them again (a file may change in between).

    :param files: the trigger form's lists, by field name (``{"migration_files": [...]}``).
    :param folders: the folder each field's files must lie in, fixed by the DAG author.
    :param queries: fields whose files must each hold exactly one query (checks).
    :return: the statement count of each file, by field.
    """

    template_fields: Sequence[str] = ("files",)
    ui_color = "#e8f4fd"

    def __init__(
        self,
        *,
        files: Mapping[str, Sequence[str] | None],
        folders: Mapping[str, str | Path],
        queries: Sequence[str] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.files = files
        self.folders = folders
        self.queries = queries

    def execute(self, context: Any) -> dict[str, dict[str, int]]:
        from aurora_bluegreen.sql_files import sql_files

        watch = Stopwatch()
        counts = {
            field: {
                checked.name: len(checked.statements)
                for checked in sql_files(field, self.folders[field], names, one_query=field in self.queries)
            }
            for field, names in self.files.items()
        }
        self.log.info(
            "SQL files checked in %.3fs: %s",
            watch.seconds,
            "; ".join(f"{field}: {len(found)} files" for field, found in counts.items()),
        )
        return counts
