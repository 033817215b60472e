"""Markdown for the approval's body: tables whose cells cannot break out of their column."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def code(text: object) -> str:
    """``text`` as inline code in a table cell: no pipe ends the cell, no backtick ends the code."""
    return "`" + " ".join(str(text).split()).replace("|", "\\|").replace("`", "'") + "`"


def text(value: object) -> str:
    """Plain text in a table cell, on one line."""
    return " ".join(str(value).split()).replace("|", "\\|")
