"""The import registry and the scope lists agree with the migrated store."""

from __future__ import annotations

import duckdb

from analytics import marts, schema, scope, store
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
    listed = set(scope.BRANCH_SCOPED) | set(scope.CUSTOMER_SCOPED) | set(scope.GLOBAL) | set(scope.INTERNAL)
    assert set(store.table_names(demo_con)) == listed
    assert set(IMPORTABLE) | set(SCORED_TABLES) | set(marts.MART_TABLES) | {"schema_version"} == listed - set(scope.INTERNAL)


def test_every_column_of_the_store_has_a_data_class_and_masks_name_real_columns(demo_con):
    """JR/T 0171-2020: every column is C1, C2 or C3; a mask names a column that exists and a rule of scope.MASKS."""
    for table in store.table_names(demo_con):
        columns = demo_con.table(table).columns
        classes = schema.classes(table, columns)
        assert set(classes) == set(columns), table
        assert set(classes.values()) <= set(schema.DATA_CLASSES), table
        assert set(schema.masks(table)) <= set(columns), table
        assert set(schema.masks(table).values()) <= set(scope.MASKS), table


def test_identifying_columns_are_masked_wherever_they_appear(demo_con):
    """A column that identifies a customer in one table is masked in every table that carries it."""
    identifying = {column for table in IMPORTABLE for column in schema.masks(table)}
    for table in store.table_names(demo_con):
        if table in scope.INTERNAL or table in IMPORTABLE and table != "customers":
            continue
        carried = identifying & set(demo_con.table(table).columns) - {"name", "city"}  # names of branches, RMs
        assert carried <= set(schema.masks(table)), (table, carried - set(schema.masks(table)))
