"""The ``aurora-bluegreen`` command: --version, ``dags install`` and ``sandbox down``'s confirmation."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from aurora_bluegreen import dag_files
from aurora_bluegreen.cli import main, package_version
from aurora_bluegreen.get_provider_info import get_provider_info

REPO_DAGS = Path(__file__).resolve().parents[2] / "dags"


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"aurora-bluegreen {package_version()}"
    assert package_version() == get_provider_info()["versions"][0]


def test_a_checkout_finds_the_repositorys_dags():
    assert dag_files.source_dir() == REPO_DAGS


def test_dags_install_copies_the_dags_with_their_sql_folder(tmp_path, capsys):
    target = tmp_path / "dags" / "aurora_bluegreen"
    assert main(["dags", "install", str(target)]) == 0
    installed = sorted(p.relative_to(target) for p in target.rglob("*") if p.is_file())
    expected = sorted(
        p.relative_to(REPO_DAGS) for p in REPO_DAGS.rglob("*") if p.is_file() and p.suffix != ".pyc"
    )
    assert installed == expected
    assert (target / "sql" / "migrations" / "add_gift_wrap_to_orders.sql").read_bytes() == (
        REPO_DAGS / "sql" / "migrations" / "add_gift_wrap_to_orders.sql"
    ).read_bytes()
    assert "copied" in capsys.readouterr().out
    # Again: nothing to do.
    assert main(["dags", "install", str(target)]) == 0
    assert f"{len(expected)} file(s) already up to date" in capsys.readouterr().out


def test_dags_install_refuses_to_overwrite_a_changed_file_unless_forced(tmp_path, capsys):
    target = tmp_path / "dags"
    dag_files.install(target)
    edited = target / "sql" / "checks" / "orders_have_customers.sql"
    edited.write_text("SELECT 1 -- my own check\n")
    (target / "aurora_qa_refresh.py").unlink()

    assert main(["dags", "install", str(target)]) == 1
    error = capsys.readouterr().err
    assert "sql/checks/orders_have_customers.sql" in error and "--force" in error
    assert not (target / "aurora_qa_refresh.py").exists(), "nothing is copied when anything is refused"

    assert main(["dags", "install", "--force", str(target)]) == 0
    out = capsys.readouterr().out
    assert f"replaced {edited}" in out and "copied" in out
    assert edited.read_bytes() == (REPO_DAGS / "sql" / "checks" / "orders_have_customers.sql").read_bytes()


def test_dags_install_into_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    assert main(["dags", "install", str(tmp_path / "file")]) == 1
    assert "is not a directory" in capsys.readouterr().err


def state_dir_with_data(tmp_path: Path) -> Path:
    state_dir = tmp_path / "sandbox"
    (state_dir / "load").mkdir(parents=True)
    (state_dir / "load" / "acked.txt").write_text("1\n")
    return state_dir


class FakeStdin(io.StringIO):
    def __init__(self, text: str, tty: bool) -> None:
        super().__init__(text)
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


def test_sandbox_down_without_a_terminal_needs_yes(tmp_path, monkeypatch, capsys):
    state_dir = state_dir_with_data(tmp_path)
    monkeypatch.setattr("sys.stdin", FakeStdin("", tty=False))
    assert main(["sandbox", "down", "--state-dir", str(state_dir)]) == 1
    assert "pass --yes" in capsys.readouterr().err
    assert state_dir.exists()

    assert main(["sandbox", "down", "--yes", "--state-dir", str(state_dir)]) == 0
    assert not state_dir.exists()


@pytest.mark.parametrize(
    ("answer", "deleted"), [("y\n", True), ("yes\n", True), ("\n", False), ("n\n", False)]
)
def test_sandbox_down_asks_on_a_terminal(tmp_path, monkeypatch, capsys, answer, deleted):
    state_dir = state_dir_with_data(tmp_path)
    monkeypatch.setattr("sys.stdin", FakeStdin(answer, tty=True))
    assert main(["sandbox", "down", "--state-dir", str(state_dir)]) == (0 if deleted else 1)
    assert f"Stop and delete every server in {state_dir}" in capsys.readouterr().out
    assert state_dir.exists() is not deleted


def test_sandbox_down_of_nothing_needs_no_answer(tmp_path, monkeypatch):
    monkeypatch.setattr("sys.stdin", FakeStdin("", tty=False))
    assert main(["sandbox", "down", "--state-dir", str(tmp_path / "never-made")]) == 0
