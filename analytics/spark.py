"""The facts on Apache Spark: a session, the store's tables as Parquet, and those tables in a Spark database.

The analytics are Ibis expressions, so they run unchanged on Spark; only
how the tables get there is Spark's own:

- `export(store, directory)` writes every table of a DuckDB store as
  Parquet, one folder per table (`customers/part-0.parquet`, ...), plus a
  manifest. That folder layout is what Spark (and Hive, Trino, Databricks)
  reads as tables, so it is how the demo data or an import moves to a
  cluster.
- `register(session, directory, database)` makes those folders the tables
  of `database` in the session's catalog.
- `Facts` is the app's read side on Spark: one session per process, an Ibis
  backend on it, and a version that changes when a new export is swapped in.

Application state (users, rule sets, care tasks, the audit log) needs small
transactional writes and stays in the state store (SQLite), whichever engine
holds the facts.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import threading
from pathlib import Path

import duckdb
import ibis

from analytics import files, store

MANIFEST = "_bankcrm.json"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_HUGEINT, _BIGINT = duckdb.sqltype("HUGEINT"), duckdb.sqltype("BIGINT")


class SparkUnavailable(RuntimeError):
    pass


def identifier(name: str, what: str) -> str:
    """`name` if it is a plain SQL identifier: Spark's catalog takes names as they are, unquoted."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"{what} {name!r} is not a plain name (letters, digits and _, not starting with a digit)")
    return name


def session(master: str = "local[2]", app_name: str = "bankcrm"):
    """The process's Spark session. A local master gets settings for one machine: UI off, two shuffle
    partitions (the default 200 makes small queries 1.5-2x slower), scratch and warehouse in a temp dir."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise SparkUnavailable("pyspark is not installed: install bankcrm with its spark extra "
                               "(pip install -e '.[spark]')") from None
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise SparkUnavailable("Spark needs Java 17: no `java` on PATH and JAVA_HOME is not set")
    os.environ.setdefault("PYSPARK_PYTHON", os.sys.executable)
    builder = (SparkSession.builder.master(master).appName(app_name)
               .config("spark.sql.session.timeZone", "UTC")
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false"))
    if master.startswith("local"):
        scratch = Path(tempfile.mkdtemp(prefix="bankcrm-spark-"))
        builder = (builder.config("spark.sql.shuffle.partitions", "2")
                   .config("spark.sql.warehouse.dir", str(scratch / "warehouse"))
                   .config("spark.local.dir", str(scratch / "local"))
                   .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={scratch / 'derby'}"))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def export(store_path: Path, directory: Path) -> dict[str, int]:
    """Write every table of the DuckDB store at `store_path` to `directory` as Parquet, one folder per table,
    and return the rows per table. The new export replaces an old one only once it is complete.

    HUGEINT columns (DuckDB's sum over integers) are written as BIGINT, which every Parquet reader knows."""
    directory = Path(directory)
    files.make_dir(directory.parent)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))  # private, as mkdtemp makes it
    try:
        with files.private_umask(), store.connect(store_path, read_only=True) as con:  # private Parquet
            rows = store.table_sizes(con)
            for table in rows:
                relation = con.table(table)
                (staging / table).mkdir()
                columns = (duckdb.ColumnExpression(c) for c in relation.columns)
                relation.select(*(c.cast(_BIGINT).alias(c.get_name()) if kind == _HUGEINT else c
                                  for c, kind in zip(columns, relation.types))
                                ).write_parquet(str(staging / table / "part-0.parquet"))
            manifest = {"store": str(store_path), "schema_version": store.schema_version(con), "rows": rows}
        files.write_private(staging / MANIFEST, json.dumps(manifest, indent=2))
        _swap(staging, directory)
        return rows
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _swap(staging: Path, folder: Path) -> None:
    """Put the complete `staging` folder in the place of `folder` (each step a rename), then drop the old one."""
    old = folder.with_name(f".{folder.name}.old{os.getpid()}")
    if folder.exists():
        os.replace(folder, old)
    os.replace(staging, folder)
    shutil.rmtree(old, ignore_errors=True)


def write_scores(directory: Path, scores, table: str = "churn_scores") -> int:
    """Replace the scores (churn_scores or product_scores) of this month and model version in the export at
    `directory` (what `score.write` does in the DuckDB store); the manifest is rewritten last, so a reader
    that sees its new time finds the new scores."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    directory = Path(directory)
    manifest = json.loads((directory / MANIFEST).read_text())
    folder = directory / table
    kept = pq.read_table(folder)
    [(as_of, version)] = scores[["as_of", "model_version"]].drop_duplicates().itertuples(index=False)
    same = pc.and_(pc.equal(kept["as_of"], pa.scalar(as_of, kept.schema.field("as_of").type)),
                   pc.equal(kept["model_version"], version))
    new = pa.Table.from_pandas(scores[kept.schema.names], preserve_index=False).cast(kept.schema)
    written = pa.concat_tables([kept.filter(pc.invert(same)), new])
    staging = Path(tempfile.mkdtemp(prefix=f".{table}.", dir=directory))  # private, as mkdtemp makes it
    with files.private_umask():
        pq.write_table(written, staging / "part-0.parquet")
    _swap(staging, folder)
    manifest["rows"][table] = written.num_rows
    files.write_private(directory / MANIFEST, json.dumps(manifest, indent=2))
    return len(scores)


def tables_in(directory: Path) -> list[str]:
    """The tables of an export, as its manifest lists them."""
    manifest = Path(directory) / MANIFEST
    if not manifest.exists():
        raise FileNotFoundError(f"No bankcrm Parquet export at {directory} (no {MANIFEST}); "
                                "write one with `bankcrm parquet export`.")
    return sorted(json.loads(manifest.read_text())["rows"])


def register(spark, directory: Path, database: str) -> None:
    """Make the export at `directory` the tables of `database` in the session's catalog (external tables:
    dropping them leaves the files), replacing tables of the same names."""
    database = identifier(database, "Spark database")
    directory = Path(directory).resolve()
    import sqlglot as sg
    import sqlglot.expressions as sge

    # The DDL as expressions, not strings (Ibis 12's own drop_table loses the table's name under sqlglot 30)
    spark.sql(sge.Create(kind="DATABASE", this=sg.to_identifier(database, quoted=True), exists=True).sql("spark"))
    for table in tables_in(directory):
        name = sg.table(identifier(table, "table"), db=database, quoted=True)
        spark.sql(sge.Drop(kind="TABLE", tables=[name], exists=True).sql("spark"))
        spark.catalog.createTable(f"{database}.{table}", path=str(directory / table), source="parquet")


def connect(spark, database: str) -> ibis.BaseBackend:
    """An Ibis backend reading `database`'s tables; the session's current database becomes `database`."""
    spark.catalog.setCurrentDatabase(identifier(database, "Spark database"))
    return ibis.pyspark.connect(spark)


class Facts:
    """The app's read side on Spark, like `store.Store` for DuckDB: one Ibis backend per process.

    With a Parquet export (`parquet=`), the tables are registered from it, and again whenever a newer
    export is swapped in; the export's manifest time is the version the app's caches are keyed on.
    Without one, `database` must already be in the cluster's metastore, and the version stays the same
    for the life of the process (restart the app after the tables change)."""

    def __init__(self, master: str, database: str, parquet: Path | None = None):
        self.master, self.database, self.parquet = master, identifier(database, "Spark database"), parquet
        self._lock = threading.Lock()
        self._backend: ibis.BaseBackend | None = None
        self._version: tuple | None = None

    def _data_version(self) -> tuple:
        if self.parquet is None:
            return ("spark", self.database)
        try:
            return ("spark", self.database, (Path(self.parquet) / MANIFEST).stat().st_mtime_ns)
        except FileNotFoundError:
            raise store.StoreMissing(f"No bankcrm Parquet export at {self.parquet}; write one with "
                                     "`bankcrm parquet export`.") from None

    def snapshot(self) -> tuple[tuple, ibis.BaseBackend]:
        with self._lock:
            version = self._data_version()
            if self._backend is None or version != self._version:
                spark = session(self.master)
                if self.parquet is not None:
                    found = json.loads((Path(self.parquet) / MANIFEST).read_text())["schema_version"]
                    if found < store.latest_version():
                        raise store.StoreOutdated(
                            f"The Parquet export at {self.parquet} has schema version {found}; this version of "
                            f"bankcrm needs {store.latest_version()}. Upgrade the store with `bankcrm migrate` and "
                            "export it again.")
                    register(spark, self.parquet, self.database)
                self._backend, self._version = connect(spark, self.database), version
            return self._version, self._backend
