"""Imports: good files load and report, bad files are refused whole with exact reasons."""

from __future__ import annotations

import datetime as dt
import io
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from analytics import ingest, state, store
from analytics.schema import IMPORTABLE

from . import handbuilt

ROOT = Path(__file__).resolve().parent.parent
CUSTOMERS_HEADER = "customer_id,branch_code,rm_id,name,gender,birth_date,phone,id_number,city,opened_on,closed_on,status"
CUSTOMER_4 = "4,SH01,SH01-RM01,赵敏,F,1985-03-03,13811112222,,上海,2024-02-01,,active"
BALANCES_HEADER = ("customer_id,month,deposits_cny,investments_cny,insurance_cny,loans_cny,txn_count,"
                   "txn_amount_cny,digital_logins,last_txn_on")
BALANCE_ROW = "1,2024-08-31,100,0,0,0,2,50,3,2024-08-20"
SURVEYS_HEADER = "survey_id,customer_id,answered_at,touchpoint,channel,nps,csat"
FORMULA_RULE = "starts with a character that spreadsheets run as a formula (= + - @)"
NO_TEXT_RULE = "cannot be read as text; write one text, number or date per cell, or leave the column out of the file"


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    return handbuilt.build(tmp_path_factory.mktemp("template") / "hand.duckdb")


@pytest.fixture
def store_path(template, tmp_path) -> Path:
    path = tmp_path / "store.duckdb"
    shutil.copyfile(template, path)
    return path


def _customer(**changes) -> str:
    values = dict(zip(CUSTOMERS_HEADER.split(","), CUSTOMER_4.split(",")))
    values.update(changes)
    return ",".join(values.values())


def csv(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode("utf-8")


def parquet(**columns) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(pa.table(columns), buffer)
    return buffer.getvalue()


def write(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def query(path: Path, sql: str, *params):
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


# --- good files -------------------------------------------------------------------

def test_new_rows_are_added_changed_rows_updated_and_reimport_adds_nothing(store_path, tmp_path):
    changed_1 = "1,SH01,SH01-RM01,张伟,M,1980-05-01,13812345678,310115198005011234,杭州,2023-06-15,,active"
    file = write(tmp_path, "customers.csv", csv(CUSTOMERS_HEADER, CUSTOMER_4, changed_1))
    first = ingest.import_file("customers", file, store_path=store_path)
    assert (first.rows, first.added, first.updated, first.unchanged) == (2, 1, 1, 0)
    again = ingest.import_file("customers", file, store_path=store_path)
    assert (again.added, again.updated, again.unchanged) == (0, 0, 2)
    assert query(store_path, "SELECT count(*), count(DISTINCT customer_id) FROM customers") == [(4, 4)]
    assert query(store_path, "SELECT city FROM customers WHERE customer_id = 1") == [("杭州",)]


def test_marts_are_rebuilt_after_an_import(store_path, tmp_path):
    ingest.import_file("customers", write(tmp_path, "c.csv", csv(CUSTOMERS_HEADER, CUSTOMER_4)), store_path=store_path)
    ingest.import_file("monthly_balances", write(tmp_path, "b.csv", csv(BALANCES_HEADER, BALANCE_ROW)), store_path=store_path)
    assert query(store_path, "SELECT count(*) FROM customer_current WHERE customer_id = 4") == [(1,)]
    assert query(store_path, "SELECT max(month)::VARCHAR FROM customer_month") == [("2024-08-31",)]


def test_every_import_is_written_to_the_audit_log(store_path, tmp_path):
    ingest.import_file("customers", write(tmp_path, "c.csv", csv(CUSTOMERS_HEADER, CUSTOMER_4)), store_path=store_path, actor="ops")
    with pytest.raises(ingest.ImportRejected):
        ingest.import_file("customers", write(tmp_path, "e.csv", b""), store_path=store_path, actor="ops")
    events = state.StateStore(state.default_path(store_path)).audit_events()
    assert list(events["event"]) == ["import_rejected", "import"]
    assert set(events["actor"]) == {"ops"}
    rejected, imported = (json.loads(d) for d in events["detail_json"])
    assert imported == {"table": "customers", "file": "c.csv", "rows": 1, "added": 1, "updated": 0, "unchanged": 0}
    assert rejected == {"table": "customers", "file": "e.csv", "problems": 1, "first": "file: the file is empty"}


ID_NUMBER = "310115198503031234"


@pytest.mark.parametrize("row, logged", [
    (_customer(id_number=ID_NUMBER[:-2] + "A4"), "row 2, column id_number: must be 18 characters: 17 digits and a digit or X"),
    (_customer(id_number=ID_NUMBER) + ",extra", "row 2: has 13 fields, the header has 12"),
], ids=["bad_id_number", "whole_row_refused"])
def test_a_rejected_import_is_audited_with_row_column_and_rule_never_the_value(store_path, tmp_path, row, logged):
    file = write(tmp_path, "c.csv", csv(CUSTOMERS_HEADER, row))
    with pytest.raises(ingest.ImportRejected) as rejected:
        ingest.import_file("customers", file, store_path=store_path)
    assert ID_NUMBER[:12] in str(rejected.value)  # the person at the console sees the value; the log does not
    [detail] = state.StateStore(state.default_path(store_path)).audit_events()["detail_json"]
    assert json.loads(detail)["first"] == logged
    assert ID_NUMBER[:12] not in detail and "赵敏" not in detail


def test_utf8_with_bom(store_path, tmp_path):
    file = write(tmp_path, "bom.csv", b"\xef\xbb\xbf" + csv(CUSTOMERS_HEADER, CUSTOMER_4))
    assert ingest.import_file("customers", file, store_path=store_path).added == 1


def test_declared_gbk_export(store_path, tmp_path):
    file = write(tmp_path, "gbk.csv", (CUSTOMERS_HEADER + "\n" + CUSTOMER_4 + "\n").encode("gbk"))
    ingest.import_file("customers", file, store_path=store_path, encoding="gb18030")
    assert query(store_path, "SELECT name, city FROM customers WHERE customer_id = 4") == [("赵敏", "上海")]


def test_lines_ending_in_a_bare_carriage_return(store_path, tmp_path):
    # Excel's CSV for old Macintosh ends lines with \r alone.
    file = write(tmp_path, "mac.csv", "\r".join([CUSTOMERS_HEADER, CUSTOMER_4, _customer(customer_id="5")]).encode())
    assert ingest.import_file("customers", file, store_path=store_path).added == 2


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_delimiter_is_found_from_the_header(store_path, tmp_path, delimiter):
    lines = [CUSTOMERS_HEADER.replace(",", delimiter), CUSTOMER_4.replace(",", delimiter)]
    assert ingest.import_file("customers", write(tmp_path, "d.csv", csv(*lines)), store_path=store_path).added == 1


def test_quoted_fields_with_delimiters_and_newlines(store_path, tmp_path):
    row = '4,SH01,SH01-RM01,"赵,敏",F,1985-03-03,13811112222,,"上海\n浦东",2024-02-01,,active'
    ingest.import_file("customers", write(tmp_path, "q.csv", csv(CUSTOMERS_HEADER, row)), store_path=store_path)
    assert query(store_path, "SELECT name, city FROM customers WHERE customer_id = 4") == [("赵,敏", "上海\n浦东")]


def test_parquet(store_path, tmp_path):
    table = pa.table({"customer_id": [1], "month": [dt.date(2024, 8, 31)],
                      "deposits_cny": [100.5], "investments_cny": [0.0], "insurance_cny": [0.0], "loans_cny": [0.0],
                      "txn_count": [2], "txn_amount_cny": [50.0], "digital_logins": [3], "last_txn_on": [None]})
    pq.write_table(table, tmp_path / "b.parquet")
    report = ingest.import_file("monthly_balances", tmp_path / "b.parquet", store_path=store_path)
    assert report.added == 1
    assert query(store_path, "SELECT deposits_cny FROM monthly_balances WHERE month = '2024-08-31'") == [(100.5,)]


def test_mapping_renames_maps_values_parses_dates_and_scales(store_path, tmp_path):
    mapping_file = write(tmp_path, "m.yaml", yaml.safe_dump({
        "table": "monthly_balances",
        "columns": {
            "customer_id": "客户号",
            "month": {"from": "月份", "format": "%Y/%m/%d"},
            "deposits_cny": {"from": "存款余额(万元)", "multiply": 10000},
            "investments_cny": {"value": 0}, "insurance_cny": {"value": 0}, "loans_cny": {"value": 0},
            "txn_count": "交易笔数", "txn_amount_cny": "交易金额", "digital_logins": "登录次数",
        },
        "ignore": ["备注"],
    }, allow_unicode=True).encode())
    file = write(tmp_path, "b.csv", csv("客户号,月份,存款余额(万元),交易笔数,交易金额,登录次数,备注",
                                        "1,2024/08/31,1.5,2,50,3,无"))
    ingest.import_file("monthly_balances", file, store_path=store_path, mapping=ingest.Mapping.load(mapping_file))
    assert query(store_path, "SELECT deposits_cny, txn_count FROM monthly_balances WHERE month = '2024-08-31'") == [(15000.0, 2)]


def test_import_while_a_reader_has_the_store_open(store_path, tmp_path):
    reader = store.Store(store_path)
    cursor = reader.cursor()
    ingest.import_file("customers", write(tmp_path, "c.csv", csv(CUSTOMERS_HEADER, CUSTOMER_4)), store_path=store_path)
    assert cursor.execute("SELECT count(*) FROM customers").fetchone()[0] == 3  # its view is whole, not half
    assert reader.cursor().execute("SELECT count(*) FROM customers").fetchone()[0] == 4


def test_a_column_named_like_the_importers_row_numbers_is_the_files_own(store_path, tmp_path):
    # The importer numbers rows itself; a file's `_row` column is mapped, ignored or refused like any other.
    ignore_row = ingest.Mapping(ignore=("_row",))
    bad = write(tmp_path, "bad.csv", csv(CUSTOMERS_HEADER + ",_row", CUSTOMER_4 + ",98",
                                         _customer(customer_id="5", gender="X") + ",99"))
    with pytest.raises(ingest.ImportRejected) as rejected:
        ingest.import_file("customers", bad, store_path=store_path, mapping=ignore_row)
    assert [str(p) for p in rejected.value.problems] == ["row 3, column gender, value 'X': must be one of M, F"]
    good = write(tmp_path, "good.csv", csv(CUSTOMERS_HEADER + ",_row", CUSTOMER_4 + ",98"))
    assert ingest.import_file("customers", good, store_path=store_path, mapping=ignore_row).added == 1


def test_churn_modelling_imports_with_its_known_figures(tmp_path, churn_modelling_csv):
    samples = ROOT / "data" / "samples" / "churn_modelling"
    path = tmp_path / "cm.duckdb"
    ingest.import_file("branches", samples / "branches.csv", store_path=path)
    report = ingest.import_file("customers", churn_modelling_csv, store_path=path,
                                mapping=ingest.Mapping.load(samples / "customers.yaml"))
    assert (report.rows, report.added) == (10_000, 10_000)
    assert query(path, "SELECT count(*) FILTER (WHERE is_churned), count(*) FROM customer_current") == [(2037, 10_000)]
    rates = dict(query(path, "SELECT b.name_en, avg(c.is_churned::INT) FROM customer_current c JOIN branches b USING (branch_code) GROUP BY 1"))
    assert round(rates["Germany"] * 100, 2) == 32.44
    assert round(rates["France"] * 100, 2) == 16.15
    assert round(rates["Spain"] * 100, 2) == 16.67


# --- the bad-file corpus ------------------------------------------------------------

@dataclass
class Bad:
    id: str
    table: str
    content: bytes
    expected: list[str]
    name: str = "bad.csv"
    options: dict = field(default_factory=dict)
    mapping: dict | None = None


def _customer_columns(**changes) -> dict:
    """CUSTOMER_4 as Parquet columns."""
    return {k: [v or None] for k, v in zip(CUSTOMERS_HEADER.split(","), CUSTOMER_4.split(","))} | changes


def _balances(**changes) -> dict:
    """A monthly_balances row as Parquet columns."""
    return {"customer_id": [1], "month": ["2024-08-31"], "deposits_cny": [1.0], "investments_cny": [0.0],
            "insurance_cny": [0.0], "loans_cny": [0.0], "txn_count": [1], "txn_amount_cny": [1.0],
            "digital_logins": [0], "last_txn_on": [None]} | changes


HUGE = "x" * 1_048_576
GBK_FILE = (CUSTOMERS_HEADER + "\n" + CUSTOMER_4 + "\n").encode("gbk")
GBK_OFFSET = GBK_FILE.index("赵".encode("gbk"))
WITHOUT_OPENED_ON = [",".join(c for c in CUSTOMERS_HEADER.split(",") if c != "opened_on"),
                     ",".join(v for k, v in zip(CUSTOMERS_HEADER.split(","), CUSTOMER_4.split(",")) if k != "opened_on")]

CORPUS = [
    Bad("missing_column", "customers", csv(*WITHOUT_OPENED_ON),
        ["row 1, column opened_on: required column missing"]),
    Bad("extra_column", "customers", csv(CUSTOMERS_HEADER + ",vip", CUSTOMER_4 + ",Y"),
        ["row 1, column vip: column not in customers; map or ignore them in a mapping file"]),
    Bad("not_a_whole_number", "customers", csv(CUSTOMERS_HEADER, _customer(customer_id="abc")),
        ["row 2, column customer_id, value 'abc': not a whole number"]),
    Bad("impossible_date", "customers", csv(CUSTOMERS_HEADER, _customer(opened_on="2024-13-45")),
        ["row 2, column opened_on, value '2024-13-45': not a date (YYYY-MM-DD, or give `format:` in the mapping)"]),
    Bad("negative_amount", "monthly_balances", csv(BALANCES_HEADER, BALANCE_ROW.replace(",100,", ",-5,")),
        ["row 2, column deposits_cny, value '-5': must be at least 0"]),
    Bad("duplicate_key", "customers", csv(CUSTOMERS_HEADER, CUSTOMER_4, CUSTOMER_4),
        ["row 3, column customer_id, value '4': duplicate key; first seen on row 2"]),
    Bad("duplicate_composite_key", "monthly_balances", csv(BALANCES_HEADER, BALANCE_ROW, BALANCE_ROW),
        ["row 3, column customer_id, month, value '1, 2024-08-31': duplicate key; first seen on row 2"]),
    Bad("unknown_branch", "customers", csv(CUSTOMERS_HEADER, _customer(branch_code="XX99")),
        ["row 2, column branch_code, value 'XX99': unknown in branches"]),
    Bad("unknown_relationship_manager", "customers", csv(CUSTOMERS_HEADER, _customer(rm_id="SH01-RM99")),
        ["row 2, column rm_id, value 'SH01-RM99': unknown in relationship_managers"]),
    Bad("unknown_customer", "monthly_balances", csv(BALANCES_HEADER, "99" + BALANCE_ROW[1:]),
        ["row 2, column customer_id, value '99': unknown in customers"]),
    Bad("empty_file", "customers", b"", ["file: the file is empty"]),
    Bad("header_only", "customers", csv(CUSTOMERS_HEADER), ["file: the file has a header but no rows"]),
    Bad("truncated_last_line", "customers", (CUSTOMERS_HEADER + "\n" + CUSTOMER_4 + "\n5,SH01,SH01-R").encode(),
        ["row 3, value '5,SH01,SH01-R': has 3 fields, the header has 12 (is the last line cut off?)"]),
    Bad("too_many_fields", "customers", csv(CUSTOMERS_HEADER, CUSTOMER_4 + ",extra"),
        [f"row 2, value '{(CUSTOMER_4 + ',extra')[:57]}...': has 13 fields, the header has 12"]),
    Bad("wrong_delimiter", "customers", csv(CUSTOMERS_HEADER.replace(",", ";"), CUSTOMER_4.replace(",", ";")),
        ["row 1, column customer_id, branch_code, name, opened_on: required columns missing (the header reads as one "
         f"column {CUSTOMERS_HEADER.replace(',', ';')[:60]!r}: is the delimiter right?)"],
        options={"delimiter": ","}),
    Bad("undeclared_gbk", "customers", GBK_FILE,
        [f"row 2, value '{GBK_FILE[GBK_OFFSET:GBK_OFFSET + 4].hex(' ')}': not UTF-8 (byte {GBK_OFFSET}); it reads as "
         "GB18030/GBK, as Chinese core-banking exports often are: declare it with --encoding gb18030 or "
         "`encoding: gb18030` in the mapping"]),
    Bad("one_megabyte_field", "customers", csv(CUSTOMERS_HEADER, _customer(name=HUGE)),
        [f"row 2, column name, value '{'x' * 57}...': longer than 100 characters (1048576)"]),
    Bad("formula_injection", "customers", csv(CUSTOMERS_HEADER, _customer(name="=SUM(A1:A9)")),
        [f"row 2, column name, value '=SUM(A1:A9)': {FORMULA_RULE}"]),
    Bad("formula_after_at", "customers", csv(CUSTOMERS_HEADER, _customer(city="@cmd")),
        [f"row 2, column city, value '@cmd': {FORMULA_RULE}"]),
    Bad("value_not_allowed", "customers", csv(CUSTOMERS_HEADER, _customer(gender="X")),
        ["row 2, column gender, value 'X': must be one of M, F"]),
    Bad("required_but_empty", "customers", csv(CUSTOMERS_HEADER, _customer(name="")),
        ["row 2, column name: required, but empty"]),
    Bad("closed_before_opened", "customers", csv(CUSTOMERS_HEADER, _customer(closed_on="2024-01-01")),
        ["row 2, column closed_on, value '2024-01-01': is before opened_on"]),
    Bad("duplicate_header", "customers", csv(CUSTOMERS_HEADER + ",name", CUSTOMER_4 + ",x"),
        ["row 1, column name: the header names this column more than once"]),
    Bad("month_not_a_month_end", "monthly_balances", csv(BALANCES_HEADER, BALANCE_ROW.replace("2024-08-31", "2024-08-15")),
        ["row 2, column month, value '2024-08-15': is before last_txn_on",
         "row 2, column month, value '2024-08-15': must be the last day of a month"]),
    Bad("fractional_count", "monthly_balances", csv(BALANCES_HEADER, BALANCE_ROW.replace(",2,50,", ",2.5,50,")),
        ["row 2, column txn_count, value '2.5': not a whole number"]),
    Bad("nps_out_of_range", "surveys", csv(SURVEYS_HEADER, "10,1,2024-08-01 10:00:00,mobile_app,app,11,5"),
        ["row 2, column nps, value '11': must be at most 10"]),
    Bad("bad_timestamp", "surveys", csv(SURVEYS_HEADER, "10,1,yesterday,mobile_app,app,9,5"),
        ["row 2, column answered_at, value 'yesterday': not a date and time (YYYY-MM-DD HH:MM:SS, or give `format:` in the mapping)"]),
    Bad("phone_with_letters", "customers", csv(CUSTOMERS_HEADER, _customer(phone="138abc")),
        ["row 2, column phone, value '138abc': must be digits, spaces and '-', optionally after a leading '+'"]),
    Bad("id_number_too_short", "customers", csv(CUSTOMERS_HEADER, _customer(id_number="31011519850303")),
        ["row 2, column id_number, value '31011519850303': must be 18 characters: 17 digits and a digit or X"]),
    Bad("unknown_table", "users", csv("a", "1"),
        [f"file, value 'users': not an importable table; use one of {', '.join(IMPORTABLE)}"]),
    Bad("mapping_reads_a_missing_column", "customers", csv(CUSTOMERS_HEADER.replace(",name,", ",surname,"), CUSTOMER_4),
        ["row 1, column Surname: the mapping reads this column for name, but the file has no such column"],
        mapping={"columns": {"name": "Surname"}, "ignore": ["surname"]}),
    Bad("mapping_unknown_option", "customers", csv(CUSTOMERS_HEADER, CUSTOMER_4),
        ["file, column name, value 'rename': unknown option; use from, values, format, multiply, years_before, value"],
        mapping={"columns": {"name": {"rename": "x"}}}),
    Bad("parquet_negative_loan", "monthly_balances", parquet(**_balances(loans_cny=[-1.0])),
        ["row 2, column loans_cny, value '-1': must be at least 0"], name="bad.parquet"),
    Bad("not_really_parquet", "monthly_balances", b"PAR1 this is not parquet", [], name="bad.parquet"),
    Bad("parquet_list_column", "monthly_balances", parquet(**_balances(txn_count=[[1, 1]])),
        [f"row 1, column txn_count: list<element: int64> values {NO_TEXT_RULE}"], name="bad.parquet"),
    Bad("parquet_struct_column", "monthly_balances", parquet(**_balances(deposits_cny=[{"amount": 1.0, "unit": "CNY"}])),
        [f"row 1, column deposits_cny: struct<amount: double, unit: string> values {NO_TEXT_RULE}"], name="bad.parquet"),
    Bad("parquet_map_column", "monthly_balances",
        parquet(**_balances(loans_cny=pa.array([[("mortgage", 0.0)]], pa.map_(pa.string(), pa.float64())))),
        [f"row 1, column loans_cny: map<string, double ('loans_cny')> values {NO_TEXT_RULE}"], name="bad.parquet"),
    Bad("parquet_binary_not_utf8", "customers", parquet(**_customer_columns(name=["赵敏".encode("gbk")])),
        ["row 2, column name, value 'd5 d4 c3 f4': bytes that are not UTF-8 text (byte 0 of the value); "
         "write the column as UTF-8 strings, or leave it out of the file"], name="bad.parquet"),
    Bad("column_named_like_the_row_numbers", "customers", csv(CUSTOMERS_HEADER + ",_row", CUSTOMER_4 + ",7"),
        ["row 1, column _row: column not in customers; map or ignore them in a mapping file"]),
    Bad("parquet_column_named_like_the_row_numbers", "monthly_balances", parquet(**_balances(_row=[7])),
        ["row 1, column _row: column not in monthly_balances; map or ignore them in a mapping file"], name="bad.parquet"),
]


def test_the_corpus_is_at_least_20_files():
    assert len(CORPUS) >= 20 and len({c.id for c in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("case", CORPUS, ids=[c.id for c in CORPUS])
def test_bad_file_is_refused_whole_and_the_store_is_unchanged(case, store_path, tmp_path):
    file = write(tmp_path, case.name, case.content)
    before_bytes = store.file_checksum(store_path)
    with duckdb.connect(str(store_path), read_only=True) as con:
        before_content = store.content_checksum(con)

    with pytest.raises(ingest.ImportRejected) as rejected:
        mapping = None
        if case.mapping is not None:
            mapping = ingest.Mapping.load(write(tmp_path, "map.yaml", yaml.safe_dump(case.mapping).encode()))
        ingest.import_file(case.table, file, store_path=store_path, mapping=mapping, **case.options)

    if case.id == "not_really_parquet":
        assert [str(p) for p in rejected.value.problems][0].startswith("file: not a readable Parquet file:")
    else:
        assert [str(p) for p in rejected.value.problems] == case.expected
    mapping_refused = case.mapping is not None and "unknown option" in case.expected[0]
    assert str(tmp_path / "map.yaml" if mapping_refused else file) in str(rejected.value)
    assert "the store is unchanged" in str(rejected.value)
    # A refused mapping file stops the command before any import starts; a refused file is audited.
    audited = list(state.StateStore(state.default_path(store_path)).audit_events()["event"])
    assert audited == ([] if mapping_refused else ["import_rejected"])
    assert store.file_checksum(store_path) == before_bytes
    with duckdb.connect(str(store_path), read_only=True) as con:
        assert store.content_checksum(con) == before_content


def test_many_bad_rows_list_the_first_50_and_count_them_all(store_path, tmp_path):
    rows = [_customer(customer_id=str(100 + i), gender="?") for i in range(120)]
    with pytest.raises(ingest.ImportRejected) as rejected:
        ingest.import_file("customers", write(tmp_path, "many.csv", csv(CUSTOMERS_HEADER, *rows)), store_path=store_path)
    assert rejected.value.total == 120 and len(rejected.value.problems) == 50
    assert "120 problems (the first 50 are listed)" in str(rejected.value)
    assert str(rejected.value.problems[0]) == "row 2, column gender, value '?': must be one of M, F"
    assert rejected.value.problems[-1].row == 51


def test_several_problems_in_one_row_are_all_named(store_path, tmp_path):
    row = _customer(gender="X", opened_on="soon", branch_code="ZZ")
    with pytest.raises(ingest.ImportRejected) as rejected:
        ingest.import_file("customers", write(tmp_path, "b.csv", csv(CUSTOMERS_HEADER, row)), store_path=store_path)
    assert sorted(str(p) for p in rejected.value.problems) == sorted([
        "row 2, column branch_code, value 'ZZ': unknown in branches",
        "row 2, column gender, value 'X': must be one of M, F",
        "row 2, column opened_on, value 'soon': not a date (YYYY-MM-DD, or give `format:` in the mapping)",
    ])


def test_an_import_that_changes_only_what_customer_month_does_not_read_leaves_it_as_it_is(store_path, tmp_path):
    def month_mart() -> str:
        with duckdb.connect(str(store_path), read_only=True) as con:
            return con.execute("SELECT bit_xor(hash(*COLUMNS(*))) || ':' || count(*) FROM customer_month").fetchone()[0]

    before = month_mart()
    moved = "1,SH01,SH01-RM01,张伟,M,1980-05-01,13812345678,310115198005011234,杭州,2023-06-15,,active"
    report = ingest.import_file("customers", write(tmp_path, "city.csv", csv(CUSTOMERS_HEADER, moved)), store_path=store_path)
    assert (report.updated, month_mart()) == (1, before)  # a new city: customer_month reads no city
    assert query(store_path, "SELECT city FROM customer_current WHERE customer_id = 1") == [("杭州",)]

    reassigned = moved.replace("SH01,SH01-RM01", "BJ01,BJ01-RM01")
    ingest.import_file("customers", write(tmp_path, "rm.csv", csv(CUSTOMERS_HEADER, reassigned)), store_path=store_path)
    assert month_mart() != before  # a new branch and relationship manager are in every month of the customer
    assert query(store_path, "SELECT DISTINCT branch_code, rm_id FROM customer_month WHERE customer_id = 1") == [
        ("BJ01", "BJ01-RM01")]
