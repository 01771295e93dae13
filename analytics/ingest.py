"""Imports: read a bank's extract, map it, check every row, load all or nothing.

`import_file` reads a CSV (UTF-8, UTF-8 with BOM, or a declared encoding
such as GBK/GB18030; any delimiter) or a Parquet file, applies an optional
mapping (renames, value maps, date formats, unit factors), checks every row
against the table's rules in `analytics.schema`, and upserts the rows by the
table's key into a private copy of the store, which replaces the store only
when everything succeeded (see `store.rewrite`). A file with any bad row is
rejected whole; the error names file, row, column, value and rule for the
first 50 problems and says how many there are.

Rows are numbered as a spreadsheet numbers them: the header is row 1.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import yaml

from analytics import marts, rulebook, state, store
from analytics.schema import IMPORTABLE, Column, TableSpec

MAX_REPORTED = 50
DELIMITERS = (",", ";", "\t", "|")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_ROW = "_row"
LINE_END = re.compile(r"\r\n|\r|\n")  # as the CSV reader ends a line: a bare \r too (CSV for old Macintosh Excel)


@dataclass(frozen=True)
class Problem:
    row: int | None  # spreadsheet row; None for problems with the file as a whole
    column: str | None
    value: str | None
    rule: str

    def __str__(self) -> str:
        where = [f"row {self.row}" if self.row is not None else "file"]
        if self.column is not None:
            where.append(f"column {self.column}")
        if self.value is not None:
            shown = self.value if len(self.value) <= 60 else self.value[:57] + "..."
            where.append(f"value {shown!r}")
        return f"{', '.join(where)}: {self.rule}"

    def logged(self) -> str:
        """The problem as the audit log keeps it: row, column and rule, never the value (it may be an ID
        number or a name, and the log is never purged)."""
        return str(replace(self, value=None))


class ImportRejected(Exception):
    """The file was not imported; the store is exactly as it was."""

    def __init__(self, file: Path, problems: list[Problem], total: int | None = None):
        self.file = Path(file)
        self.problems = problems[:MAX_REPORTED]
        self.total = total if total is not None else len(problems)
        shown = f" (the first {len(self.problems)} are listed)" if self.total > len(self.problems) else ""
        lines = [f"{self.file}: not imported, {self.total} problem{'s' if self.total != 1 else ''}{shown}; the store is unchanged."]
        lines += [f"  {p}" for p in self.problems]
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class ImportReport:
    table: str
    file: Path
    rows: int
    added: int
    updated: int
    unchanged: int
    seconds: float

    def __str__(self) -> str:
        return (f"{self.file}: {self.rows} rows into {self.table} "
                f"({self.added} added, {self.updated} updated, {self.unchanged} unchanged) in {self.seconds:.1f} s")


# --- mapping -------------------------------------------------------------------

@dataclass(frozen=True)
class ColumnMap:
    source: str | None = None          # the file's column; None with a constant `value`
    values: dict[str, str] | None = None
    format: str | None = None          # strptime format of a date or timestamp
    multiply: float | None = None
    years_before: dt.date | None = None  # the source is a number of years before this date
    value: str | None = None           # a constant for every row


@dataclass(frozen=True)
class Mapping:
    columns: dict[str, ColumnMap] = field(default_factory=dict)
    ignore: tuple[str, ...] = ()
    encoding: str | None = None
    delimiter: str | None = None
    table: str | None = None

    @classmethod
    def load(cls, path: Path) -> Mapping:
        try:
            raw = yaml.safe_load(Path(path).read_text("utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ImportRejected(path, [Problem(None, None, None, f"mapping file cannot be read: {exc}")]) from None
        problems = []
        allowed = {"table", "encoding", "delimiter", "columns", "ignore"}
        for key in sorted(set(raw) - allowed):
            problems.append(Problem(None, None, key, f"unknown mapping key; use {', '.join(sorted(allowed))}"))
        columns = {}
        for target, entry in (raw.get("columns") or {}).items():
            if isinstance(entry, str):
                columns[target] = ColumnMap(source=entry)
                continue
            if not isinstance(entry, dict):
                problems.append(Problem(None, target, str(entry), "mapping entry must be a column name or a table of options"))
                continue
            unknown = set(entry) - {"from", "values", "format", "multiply", "years_before", "value"}
            if unknown:
                problems.append(Problem(None, target, ", ".join(sorted(unknown)),
                                        "unknown option; use from, values, format, multiply, years_before, value"))
                continue
            if ("from" in entry) == ("value" in entry):
                problems.append(Problem(None, target, None, "give exactly one of `from` (a column) or `value` (a constant)"))
                continue
            years_before = entry.get("years_before")
            columns[target] = ColumnMap(
                source=entry.get("from"),
                values={str(k): str(v) for k, v in (entry.get("values") or {}).items()} or None,
                format=entry.get("format"),
                multiply=float(entry["multiply"]) if "multiply" in entry else None,
                years_before=dt.date.fromisoformat(str(years_before)) if years_before else None,
                value=None if entry.get("value") is None else str(entry["value"]),
            )
        if problems:
            raise ImportRejected(path, problems)
        delimiter = raw.get("delimiter")
        return cls(columns=columns, ignore=tuple(raw.get("ignore") or ()), encoding=raw.get("encoding"),
                   delimiter="\t" if delimiter in ("\\t", "tab") else delimiter, table=raw.get("table"))


# --- reading -------------------------------------------------------------------

def read_source(file: Path, *, encoding: str | None = None, delimiter: str | None = None) -> pa.Table:
    """The file's columns as strings (empty cells are nulls), named as the file names them."""
    file = Path(file)
    if not file.exists():
        raise ImportRejected(file, [Problem(None, None, None, "file not found")])
    if file.suffix.lower() in (".parquet", ".pq"):
        return _read_parquet(file)
    return _read_csv(file, encoding, delimiter)


def _read_parquet(file: Path) -> pa.Table:
    try:
        table = pq.read_table(file)
    except Exception as exc:  # pyarrow raises several types for damaged files
        raise ImportRejected(file, [Problem(None, None, None, f"not a readable Parquet file: {exc}")]) from None
    if table.num_rows == 0:
        raise ImportRejected(file, [Problem(None, None, None, "the file has no rows")])
    strings, problems = [], []
    for name, column in zip(table.column_names, table.columns):
        try:
            strings.append(column.cast(pa.string()))
        except pa.ArrowNotImplementedError:  # no text form for the type: lists, structs, maps, ...
            problems.append(_no_text_form(name, column))
        except pa.ArrowInvalid:  # a text form for the type, but not for a value: bytes that are not UTF-8
            problems.append(_first_not_utf8(name, column) or _no_text_form(name, column))
    if problems:
        raise ImportRejected(file, problems)
    return pa.table(strings, names=table.column_names)


def _no_text_form(name: str, column: pa.ChunkedArray) -> Problem:
    return Problem(1, name, None, f"{column.type} values cannot be read as text; "
                                  "write one text, number or date per cell, or leave the column out of the file")


def _first_not_utf8(name: str, column: pa.ChunkedArray) -> Problem | None:
    """The first value of a column of bytes that is not UTF-8 text, if there is one."""
    for row, value in enumerate(column.to_pylist(), start=2):
        if not isinstance(value, bytes):
            continue
        try:
            value.decode("utf-8")
        except UnicodeDecodeError as exc:
            return Problem(row, name, value[exc.start:exc.start + 4].hex(" "),
                           f"bytes that are not UTF-8 text (byte {exc.start} of the value); "
                           "write the column as UTF-8 strings, or leave it out of the file")
    return None


def _read_csv(file: Path, encoding: str | None, delimiter: str | None) -> pa.Table:
    data = file.read_bytes()
    if not data.strip():
        raise ImportRejected(file, [Problem(None, None, None, "the file is empty")])
    text = _decode(file, data, encoding)
    header_line = LINE_END.split(text, maxsplit=1)[0]
    if delimiter is None:
        delimiter = max(DELIMITERS, key=header_line.count)
    header = next(csv.reader([header_line], delimiter=delimiter))
    duplicates = sorted({h for h in header if header.count(h) > 1})
    if duplicates:
        raise ImportRejected(file, [Problem(1, h, None, "the header names this column more than once") for h in duplicates])
    if not LINE_END.search(text.strip("\r\n")):
        raise ImportRejected(file, [Problem(None, None, None, "the file has a header but no rows")])

    invalid: list[Problem] = []

    def on_invalid_row(row) -> str:
        invalid.append(Problem(row.number, None, row.text[:200],
                               f"has {row.actual_columns} fields, the header has {row.expected_columns}"
                               + (" (is the last line cut off?)" if row.actual_columns < row.expected_columns else "")))
        return "skip"

    try:
        table = pa_csv.read_csv(
            io.BytesIO(text.encode("utf-8")),
            read_options=pa_csv.ReadOptions(use_threads=False, block_size=64 << 20),
            parse_options=pa_csv.ParseOptions(delimiter=delimiter, newlines_in_values=True,
                                              invalid_row_handler=on_invalid_row),
            convert_options=pa_csv.ConvertOptions(column_types={h: pa.string() for h in header},
                                                  strings_can_be_null=True, null_values=[""],
                                                  quoted_strings_can_be_null=True),
        )
    except pa.ArrowInvalid as exc:
        raise ImportRejected(file, [Problem(None, None, None, f"not readable as CSV with delimiter {delimiter!r}: {exc}")]) from None
    if invalid:
        raise ImportRejected(file, invalid)
    return table


def _decode(file: Path, data: bytes, encoding: str | None) -> str:
    if encoding:
        try:
            return data.decode(encoding).removeprefix("\ufeff")
        except LookupError:
            raise ImportRejected(file, [Problem(None, None, encoding, "unknown encoding")]) from None
        except UnicodeDecodeError as exc:
            row = data[: exc.start].count(b"\n") + 1
            raise ImportRejected(file, [Problem(row, None, data[exc.start:exc.start + 4].hex(" "),
                                                f"not valid {encoding} (byte {exc.start})")]) from None
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        row = data[: exc.start].count(b"\n") + 1
        hint = "declare the file's encoding (--encoding, or `encoding:` in the mapping)"
        try:
            data.decode("gb18030")
            hint = ("it reads as GB18030/GBK, as Chinese core-banking exports often are: "
                    "declare it with --encoding gb18030 or `encoding: gb18030` in the mapping")
        except UnicodeDecodeError:
            pass
        raise ImportRejected(file, [Problem(row, None, data[exc.start:exc.start + 4].hex(" "),
                                            f"not UTF-8 (byte {exc.start}); {hint}")]) from None


# --- mapping applied -----------------------------------------------------------

def _apply_mapping(file: Path, source: pa.Table, spec: TableSpec, mapping: Mapping) -> ir.Table:
    """An Ibis table with exactly the spec's columns (strings) plus `_row`, the spreadsheet row."""
    present = source.column_names
    problems = []
    for target, cmap in mapping.columns.items():
        if target not in spec.column_names:
            problems.append(Problem(None, target, None, f"the mapping names a column that {spec.name} does not have"))
        elif cmap.source is not None and cmap.source not in present:
            problems.append(Problem(1, cmap.source, None, f"the mapping reads this column for {target}, but the file has no such column"))
    sources = {target: cmap.source for target, cmap in mapping.columns.items() if cmap.source}
    for name in spec.column_names:
        if name not in mapping.columns and name in present:
            sources[name] = name
    used = set(sources.values()) | set(mapping.ignore)
    missing = [c.name for c in spec.columns if c.required and c.name not in sources and c.name not in mapping.columns]
    extra = [c for c in present if c not in used]
    if missing:
        hint = ""
        if len(present) == 1 and any(d in present[0] for d in DELIMITERS):
            hint = f" (the header reads as one column {present[0][:60]!r}: is the delimiter right?)"
        problems.append(Problem(1, ", ".join(missing), None, f"required column{'s' if len(missing) > 1 else ''} missing{hint}"))
    if extra and not missing:
        problems.append(Problem(1, ", ".join(extra), None,
                                f"column{'s' if len(extra) > 1 else ''} not in {spec.name}; map or ignore them in a mapping file"))
    if problems:
        raise ImportRejected(file, problems)

    row = _unused_name(_ROW, present)  # a file may have a column named _row: it is the file's
    raw = ibis.memtable(source.append_column(row, pa.array(range(2, source.num_rows + 2), pa.int64())))
    out = {}
    for col in spec.columns:
        cmap = mapping.columns.get(col.name, ColumnMap(source=sources.get(col.name)))
        out[col.name] = _convert(raw, col, cmap)
    out[_ROW] = raw[row]
    return raw.select(**out)


def _unused_name(name: str, taken: list[str]) -> str:
    """`name`, with underscores before it until no column in `taken` has it."""
    while name in taken:
        name = "_" + name
    return name


def _convert(raw: ir.Table, col: Column, cmap: ColumnMap) -> ir.StringValue:
    if cmap.value is not None:
        return ibis.literal(cmap.value, type="string")
    if cmap.source is None:
        return ibis.null("string")
    value = raw[cmap.source].strip().nullif("")
    if cmap.values:
        value = value.substitute(cmap.values, else_=value)
    if cmap.format:
        parsed = _try_strptime(value, cmap.format)
        shown = parsed.date().cast("string") if col.type == "date" else parsed.cast("string")
        value = shown.coalesce(value)
    if cmap.multiply is not None:
        value = (value.try_cast("float64") * cmap.multiply).cast("string").coalesce(value)
    if cmap.years_before is not None:
        years = value.try_cast("int32")
        shifted = ibis.date(cmap.years_before.isoformat()) - years.as_interval("Y")
        value = shifted.cast("date").cast("string").coalesce(value)
    return value


@ibis.udf.scalar.builtin(name="try_strptime")
def _try_strptime(value: str, fmt: str) -> dt.datetime:  # DuckDB's own function
    ...


# --- checks --------------------------------------------------------------------

_CASTS = {"int": "int64", "float": "float64", "date": "date", "timestamp": "timestamp", "text": "string"}
_TYPE_RULE = {
    "int": "not a whole number",
    "float": "not a number",
    "date": "not a date (YYYY-MM-DD, or give `format:` in the mapping)",
    "timestamp": "not a date and time (YYYY-MM-DD HH:MM:SS, or give `format:` in the mapping)",
}


def _parsed(v: ir.StringValue, col: Column) -> ir.Value:
    """The text as the column's type; null where it does not parse (whole numbers: digits only)."""
    if col.type == "text":
        return v
    typed = v.try_cast(_CASTS[col.type])
    if col.type == "int":
        typed = v.re_search(r"^[+-]?[0-9]+$").ifelse(typed, ibis.null(_CASTS["int"]))
    return typed


def _problem_rows(t: ir.Table, condition: ir.BooleanValue, column: str, rule: str | ir.StringValue) -> ir.Table:
    rule_value = ibis.literal(rule) if isinstance(rule, str) else rule
    return t.filter(condition).select(
        row=t[_ROW], column=ibis.literal(column), value=t[column].cast("string"), rule=rule_value
    )


def _checks(t: ir.Table, spec: TableSpec, backend: ibis.BaseBackend) -> list[ir.Table]:
    checks = []
    for col in spec.columns:
        v = t[col.name]
        if col.required:
            checks.append(_problem_rows(t, v.isnull(), col.name, "required, but empty"))
        if col.type != "text":
            typed = _parsed(v, col)
            checks.append(_problem_rows(t, v.notnull() & typed.isnull(), col.name, _TYPE_RULE[col.type]))
            if col.min_value is not None:
                checks.append(_problem_rows(t, typed < col.min_value, col.name, f"must be at least {col.min_value:g}"))
            if col.max_value is not None:
                checks.append(_problem_rows(t, typed > col.max_value, col.name, f"must be at most {col.max_value:g}"))
            if col.month_end:
                next_day = typed.cast("date") + ibis.interval(days=1)
                checks.append(_problem_rows(t, next_day.day() != 1, col.name, "must be the last day of a month"))
            continue
        length = v.length()
        checks.append(_problem_rows(t, length > col.max_length, col.name,
                                    ibis.literal(f"longer than {col.max_length} characters (") + length.cast("string") + ")"))
        if col.choices:
            checks.append(_problem_rows(t, v.notnull() & ~v.isin(col.choices), col.name,
                                        f"must be one of {', '.join(col.choices)}"))
        if col.pattern:
            checks.append(_problem_rows(t, v.notnull() & ~v.re_search(f"^(?:{col.pattern})$") & (length <= col.max_length),
                                        col.name, f"must be {col.pattern_rule}"))
        else:
            starts_formula = ibis.or_(*[v.startswith(p) for p in FORMULA_PREFIXES])
            checks.append(_problem_rows(t, starts_formula, col.name,
                                        "starts with a character that spreadsheets run as a formula (= + - @)"))
    for order in spec.orders:
        earlier = _parsed(t[order.earlier], spec.column(order.earlier))
        later = _parsed(t[order.later], spec.column(order.later))
        if spec.column(order.earlier).type != spec.column(order.later).type:
            earlier, later = earlier.cast("timestamp"), later.cast("timestamp")
        checks.append(_problem_rows(t, later < earlier, order.later, f"is before {order.earlier}"))
    # Duplicate keys within the file.
    key_cols = [t[k] for k in spec.key]
    counted = t.mutate(_n=ibis._.count().over(ibis.window(group_by=key_cols)),
                       _first=t[_ROW].min().over(ibis.window(group_by=key_cols)))
    key_text = ibis.literal(", ".join(spec.key))
    checks.append(
        counted.filter((counted._n > 1) & (counted[_ROW] != counted._first)).select(
            row=counted[_ROW], column=key_text,
            value=_key_value(counted, spec),
            rule=ibis.literal("duplicate key; first seen on row ") + counted._first.cast("string"),
        )
    )
    # References to other tables: the store's rows, or rows of this same file.
    for ref in spec.references:
        target = backend.table(ref.table)
        ref_key = IMPORTABLE[ref.table].key[0]
        known = target.select(k=target[ref_key].cast("string"))
        if ref.table == spec.name:
            known = known.union(t.select(k=t[ref_key]))
        v = t[ref.column]
        checks.append(_problem_rows(t, v.notnull() & ~v.isin(known.k), ref.column, f"unknown in {ref.table}"))
    return checks


def _key_value(t: ir.Table, spec: TableSpec) -> ir.StringValue:
    parts = [t[k].cast("string").coalesce("") for k in spec.key]
    value = parts[0]
    for p in parts[1:]:
        value = value + ", " + p
    return value


def _typed(t: ir.Table, spec: TableSpec) -> ir.Table:
    return t.select(**{c.name: _parsed(t[c.name], c) for c in spec.columns})


# --- the import ------------------------------------------------------------------

def import_file(
    table: str,
    file: Path,
    *,
    store_path: Path | None = None,
    mapping: Mapping | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    actor: str = "cli",
) -> ImportReport:
    """Import `file` into `table`, all or nothing, and write the outcome to the audit log.

    Raises ImportRejected, after which the store is byte for byte as before.
    """
    path = Path(store_path or store.default_path())
    audit = state.StateStore(state.default_path(path))
    try:
        report = _import(table, Path(file), path, mapping or Mapping(), encoding, delimiter)
    except ImportRejected as rejected:
        audit.record(actor, "import_rejected", table=table, file=Path(file).name, problems=rejected.total,
                     first=rejected.problems[0].logged() if rejected.problems else None)
        raise
    audit.record(actor, "import", table=table, file=report.file.name, rows=report.rows,
                 added=report.added, updated=report.updated, unchanged=report.unchanged)
    return report


def _import(table: str, file: Path, path: Path, mapping: Mapping, encoding: str | None,
            delimiter: str | None) -> ImportReport:
    started = time.perf_counter()
    if table not in IMPORTABLE:
        raise ImportRejected(file, [Problem(None, None, table, f"not an importable table; use one of {', '.join(IMPORTABLE)}")])
    if mapping.table and mapping.table != table:
        raise ImportRejected(file, [Problem(None, None, table, f"the mapping is for table {mapping.table}")])
    spec = IMPORTABLE[table]
    source = read_source(file, encoding=encoding or mapping.encoding, delimiter=delimiter or mapping.delimiter)
    with store.rewrite(path) as con:
        backend = ibis.duckdb.from_connection(con)
        staged = _apply_mapping(file, source, spec, mapping)
        backend.create_table("_import_text", staged, temp=True)
        text = backend.table("_import_text")
        problems = ibis.union(*_checks(text, spec, backend))
        total = problems.count().execute()
        if total:
            first = problems.order_by(["row", "column", "rule"]).limit(MAX_REPORTED).execute()
            raise ImportRejected(file, [
                Problem(int(r.row), r.column, None if r.value is None or r.value != r.value else str(r.value), r.rule)
                for r in first.itertuples()
            ], int(total))
        backend.create_table("_import_rows", _typed(text, spec), temp=True)
        added, updated, unchanged, columns = _upsert(backend, spec)
        if added or updated:
            marts.rebuild(con, {table: columns}, rulebook.in_force(path))
    return ImportReport(table, file, source.num_rows, added, updated, unchanged, time.perf_counter() - started)


def _upsert(backend: ibis.BaseBackend, spec: TableSpec) -> tuple[int, int, int, set[str]]:
    """Merge the staged rows into the table by key; return (added, updated, unchanged, the columns that
    changed: every column when a row was added).

    Only rows that are new or differ are written, so re-importing a file
    costs a comparison, not a rewrite.
    """
    target = backend.table(spec.name).select(*spec.column_names)
    rows = backend.table("_import_rows").cast(target.schema())  # same types, NOT NULL where the table says so
    backend.create_table("_import_changes", rows.difference(target), temp=True)
    changes = backend.table("_import_changes")
    total, changed = rows.count().execute(), changes.count().execute()
    old = target.rename(lambda c: f"old_{c}")
    paired = changes.join(old, [changes[k] == old[f"old_{k}"] for k in spec.key])
    differs = paired.aggregate(updated=paired.count(), **{c: (paired[c] != paired[f"old_{c}"]).fill_null(
        paired[c].isnull() != paired[f"old_{c}"].isnull()).sum() for c in spec.column_names if c not in spec.key}
    ).execute().iloc[0]
    updated = int(differs["updated"])
    columns = (set(spec.column_names) if changed > updated
               else {c for c in differs.index if c != "updated" and differs[c]})
    backend.raw_sql(_merge_statement(spec))
    return changed - updated, updated, total - changed, columns


def _merge_statement(spec: TableSpec) -> str:
    """MERGE _import_changes into the spec's table by its key.

    Names only the table and columns of `spec` (analytics.schema, never the
    file's header), each quoted; every value travels as data.
    """
    q = '"{}"'.format
    on = " AND ".join(f"t.{q(k)} = s.{q(k)}" for k in spec.key)  # keys are required, never null
    values = [c for c in spec.column_names if c not in spec.key]
    return (
        f"MERGE INTO {q(spec.name)} t USING _import_changes s ON {on} "
        f"WHEN MATCHED THEN UPDATE SET {', '.join(f'{q(c)} = s.{q(c)}' for c in values)} "
        f"WHEN NOT MATCHED THEN INSERT ({', '.join(map(q, spec.column_names))}) "
        f"VALUES ({', '.join(f's.{q(c)}' for c in spec.column_names)})"
    )
