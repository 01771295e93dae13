"""The store: migrations, safe replacement, and readers that follow a swap."""

from __future__ import annotations

import dataclasses

import duckdb
import ibis
import pandas as pd
import pytest

from analytics import store


def test_migrations_create_every_table_of_the_data_model(tmp_path):
    con = duckdb.connect(str(tmp_path / "s.duckdb"))
    assert store.migrate(con) == len(store.migrations())
    tables = set(store.table_names(con))
    design = {"branches", "relationship_managers", "customers", "accounts", "monthly_balances", "interactions",
              "campaigns", "funnel_events", "surveys", "complaints", "churn_scores", "schema_version"}
    assert design <= tables


def test_migrate_is_idempotent(tmp_path):
    con = duckdb.connect(str(tmp_path / "s.duckdb"))
    first = store.migrate(con)
    assert store.migrate(con) == first
    assert con.execute("SELECT count(*) FROM schema_version").fetchone()[0] == first


def test_an_older_store_upgrades_in_place_and_keeps_its_rows(tmp_path, monkeypatch):
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    store.migrate(con)
    con.execute("INSERT INTO branches VALUES ('SH01', '上海', 'Shanghai', '上海', '华东', NULL)")
    before = con.execute("SELECT * FROM branches").fetchall()
    con.close()

    shipped = store.migrations()
    newer = dataclasses.replace(shipped[-1], version=len(shipped) + 1, name="add_branch_phone",
                                sql="ALTER TABLE branches ADD COLUMN phone VARCHAR")
    monkeypatch.setattr(store, "migrations", lambda package="analytics.migrations": [*shipped, newer])
    con = duckdb.connect(str(path))
    assert store.migrate(con) == newer.version
    assert con.execute("SELECT branch_code, name, name_en, city, region, opened_on FROM branches").fetchall() == before
    assert con.execute("SELECT phone FROM branches").fetchall() == [(None,)]


def test_a_failed_migration_rolls_back(tmp_path, monkeypatch):
    shipped = store.migrations()
    broken = dataclasses.replace(shipped[-1], version=len(shipped) + 1, name="broken",
                                 sql="ALTER TABLE branches ADD COLUMN x INT; SELECT no_such_column FROM branches")
    monkeypatch.setattr(store, "migrations", lambda package="analytics.migrations": [*shipped, broken])
    con = duckdb.connect(str(tmp_path / "s.duckdb"))
    with pytest.raises(duckdb.Error):
        store.migrate(con)
    assert store.schema_version(con) == len(shipped)
    assert "x" not in [r[0] for r in con.execute("DESCRIBE branches").fetchall()]


def test_rewrite_that_fails_leaves_the_store_byte_for_byte(tmp_path):
    path = tmp_path / "s.duckdb"
    with store.rewrite(path, fresh=True) as con:
        con.execute("INSERT INTO branches VALUES ('SH01', 'a', 'a', 'a', 'a', NULL)")
    before = store.file_checksum(path)
    with pytest.raises(RuntimeError):
        with store.rewrite(path) as con:
            con.execute("DELETE FROM branches")
            raise RuntimeError("boom")
    assert store.file_checksum(path) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_reader_keeps_its_view_during_a_swap_and_follows_on_next_cursor(tmp_path):
    path = tmp_path / "s.duckdb"
    with store.rewrite(path, fresh=True) as con:
        con.execute("INSERT INTO branches VALUES ('SH01', 'a', 'a', 'a', 'a', NULL)")
    reader = store.Store(path)
    old_cursor = reader.cursor()
    with store.rewrite(path) as con:
        con.execute("INSERT INTO branches VALUES ('BJ01', 'b', 'b', 'b', 'b', NULL)")
    assert old_cursor.execute("SELECT count(*) FROM branches").fetchone()[0] == 1
    assert reader.snapshot()[1].table("branches").count().execute() == 2
    assert old_cursor.execute("SELECT count(*) FROM branches").fetchone()[0] == 1  # not closed by the reopen


def test_store_missing_says_how_to_create_one(tmp_path):
    with pytest.raises(store.StoreMissing, match="bankcrm generate"):
        store.Store(tmp_path / "nothing.duckdb").cursor()


def test_ibis_loads_frames_through_memtable(tmp_path):
    """Ibis 12 + DuckDB 2 cannot create a table from a bare frame (parser error);
    the importer relies on ibis.memtable and on create_table from an expression.
    This fails if an upgrade breaks that path."""
    con = duckdb.connect(str(tmp_path / "s.duckdb"))
    backend = ibis.duckdb.from_connection(con)
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    backend.create_table("from_memtable", ibis.memtable(frame), temp=True)
    expr = ibis.memtable(frame).mutate(c=ibis._.a * 2)
    backend.create_table("from_expr", expr, temp=True)
    assert backend.table("from_memtable").execute().equals(frame)
    assert backend.table("from_expr").c.to_list() == [2, 4]


def test_content_checksum_sees_a_swapped_value(tmp_path):
    con = duckdb.connect(str(tmp_path / "s.duckdb"))
    store.migrate(con)
    con.execute("INSERT INTO branches VALUES ('A', 'x', 'x', 'c', 'r', NULL), ('B', 'y', 'y', 'c', 'r', NULL)")
    before = store.content_checksum(con)
    con.execute("UPDATE branches SET name = CASE name WHEN 'x' THEN 'y' ELSE 'x' END")
    assert store.content_checksum(con) != before


def _older_store(tmp_path, monkeypatch):
    """A store at the shipped schema, then a release that adds migration N+1."""
    path = tmp_path / "old.duckdb"
    with store.rewrite(path, fresh=True) as con:
        con.execute("INSERT INTO branches VALUES ('SH01', 'a', 'a', 'a', 'a', NULL)")
    shipped = store.migrations()
    newer = dataclasses.replace(shipped[-1], version=len(shipped) + 1, name="add_note",
                                sql="ALTER TABLE branches ADD COLUMN note VARCHAR")
    monkeypatch.setattr(store, "migrations", lambda package="analytics.migrations": [*shipped, newer])
    return path, newer.version


def test_the_app_refuses_an_outdated_store_and_says_how_to_upgrade(tmp_path, monkeypatch):
    path, _ = _older_store(tmp_path, monkeypatch)
    with pytest.raises(store.StoreOutdated, match="bankcrm migrate"):
        store.Store(path).cursor()


def test_upgrade_brings_a_store_file_to_the_latest_schema_keeping_rows(tmp_path, monkeypatch):
    path, newest = _older_store(tmp_path, monkeypatch)
    assert store.upgrade(path) == (newest - 1, newest)
    assert store.Store(path).cursor().execute("SELECT branch_code, note FROM branches").fetchall() == [("SH01", None)]
    untouched = store.file_checksum(path)
    assert store.upgrade(path) == (newest, newest)
    assert store.file_checksum(path) == untouched


def test_upgrade_rebuilds_the_marts_that_the_new_code_reads(tmp_path):
    """A store of the release before the behaviour tags (schema 2, marts built the old way) gets the new
    columns and the tag figures and found segments the pages read, from its own rows."""
    path = tmp_path / "release-2.duckdb"
    con = duckdb.connect(str(path))
    store.migrate(con, target=2)
    con.execute("INSERT INTO branches VALUES ('SH01', 'a', 'a', 'a', 'a', NULL)")
    con.execute("INSERT INTO customers VALUES (1, 'SH01', NULL, 'x', NULL, NULL, NULL, NULL, NULL, '2024-01-01',"
                " NULL, 'active')")
    con.execute("INSERT INTO accounts VALUES (1, 1, 'current', '2024-01-01', NULL, NULL)")
    con.execute("INSERT INTO monthly_balances VALUES (1, '2024-01-31', 100, 0, 0, 0, 1, 10, 0, '2024-01-20')")
    con.execute("CREATE TABLE customer_current AS SELECT 1 AS customer_id")  # the old mart, whatever it held
    con.close()
    assert store.upgrade(path) == (2, store.latest_version())
    con = duckdb.connect(str(path), read_only=True)
    try:
        assert con.execute("SELECT customer_id, products_held, credit_products, term_deposits_cny FROM customer_current"
                           ).fetchall() == [(1, 1, 0, None)]
        assert {"customer_segments", "found_segments"} <= set(store.table_names(con))
    finally:
        con.close()


# --- encryption at rest ------------------------------------------------------------------

KEY = "0123456789abcdef" * 4  # 64 hex digits


def small_store(path, customers=300):
    import datetime as dt

    from analytics import generate

    generate.build_store(path, generate.DemoSpec(customers=customers, months=6, seed=3, end_month=dt.date(2026, 6, 30)))
    return path


def test_with_a_key_the_store_is_encrypted_at_rest_and_opens_only_with_it(tmp_path, monkeypatch):
    monkeypatch.setenv("BANKCRM_STORE_KEY", KEY)
    path = small_store(tmp_path / "enc.duckdb")
    assert store.is_encrypted(path)
    con = store.connect(path, read_only=True)
    names = [n for (n,) in con.execute("SELECT name FROM customers LIMIT 20").fetchall()]
    ids = [i for (i,) in con.execute("SELECT id_number FROM customers WHERE id_number IS NOT NULL LIMIT 20").fetchall()]
    con.close()
    raw = path.read_bytes()
    for secret in [*names, *ids, "customer_month", "monthly_balances"]:
        assert secret.encode("utf-8") not in raw, secret
    assert not list(tmp_path.glob("*.wal"))
    backend = store.Store(path).snapshot()[1]
    assert backend.table("customers").count().execute() == 300
    monkeypatch.setenv("BANKCRM_STORE_KEY", "f" + KEY[1:])
    with pytest.raises(store.StoreKeyMismatch, match="not the key of the store"):
        store.connect(path, read_only=True)
    monkeypatch.delenv("BANKCRM_STORE_KEY")
    with pytest.raises(store.StoreKeyMismatch, match="is encrypted: set BANKCRM_STORE_KEY"):
        store.Store(path).snapshot()
    with pytest.raises(duckdb.Error):
        duckdb.connect(str(path), read_only=True).execute("SELECT count(*) FROM customers")


def test_an_import_into_an_encrypted_store_keeps_it_encrypted(tmp_path, monkeypatch):
    from analytics import ingest

    monkeypatch.setenv("BANKCRM_STORE_KEY", KEY)
    monkeypatch.setenv("BANKCRM_STATE", str(tmp_path / "state.sqlite"))
    path = small_store(tmp_path / "enc.duckdb")
    (tmp_path / "branches.csv").write_text("branch_code,name,name_en,city,region\nZZ01,新支行,New branch,上海,华东\n",
                                           "utf-8")
    report = ingest.import_file("branches", tmp_path / "branches.csv", store_path=path)
    assert report.added == 1 and store.is_encrypted(path)
    assert "新支行".encode() not in path.read_bytes()


def test_migrate_encrypts_a_plain_store_keeping_every_row(tmp_path, monkeypatch):
    path = small_store(tmp_path / "plain.duckdb")
    with duckdb.connect(str(path), read_only=True) as con:
        before = store.content_checksum(con)
    monkeypatch.setenv("BANKCRM_STORE_KEY", KEY)
    with pytest.raises(store.StoreKeyMismatch, match="not encrypted, but BANKCRM_STORE_KEY is set"):
        store.Store(path).snapshot()
    store.upgrade(path)
    assert store.is_encrypted(path)
    with store.connect(path, read_only=True) as con:
        assert store.content_checksum(con) == before
