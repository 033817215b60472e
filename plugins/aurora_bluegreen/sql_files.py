"""The user's SQL files (migrations, checks, masking): where they may come from, and their statements.

The DAG author fixes one folder per kind next to the DAG files (``dags/sql/migrations`` and so
on); the trigger form only names files inside it. An absolute path, a ``..`` step, a link that
leads out of the folder, a missing file, a name that does not end in ``.sql`` or a file without a
statement is refused before anything changes, and the message names the field and the rule.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aurora_bluegreen.errors import InvalidInput

# Plain relative names only: the rule is also the trigger form's JSON-schema pattern.
FILE_NAME_PATTERN = r"^(?!.*\.\.)[A-Za-z0-9_][A-Za-z0-9_./-]*\.sql$"
FILE_NAME_RULE = "a relative name ending in .sql, of letters, digits, _ . / or -, without .."
_FILE_NAME = re.compile(FILE_NAME_PATTERN)
_QUERY = re.compile(r"^\(*\s*(SELECT|WITH)\b", re.IGNORECASE)
MAX_FILE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class SqlFile:
    name: str
    """As the user gave it, relative to the folder: what logs and messages call it."""
    path: Path
    statements: tuple[str, ...]


def file_rule(folder: Path) -> str:
    return f"the name of a .sql file inside {folder} (a relative path, no '..', no link leading out)"


def sql_files(field: str, folder: str | Path, names: object, *, one_query: bool = False) -> list[SqlFile]:
    """Every named file, checked and split; an empty or missing list is no files.

    ``one_query``: each file must hold exactly one query (SELECT, WITH or a parenthesised query),
    as a check must; a check that could change data is refused, not trusted.
    """
    if names is None or names == []:
        return []
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise InvalidInput(field, names, "a list of file names")
    files = [sql_file(f"{field}[{index}]", folder, name) for index, name in enumerate(names)]
    if one_query:
        for index, item in enumerate(files):
            if len(item.statements) != 1 or not _QUERY.match(item.statements[0]):
                raise InvalidInput(
                    f"{field}[{index}]", item.name, "a file with exactly one SELECT or WITH query"
                )
    seen: set[Path] = set()
    for index, item in enumerate(files):
        if item.path in seen:
            raise InvalidInput(f"{field}[{index}]", item.name, "named only once in the list")
        seen.add(item.path)
    return files


def sql_file(field: str, folder: str | Path, name: object) -> SqlFile:
    root = Path(folder).resolve()
    rule = file_rule(root)
    if not isinstance(name, str) or not _FILE_NAME.match(name):
        raise InvalidInput(field, name, rule)
    # resolve() follows links, so a link inside the folder that points outside it is caught here.
    path = (root / name).resolve()
    if not path.is_relative_to(root):
        raise InvalidInput(field, name, rule)
    if not path.is_file():
        raise InvalidInput(field, name, f"an existing file: {root / name} does not exist")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise InvalidInput(field, name, f"at most {MAX_FILE_BYTES} bytes")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise InvalidInput(field, name, "UTF-8 text") from None
    statements = tuple(split_statements(text))
    if not statements:
        raise InvalidInput(field, name, "a file with at least one SQL statement")
    if any(statement.upper().startswith("DELIMITER") for statement in statements):
        raise InvalidInput(field, name, "plain SQL without DELIMITER lines (a command of the mysql client)")
    return SqlFile(name, path, statements)


def split_statements(text: str) -> list[str]:
    """Statements separated by ``;``, honouring quotes and ``BEGIN ... END`` blocks, without comments.

    Comments are dropped because a statement is sent on its own, and a comment after its ``;``
    would be read by the server as a second statement.
    """
    import sqlparse

    statements = []
    for piece in sqlparse.split(text):
        statement = sqlparse.format(piece, strip_comments=True).strip().rstrip(";").strip()
        if statement:
            statements.append(statement)
    return statements


def one_line(statement: str, width: int = 160) -> str:
    """A statement on one line, cut to ``width`` characters, for logs and the approval's body.

    A password in it (``IDENTIFIED BY '...'``, ``PASSWORD('...')``) is shown as ``'***'``.
    """
    text = hide_passwords(" ".join(statement.split()))
    return text if len(text) <= width else text[: width - 1] + "…"


_PASSWORD_LITERAL = re.compile(
    r"((?:IDENTIFIED\s+(?:WITH\s+\S+\s+)?(?:BY|AS)"  # CREATE/ALTER USER ... IDENTIFIED BY '...'
    r"|PASSWORD(?:\s+FOR\s+\S+)?\s*=\s*(?:PASSWORD\s*\()?"  # SET PASSWORD [FOR u] = [PASSWORD(]'...'
    r"|PASSWORD\s*\()\s*)"  # PASSWORD('...')
    r"'(?:[^'\\]|\\.|'')*'",
    re.IGNORECASE,
)


def hide_passwords(text: str) -> str:
    """``text`` with every password literal replaced: user SQL may create users, and logs are read widely."""
    return _PASSWORD_LITERAL.sub(r"\1'***'", text)
