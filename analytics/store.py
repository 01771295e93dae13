"""Opening the store, upgrading its schema, and replacing it safely.

The store is one DuckDB file. DuckDB allows one writing process or many
reading processes, never both, so the two sides never share a file handle:

- the app opens the file read-only, once per process (`Store`), and gives
  every rerun its own cursor;
- every writer (generate, import) works on a private copy and swaps it in
  with an atomic rename (`rewrite`). Readers keep the old file until they
  notice the new one, so no reader ever sees a half-written store, and a
  failed write leaves the store byte for byte as it was.

With $BANKCRM_STORE_KEY set (production requires it: analytics.config) the
store is encrypted at rest with DuckDB's own database encryption (AES-256-GCM,
its write-ahead log and spill files included); every connection goes through
`connect`, which attaches the file with the key. DuckDB writes encrypted
files only with the OpenSSL of its httpfs extension (its built-in cipher
may reuse nonces): the extension comes from the lock file as a package,
signed by DuckDB, which checks the signature when it loads it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import ibis

from analytics import config, files, marts
from analytics.rules import RuleSet

if TYPE_CHECKING:
    from analytics import spark

DEFAULT_PATH = Path("data/bankcrm.duckdb")
DUCKDB_PREFIX = "duckdb:///"
SPARK_PREFIX = "pyspark://"


class BadSetting(ValueError):
    """A BANKCRM_BACKEND that names no engine bankcrm knows, or names it wrongly."""


def default_path() -> Path:
    """The store the app and the CLI use: the file a duckdb:/// $BANKCRM_BACKEND names (the newer, more
    general setting wins), else $BANKCRM_STORE, else data/bankcrm.duckdb."""
    setting = os.environ.get("BANKCRM_BACKEND", "")
    if setting.startswith(DUCKDB_PREFIX):
        return Path(setting.removeprefix(DUCKDB_PREFIX))
    return Path(os.environ.get("BANKCRM_STORE") or DEFAULT_PATH)


def facts(setting: str | None = None) -> Store | spark.Facts:
    """Where the facts are read from, as $BANKCRM_BACKEND (or `setting`) says:

    - `duckdb:///data/bankcrm.duckdb` (the default: the store at `default_path()`), a path after the
      three slashes, relative or absolute (`duckdb:////srv/bankcrm.duckdb`);
    - `pyspark://DATABASE?master=URL&parquet=DIR`: the tables of DATABASE on Spark (master `local[*]`
      when not given); with `parquet=`, registered from a `bankcrm parquet export` first.
    """
    setting = setting if setting is not None else os.environ.get("BANKCRM_BACKEND", "")
    if not setting:
        return Store(default_path())
    if setting.startswith(DUCKDB_PREFIX):
        return Store(Path(setting.removeprefix(DUCKDB_PREFIX)))
    if setting.startswith(SPARK_PREFIX):
        parts = urllib.parse.urlsplit(setting)
        query = urllib.parse.parse_qs(parts.query)
        unknown = set(query) - {"master", "parquet"}
        if not parts.netloc or unknown or parts.path not in ("", "/"):
            raise BadSetting(f"BANKCRM_BACKEND={setting!r}: expected pyspark://DATABASE?master=URL&parquet=DIR"
                             + (f" (unknown setting {', '.join(sorted(unknown))})" if unknown else ""))
        from analytics import spark

        parquet = query.get("parquet", [None])[0]
        try:
            return spark.Facts(query.get("master", ["local[*]"])[0], parts.netloc, Path(parquet) if parquet else None)
        except ValueError as problem:
            raise BadSetting(f"BANKCRM_BACKEND={setting!r}: {problem}") from None
    raise BadSetting(f"BANKCRM_BACKEND={setting!r}: expected duckdb:///PATH or pyspark://DATABASE?master=URL")


class StoreMissing(FileNotFoundError):
    pass


class StoreKeyMismatch(RuntimeError):
    """The store's encryption and $BANKCRM_STORE_KEY disagree: a key for a plain store, none or the wrong one for
    an encrypted one."""


# --- connecting: the one way to open a store file ------------------------------

ENCRYPTED_CATALOG = "store"


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _crypto_extension() -> Path:
    """DuckDB's httpfs extension for this DuckDB version, as the duckdb-extension-httpfs package ships it."""
    return Path(str(resources.files("duckdb_extension_httpfs") / "extensions" / f"v{duckdb.__version__}"
                    / "httpfs.duckdb_extension"))


def connect(path: Path | str, *, read_only: bool = False, named: Path | None = None) -> duckdb.DuckDBPyConnection:
    """A connection to the store file at `path` (created when missing, unless read-only), encrypted at rest
    when $BANKCRM_STORE_KEY is set; messages name the store `named` (default: `path`). Take cursors with
    `cursor`."""
    key, path = config.secret("store"), Path(path)
    named = named or path
    if not key:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.CatalogException as problem:
            if "encrypted" not in str(problem):
                raise
            raise StoreKeyMismatch(f"The store {named} is encrypted: set BANKCRM_STORE_KEY to its key.") from None
    con = duckdb.connect()
    con.execute("LOAD " + _quoted(str(_crypto_extension())))
    try:
        con.execute("ATTACH " + _quoted(str(path)) + " AS " + ENCRYPTED_CATALOG + " (ENCRYPTION_KEY " + _quoted(key)
                    + (", READ_ONLY" if read_only else "") + ")")
    except (duckdb.CatalogException, duckdb.InvalidInputException) as problem:
        con.close()
        if "not encrypted" in str(problem):
            raise StoreKeyMismatch(f"The store {named} is not encrypted, but BANKCRM_STORE_KEY is set: encrypt it "
                                   "with `bankcrm migrate` (it rewrites the store encrypted).") from None
        if "encryption key" in str(problem).lower():
            raise StoreKeyMismatch(f"BANKCRM_STORE_KEY is not the key of the store {named}.") from None
        raise
    con.execute("USE " + ENCRYPTED_CATALOG)
    return con


def cursor(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A cursor of a `connect` connection, reading the store (a cursor starts in DuckDB's in-memory catalog)."""
    cur = con.cursor()
    if ENCRYPTED_CATALOG in {row[0] for row in cur.execute("SELECT database_name FROM duckdb_databases()").fetchall()}:
        cur.execute("USE " + ENCRYPTED_CATALOG)
    return cur


def is_encrypted(path: Path) -> bool:
    """Whether the store file at `path` is encrypted (read from its header: DuckDB marks encrypted files)."""
    con = duckdb.connect()
    try:
        con.execute("ATTACH " + _quoted(str(path)) + " AS probe (READ_ONLY)")
    except duckdb.CatalogException as problem:
        return "encrypted" in str(problem)
    finally:
        con.close()
    return False


# --- migrations -------------------------------------------------------------

@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations(package: str = "analytics.migrations") -> list[Migration]:
    """The numbered migrations shipped in `package`, in order."""
    found = []
    for entry in resources.files(package).iterdir():
        if entry.name.endswith(".sql"):
            number, _, rest = entry.name.partition("_")
            found.append(Migration(int(number), rest.removesuffix(".sql"), entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    assert [m.version for m in found] == list(range(1, len(found) + 1)), "migration numbers must run 1..N"
    return found


def schema_version(con: duckdb.DuckDBPyConnection) -> int:
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
    ).fetchone()[0]
    if not exists:
        return 0
    return con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]


def migrate(con: duckdb.DuckDBPyConnection, target: int | None = None) -> int:
    """Apply the pending migrations (up to `target`), each in its own transaction.

    Returns the schema version the store is at afterwards. Existing rows are
    never dropped: a migration only adds or reshapes.
    """
    con.execute(
        "CREATE TABLE IF NOT EXISTS schema_version ("
        " version INTEGER PRIMARY KEY, name VARCHAR NOT NULL,"
        " applied_at TIMESTAMP NOT NULL DEFAULT current_timestamp)"
    )
    current = schema_version(con)
    for m in migrations():
        if m.version <= current or (target is not None and m.version > target):
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(m.sql)
            con.execute("INSERT INTO schema_version (version, name) VALUES (?, ?)", [m.version, m.name])
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise
        current = m.version
    return current


# --- writing: private copy, then atomic swap ---------------------------------

@contextlib.contextmanager
def writer_lock(path: Path) -> Iterator[None]:
    """One writer at a time per file, across processes (a lock file beside it)."""
    files.make_dir(path.parent)
    with open(files.private_file(path.with_name(path.name + ".lock")), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def rewrite(path: Path, *, fresh: bool = False, empty: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """Yield a writable connection to a private copy of the store at `path`, at the latest schema.

    When the block ends normally the copy replaces the store in one rename;
    when it raises, the copy is deleted and the store is untouched. With
    `fresh=True` the copy starts as a new store instead of as a copy; with
    `empty=True` as an empty file, without even the schema (to copy a whole
    store into). The copy and its WAL are private from the moment they are
    created (the block runs under `files.private_umask`), whatever the old
    store's mode.
    """
    path = Path(path)
    with writer_lock(path), files.private_umask():
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
        tmp.unlink(missing_ok=True)
        if path.exists() and not (fresh or empty):
            shutil.copyfile(path, tmp)
        con = connect(tmp)
        try:
            if not empty:
                migrate(con)
            yield con
            con.execute("CHECKPOINT")
            con.close()
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            con.close()
            tmp.unlink(missing_ok=True)
            Path(str(tmp) + ".wal").unlink(missing_ok=True)
            raise


def latest_version() -> int:
    return migrations()[-1].version


def stored_version(path: Path) -> int:
    """The schema version of the store file at `path`, read without locking out writers for long."""
    con = connect(path, read_only=True)
    try:
        return schema_version(con)
    finally:
        con.close()


def upgrade(path: Path, *, rebuild_marts: bool = False, rules: RuleSet | None = None) -> tuple[int, int]:
    """Bring the store at `path` to the latest schema, in place and atomically, and rebuild its marts,
    which this version of the code may build differently (or when asked: after a new pseudonym key); with
    `rules` (the rule set in force), its marts of tiers and stages follow them. A plain store is encrypted on
    the way when $BANKCRM_STORE_KEY is set.

    Returns (version before, version after). A store that is already current
    is not touched.
    """
    if config.secret("store") and not is_encrypted(path):
        _encrypt(path)
    before = stored_version(path)
    if before < latest_version() or rebuild_marts:
        with rewrite(path) as con:
            migrate(con)
            marts.rebuild(con, rules=rules)
    elif rules is not None and _kept_rules(path) != rules:
        with rewrite(path) as con:
            marts.retier(con, rules)
    return before, latest_version()


def _kept_rules(path: Path) -> RuleSet:
    con = connect(path, read_only=True)
    try:
        return marts.kept_rules(con)
    finally:
        con.close()


def _encrypt(path: Path) -> None:
    """Rewrite the plain store at `path` encrypted with $BANKCRM_STORE_KEY (a private copy swapped in)."""
    with rewrite(path, empty=True) as con:
        con.execute("ATTACH " + _quoted(str(path)) + " AS plain (READ_ONLY)")
        con.execute("COPY FROM DATABASE plain TO " + ENCRYPTED_CATALOG)
        con.execute("DETACH plain")


class StoreOutdated(RuntimeError):
    pass


# --- reading: one connection per process, a cursor per use ------------------

class Store:
    """Read-only access to the store for a long-running process (the app).

    Holds one DuckDB connection and hands out a fresh cursor-backed Ibis
    backend per call. When a writer has swapped in a new file, the next call
    reopens it, so readers move to the new store between reruns, never in the
    middle of one.
    """

    def __init__(self, path: Path | None = None):
        self.path = Path(path or default_path())
        self._lock = threading.Lock()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._identity: tuple[int, int] | None = None

    def _file_identity(self) -> tuple[int, int]:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            raise StoreMissing(
                f"No store at {self.path}. Create the demo store with `bankcrm generate` "
                "or import your data with `bankcrm import`."
            ) from None
        return st.st_ino, st.st_mtime_ns

    def cursor(self) -> duckdb.DuckDBPyConnection:
        return self._cursor()[1]

    def snapshot(self) -> tuple[tuple[int, int], ibis.BaseBackend]:
        """An Ibis backend on a fresh cursor on the newest store file, with that file's version: use one per
        rerun or request."""
        identity, cursor = self._cursor()
        return identity, ibis.duckdb.from_connection(cursor)

    def _cursor(self) -> tuple[tuple[int, int], duckdb.DuckDBPyConnection]:
        with self._lock:
            identity = self._file_identity()
            if self._con is None or identity != self._identity:
                # The old connection is dropped, never closed: cursors other sessions hold on it
                # keep answering from the old file until they go, then DuckDB lets the file go.
                con = self._connect(identity)
                found, needed = schema_version(con), latest_version()
                if found < needed:
                    con.close()
                    raise StoreOutdated(
                        f"The store {self.path} has schema version {found}; this version of bankcrm needs "
                        f"{needed}. Upgrade it in place with `bankcrm migrate` (nothing is lost)."
                    )
                self._con, self._identity = con, identity
            return self._identity, cursor(self._con)

    def _connect(self, identity: tuple[int, int]) -> duckdb.DuckDBPyConnection:
        """DuckDB gives a process the database it already has open for a path, even after the file was
        replaced; open the new file through a link of its own name so that this process reads the new one."""
        link = self.path.with_name(f".{self.path.name}.read-{os.getpid()}-{identity[0]}-{identity[1]}")
        try:
            link.unlink(missing_ok=True)  # left by a process that died between the two lines below
            os.link(self.path, link)
        except OSError:  # a read-only directory: the store itself (a swap is then read after a restart)
            return connect(self.path, read_only=True)
        try:
            return connect(link, read_only=True, named=self.path)
        finally:
            link.unlink()


# --- checksums ---------------------------------------------------------------

def table_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [
        row[0]
        for row in con.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'main' ORDER BY table_name"
        ).fetchall()
    ]


def table_sizes(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rows per table, by table name."""
    return {t: con.table(t).aggregate("count(*)").fetchall()[0][0] for t in table_names(con)}


def content_checksum(con: duckdb.DuckDBPyConnection) -> str:
    """A digest of every table's rows (order-independent) and the schema version."""
    digest = hashlib.sha256(f"schema:{schema_version(con)};".encode())
    for table in table_names(con):
        if table == "schema_version":  # holds when migrations ran, not data
            continue
        [(count, row_hash)] = con.table(table).aggregate(
            "count(*), coalesce(bit_xor(hash(*COLUMNS(*))), 0)"
        ).fetchall()
        digest.update(f"{table}:{count}:{row_hash};".encode())
    return digest.hexdigest()


def file_checksum(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
