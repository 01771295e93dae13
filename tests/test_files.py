"""What bankcrm writes is its owner's only: files 0600, the folders it creates 0700, through every atomic replace,
whatever the caller's umask (these tests run under the common default, 022) and whatever the replaced file's mode."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from analytics import files, generate, spark, state, store
from auth.users import UsersFile
from bankcrm import cli

from .conftest import DEMO_END

runner = CliRunner()
SMALL = generate.DemoSpec(customers=300, months=6, seed=3, end_month=DEMO_END)


@pytest.fixture(autouse=True)
def default_umask():
    """The umask most shells give: files 0644 and folders 0755 unless the writer says otherwise."""
    before = os.umask(0o022)
    yield
    os.umask(before)


def not_private(root: Path) -> dict[str, str]:
    """`root` and everything under it whose mode is not the owner's only (folders 0700, files 0600)."""
    paths = [root, *root.rglob("*")]
    return {str(p.relative_to(root.parent)): oct(stat.S_IMODE(p.lstat().st_mode)) for p in paths
            if stat.S_IMODE(p.lstat().st_mode) != (0o700 if p.is_dir() else 0o600)}


def invoke(*args: str, stdin: str | None = None) -> None:
    result = runner.invoke(cli.app, list(args), input=stdin)
    assert result.exit_code == 0, result.output


def test_generate_creates_a_private_store_lock_and_folders(tmp_path):
    path = tmp_path / "new" / "data" / "bank.duckdb"
    invoke("generate", "--customers", "300", "--months", "6", "--end-month", str(DEMO_END), "--store", str(path))
    assert sorted(p.name for p in path.parent.iterdir()) == ["bank.duckdb", "bank.duckdb.lock"]
    assert not_private(tmp_path / "new") == {}


def test_a_folder_that_exists_keeps_the_mode_its_owner_gave_it(tmp_path):
    data = tmp_path / "data"  # a checkout's data/, beside data/samples/
    data.mkdir(0o755)
    state.StateStore(data / "bank.state.sqlite").record("alice", "login")
    assert not_private(data) == {"data": "0o755"}


def test_the_private_copy_and_its_wal_are_private_while_a_writer_fills_them(tmp_path):
    path = tmp_path / "bank.duckdb"
    with store.rewrite(path, fresh=True) as con:
        con.execute("CREATE TABLE t AS SELECT range AS x FROM range(1000)")
        written = sorted(p.name for p in tmp_path.iterdir())
        loose = not_private(tmp_path)
    assert f".bank.duckdb.tmp{os.getpid()}.wal" in written
    assert loose == {}


def test_an_import_replaces_a_0644_store_with_a_private_one(tmp_path):
    path = tmp_path / "bank.duckdb"
    generate.build_store(path, SMALL)
    path.chmod(0o644)
    old_inode = path.stat().st_ino
    branches = tmp_path / "branches.csv"
    branches.write_text("branch_code,name,name_en,city,region\nSH01,上海,Shanghai,上海,华东\n", encoding="utf-8")
    branches.chmod(0o600)  # the input is the user's own file, not the product's
    invoke("import", "branches", str(branches), "--store", str(path))
    assert path.stat().st_ino != old_inode
    assert not_private(tmp_path) == {}


def test_a_new_state_store_its_wal_shm_and_lock_are_private(tmp_path):
    states = state.StateStore(tmp_path / "new" / "bank.state.sqlite")
    with states.transaction() as con:
        state.append_audit(con, "alice", "login")
        names = sorted(p.name for p in states.path.parent.iterdir())
        loose = not_private(tmp_path / "new")
    assert names == ["bank.state.sqlite", "bank.state.sqlite-shm", "bank.state.sqlite-wal", "bank.state.sqlite.lock"]
    assert loose == {}


def test_a_0644_state_store_becomes_private_at_its_next_use(tmp_path):
    states = state.StateStore(tmp_path / "bank.state.sqlite")
    states.record("alice", "login")
    states.path.chmod(0o644)
    states.record("alice", "logout")
    assert not_private(tmp_path) == {}


def test_overlapping_private_umask_blocks_give_the_caller_s_umask_back_when_the_last_ends():
    def umask() -> int:
        current = os.umask(0)
        os.umask(current)
        return current

    first, second = files.private_umask(), files.private_umask()  # as two threads would hold them
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert umask() == 0o077
    second.__exit__(None, None, None)
    assert umask() == 0o022


def test_users_add_and_reset_password_leave_a_0644_users_file_private(tmp_path, monkeypatch):
    monkeypatch.setenv("BANKCRM_STATE", str(tmp_path / "state.sqlite"))
    file = tmp_path / "users.yaml"
    UsersFile(file).add("wang", "王", "executive", "long-enough-pass")
    file.chmod(0o644)
    invoke("users", "add", "li", "--role", "analyst", "--password-stdin", "--file", str(file),
           stdin="long-enough-pass\n")
    assert not_private(tmp_path) == {}
    file.chmod(0o644)
    invoke("users", "reset-password", "li", "--password-stdin", "--file", str(file), stdin="another-long-pass\n")
    assert not_private(tmp_path) == {}


def test_train_saves_a_private_model_and_paper_in_a_private_folder(demo_store, tmp_path):
    models = tmp_path / "new" / "models"
    invoke("train", "--store", str(demo_store), "--models", str(models))
    assert sorted(p.suffix for p in models.iterdir()) == [".json", ".skops"]
    assert not_private(tmp_path / "new") == {}


def test_parquet_export_and_scores_written_into_it_are_private(tmp_path):
    path = tmp_path / "bank.duckdb"
    generate.build_store(path, SMALL)
    out = tmp_path / "new" / "parquet"
    invoke("parquet", "export", "--store", str(path), "--out", str(out))
    invoke("parquet", "export", "--store", str(path), "--out", str(out))  # swapped over the first one
    scores = pd.DataFrame({"customer_id": [1], "as_of": [DEMO_END], "model_version": ["v1"],
                           "probability": [0.5], "reasons_json": ["[]"], "actions_json": ["[]"]})
    spark.write_scores(out, scores)
    assert (out / "churn_scores" / "part-0.parquet").exists() and (out / spark.MANIFEST).exists()
    assert not_private(tmp_path) == {}
