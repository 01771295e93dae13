"""The engines the analytics tests run on: DuckDB, and a local Spark session reading the same store.

A store file reaches Spark the way a bank moves its data to a cluster: `bankcrm parquet export`'s code
writes it as Parquet, and the app's own `pyspark://` code registers it as a database. One local Spark
session (`local[2]`, UI off, warehouse in a temp dir) serves the whole test run; each store gets a session
of its own on it (`newSession`) and is copied once per version of its file.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import ibis
import pytest

ENGINES = ("duckdb", "spark")


class SparkCopies:
    """`copies(path)`: an Ibis backend on Spark over the store file at `path`."""

    def __init__(self, directory: Path):
        from analytics import spark

        try:
            self._spark = spark.session("local[2]", app_name="bankcrm-tests")
        except spark.SparkUnavailable as missing:
            pytest.skip(f"the Spark half of the engine comparison needs Spark: {missing}")
        self._directory = directory
        self._open: dict[tuple, ibis.BaseBackend] = {}

    def __call__(self, path: Path) -> ibis.BaseBackend:
        from analytics import spark

        stat = Path(path).stat()
        key = (str(Path(path).resolve()), stat.st_mtime_ns, stat.st_size)
        if key not in self._open:
            database = "store_" + hashlib.sha256(repr(key).encode()).hexdigest()[:12]
            spark.export(path, self._directory / database)
            session = self._spark.newSession()
            spark.register(session, self._directory / database, database)
            self._open[key] = spark.connect(session, database)
        return self._open[key]


def duckdb_connect(path: Path) -> ibis.BaseBackend:
    return ibis.duckdb.connect(str(path), read_only=True)


SPARK_EXAMPLES = 5  # each Spark example costs seconds; test_engines holds every page's figures equal on both


def properties(engine: str, examples: int):
    """`@given(data=st.data())` with `examples` examples on DuckDB and SPARK_EXAMPLES on Spark, for a property
    test's inner check (the engine is a fixture, known only when the test runs)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    def decorate(check):
        return settings(max_examples=examples if engine == "duckdb" else min(examples, SPARK_EXAMPLES),
                        deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])(
            given(data=st.data())(check))

    return decorate
