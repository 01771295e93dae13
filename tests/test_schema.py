"""The import registry and the scope lists agree with the migrated store."""

from __future__ import annotations

import duckdb

from analytics import marts, scope, store
from analytics.schema import IMPORTABLE, SCORED_TABLES

DUCKDB_TYPES = {"int": {"BIGINT", "INTEGER", "TINYINT"}, "float": {"DOUBLE"}, "text": {"VARCHAR"},
                "date": {"DATE"}, "timestamp": {"TIMESTAMP"}}


def test_every_importable_column_exists_with_its_type(tmp_path):
    con = duckdb.connect(str(tmp_path / "s.duckdb"))
    store.migrate(con)
    for spec in IMPORTABLE.values():
        relation = con.table(spec.name)
        actual = dict(zip(relation.columns, map(str, relation.dtypes)))
        assert list(actual) == list(spec.column_names), spec.name
        for col in spec.columns:
            assert actual[col.name] in DUCKDB_TYPES[col.type], (spec.name, col.name, actual[col.name])


def test_every_table_is_scoped_or_named_global(demo_con):
    """A new table cannot reach analytics without someone deciding who may see it."""
    listed = set(scope.BRANCH_SCOPED) | set(scope.CUSTOMER_SCOPED) | set(scope.GLOBAL)
    assert set(store.table_names(demo_con)) == listed
    assert set(IMPORTABLE) | set(SCORED_TABLES) | set(marts.MART_TABLES) | {"schema_version"} == listed
