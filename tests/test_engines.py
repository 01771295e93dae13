"""The same analytics on DuckDB and on Spark: every figure of every page, equal on the same data, in the same
order; and the backend setting that picks the engine."""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import json
from pathlib import Path

import pandas as pd
import pytest

from analytics import care, churn, portfolio, segments, spark, store, views
from analytics.filters import Filters, Slice, default_period, options
from analytics.ml import features, products
from analytics.rules import DEFAULT_RULES
from analytics.scope import Scope, ScopedStore
from analytics.whatif import Study

from . import engines

SCOPES = {
    "executive, all branches": Scope.all_branches(role="executive"),
    "branch head of SH01": Scope.for_branches({"SH01"}),
    "analyst, pseudonyms": Scope.all_branches(role="analyst", pii="pseudonym"),
}
PROPOSAL = dataclasses.replace(DEFAULT_RULES, version=1, tier_cutoffs_cny=(30_000, 300_000, 3_000_000),
                               potential_aum_rise_share=0.2, dormant_days=60)


@pytest.fixture(scope="module")
def on_spark(demo_store, tmp_path_factory):
    return engines.SparkCopies(tmp_path_factory.mktemp("spark"))(demo_store)


def figures(backend, scope: Scope) -> dict[str, object]:
    """Every figure the pages show at their default filters, and what the rules and the model read."""
    tables = ScopedStore(backend, scope)
    offered = options(tables)
    start, end = default_period(offered.months)
    filters = Filters(start=start, end=end)
    out: dict[str, object] = {"filters.options": offered}
    for page, calls in views.calls(offered.months, filters).items():
        for fn, f, args in calls:
            out[f"{page}: {fn.__module__}.{fn.__name__}{args}"] = fn(Slice(tables, f, DEFAULT_RULES), *args)
    sl = Slice(tables, filters, DEFAULT_RULES)
    first = tables.table("customers").order_by("customer_id").limit(1).execute().iloc[0]
    out["portfolio.customers"] = portfolio.customers(sl, first.rm_id)
    out["portfolio.customer_360"] = portfolio.customer_360(sl, first.customer_id)  # an analyst: by pseudonym
    out["care.due"] = care.due(sl, sl.as_of_date())
    out["churn.latest_scores"] = churn.latest_scores(sl).order_by("customer_id").execute()
    out["ml.features.training_frame"] = features.training_frame(tables, dt.date(2025, 12, 31)).sort_values(
        "customer_id", ignore_index=True)
    out["ml.products.training_frame"] = products.training_frame(tables, dt.date(2025, 12, 31)).sort_values(
        "customer_id", ignore_index=True)
    out["filters.tags"] = Slice(tables, filters.but(tags=("credit_user", "wealth_minded")), DEFAULT_RULES).customers(
        ).order_by("customer_id").execute()
    out["segments.model"] = segments.model(sl)
    out["segments.profiles"] = segments.profiles(sl)
    out["segments.by_tier"] = segments.by_tier(sl)
    study = Study(sl)
    out["whatif.compare"] = study.compare(DEFAULT_RULES, PROPOSAL)
    out["whatif.movers"] = study.movers(DEFAULT_RULES, PROPOSAL, 100)
    return out


def plain(value):
    """A result as plain data: frames with one dtype per kind of value (Spark and DuckDB differ only in
    those: DuckDB's sum over integers is a Decimal, timestamps come in microseconds or nanoseconds, an empty
    column is an object or a number)."""
    if dataclasses.is_dataclass(value):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, pd.Series):
        return plain(value.to_frame().reset_index())
    if isinstance(value, pd.DataFrame):
        frame = value.reset_index(drop=True).copy()
        for column in frame.columns:
            s = frame[column]
            if s.isna().all():  # no values: DuckDB may type it as object, Spark as a number
                frame[column] = pd.Series(float("nan"), index=s.index)
            elif pd.api.types.is_datetime64_any_dtype(s):
                frame[column] = s.dt.as_unit("ns")
            elif pd.api.types.is_bool_dtype(s):
                frame[column] = s.astype(object)
            elif pd.api.types.is_numeric_dtype(s) or s.map(lambda x: isinstance(x, decimal.Decimal)).any():
                frame[column] = pd.to_numeric(s).astype("float64")
            else:
                frame[column] = s.map(lambda x: json.dumps(x, sort_keys=True, default=str)
                                      if isinstance(x, (dict, list)) else x).astype(object)
        return frame
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, pd.Timestamp):
        return value.as_unit("ns")
    return value


def assert_same(duck, spark_, where: str) -> None:
    duck, spark_ = plain(duck), plain(spark_)
    if isinstance(duck, pd.DataFrame):
        assert isinstance(spark_, pd.DataFrame), f"{where}: a frame on DuckDB, {type(spark_).__name__} on Spark"
        pd.testing.assert_frame_equal(duck, spark_, check_dtype=False, check_exact=False, rtol=1e-9,
                                      obj=where)
    elif isinstance(duck, dict):
        assert duck.keys() == spark_.keys(), where
        for key in duck:
            assert_same(duck[key], spark_[key], f"{where}.{key}")
    elif isinstance(duck, list):
        assert len(duck) == len(spark_), where
        for i, (a, b) in enumerate(zip(duck, spark_)):
            assert_same(a, b, f"{where}[{i}]")
    elif isinstance(duck, float):
        assert spark_ == pytest.approx(duck, rel=1e-9, nan_ok=True), where
    else:
        assert duck == spark_ or (pd.isna(duck) and pd.isna(spark_)), f"{where}: {duck!r} on DuckDB, {spark_!r} on Spark"


@pytest.mark.parametrize("scope", SCOPES)
def test_every_page_s_figures_are_the_same_on_spark_as_on_duckdb(demo_store, on_spark, scope):
    duck = figures(engines.duckdb_connect(demo_store), SCOPES[scope])
    on = figures(on_spark, SCOPES[scope])
    assert len(duck) >= 40 and duck.keys() == on.keys()
    assert len(duck["care.due"]) > 0 and len(duck["whatif.movers"]) > 0  # the comparison covers real rows
    for name in duck:
        assert_same(duck[name], on[name], name)


def test_the_comparison_catches_a_different_figure_or_order():
    frame = pd.DataFrame({"tier": ["Mass", "Wealth"], "customers": [3, 1]})
    assert_same(frame, frame.assign(customers=[decimal.Decimal(3), decimal.Decimal(1)]), "dtype only")
    with pytest.raises(AssertionError):
        assert_same(frame, frame.assign(customers=[3, 2]), "a figure")
    with pytest.raises(AssertionError):
        assert_same(frame, frame.iloc[::-1], "the order")


# --- the setting ----------------------------------------------------------------------

def test_the_backend_setting_names_a_duckdb_file_or_a_spark_database(monkeypatch, tmp_path):
    monkeypatch.delenv("BANKCRM_STORE", raising=False)
    monkeypatch.delenv("BANKCRM_BACKEND", raising=False)
    assert store.facts().path == store.DEFAULT_PATH
    monkeypatch.setenv("BANKCRM_BACKEND", "duckdb:///srv/bank.duckdb")
    assert store.facts().path == Path("srv/bank.duckdb") and store.default_path() == Path("srv/bank.duckdb")
    monkeypatch.setenv("BANKCRM_STORE", "other.duckdb")  # the app, the CLI and the state store agree
    assert store.facts().path == store.default_path() == Path("srv/bank.duckdb")
    monkeypatch.delenv("BANKCRM_STORE")
    assert store.facts("duckdb:////srv/bank.duckdb").path == Path("/srv/bank.duckdb")
    facts = store.facts(f"pyspark://bank?master=spark://head:7077&parquet={tmp_path}")
    assert (facts.master, facts.database, facts.parquet) == ("spark://head:7077", "bank", tmp_path)
    assert store.facts("pyspark://bank").master == "local[*]"
    for wrong, says in (("postgres://x", "expected duckdb"), ("pyspark://?master=local", "expected pyspark"),
                        ("pyspark://bank?mastr=local", "unknown setting mastr"),
                        ("pyspark://bank;drop?master=local", "not a plain name")):
        with pytest.raises(ValueError, match=says):
            store.facts(wrong)


def test_an_export_holds_every_table_and_replaces_an_older_one_whole(demo_store, tmp_path):
    import pyarrow.parquet as pq

    out = tmp_path / "parquet"
    rows = spark.export(demo_store, out)
    with store.Store(demo_store).cursor() as con:
        assert list(rows) == store.table_names(con)
    assert all(pq.read_table(out / t).num_rows == n for t, n in rows.items())
    assert spark.tables_in(out) == sorted(rows)
    assert str(pq.read_table(out / "customer_current").schema.field("txn_count_30d").type) == "int64"  # not HUGEINT
    (out / "stale").mkdir()
    spark.export(demo_store, out)
    assert not (out / "stale").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["parquet"]
    with pytest.raises(FileNotFoundError, match="bankcrm parquet export"):
        spark.tables_in(tmp_path)


def test_the_cli_trains_scores_and_makes_care_tasks_on_spark(demo_store, tmp_path, monkeypatch):
    """`bankcrm parquet export`, then train, score and care generate with BANKCRM_BACKEND=pyspark://...: the
    scores Spark writes into the export equal those the same model wrote into the DuckDB store."""
    import duckdb
    import pyarrow.parquet as pq
    from typer.testing import CliRunner

    from analytics import state
    from analytics.ml import papers
    from bankcrm import cli

    engines.SparkCopies(tmp_path)  # skips, with the reason, when this machine cannot run Spark
    runner = CliRunner()
    result = runner.invoke(cli.app, ["parquet", "export", "--store", str(demo_store), "--out", str(tmp_path / "pq")])
    assert result.exit_code == 0 and "Wrote" in result.output, result.output
    monkeypatch.setenv("BANKCRM_BACKEND", f"pyspark://cli_test?master=local[2]&parquet={tmp_path / 'pq'}")
    monkeypatch.setenv("BANKCRM_STATE", str(tmp_path / "state.sqlite"))
    monkeypatch.setenv("BANKCRM_MODELS", str(papers.models_dir(demo_store)))
    model = papers.latest(papers.models_dir(demo_store))
    version = model.stem.removeprefix("churn-")
    before = pq.read_table(tmp_path / "pq" / "churn_scores").num_rows

    result = runner.invoke(cli.app, ["score", "--model", str(model)])
    assert result.exit_code == 0, result.output
    on_spark = pq.read_table(tmp_path / "pq" / "churn_scores").to_pandas()
    assert len(on_spark) == before  # this month's scores of this model replaced, not added
    with duckdb.connect(str(demo_store), read_only=True) as con:
        on_duckdb = con.execute("SELECT customer_id, probability, reasons_json FROM churn_scores "
                                "WHERE model_version = ? ORDER BY customer_id", [version]).df()
    mine = on_spark[on_spark.model_version == version].sort_values("customer_id", ignore_index=True)
    pd.testing.assert_frame_equal(mine[["customer_id", "probability", "reasons_json"]], on_duckdb,
                                  check_dtype=False)

    offers = papers.latest(papers.models_dir(demo_store), products.KIND)
    result = runner.invoke(cli.app, ["products", "score", "--model", str(offers)])
    assert result.exit_code == 0, result.output
    written = pq.read_table(tmp_path / "pq" / "product_scores").to_pandas()
    columns = ["customer_id", "product", "probability", "rank", "reasons_json"]
    with duckdb.connect(str(demo_store), read_only=True) as con:
        on_duckdb = con.execute("SELECT customer_id, product, probability, rank, reasons_json FROM product_scores "
                                "ORDER BY customer_id, rank").df()
    pd.testing.assert_frame_equal(written.sort_values(["customer_id", "rank"], ignore_index=True)[columns], on_duckdb,
                                  check_dtype=False)

    result = runner.invoke(cli.app, ["care", "generate"])
    assert result.exit_code == 0 and "churn_risk" in result.output, result.output
    with state.StateStore(tmp_path / "state.sqlite").connect() as con:
        assert con.execute("SELECT count(*) FROM care_tasks").fetchone()[0] > 0

    result = runner.invoke(cli.app, ["train", "--models", str(tmp_path / "models")])
    assert result.exit_code == 0 and "ROC-AUC" in result.output, result.output
    assert papers.latest(tmp_path / "models") is not None


def test_the_app_on_spark_reads_a_newer_export_once_it_is_swapped_in(hand_store, demo_store, tmp_path):
    """`Facts` registers the export's tables, and registers them again (replacing the old ones) when a new
    export is swapped in: a new version for the caches, and the new rows."""
    import duckdb

    engines.SparkCopies(tmp_path)  # skips, with the reason, when this machine cannot run Spark

    def customers(path: Path) -> int:
        with duckdb.connect(str(path), read_only=True) as con:
            return store.table_sizes(con)["customers"]

    facts = spark.Facts("local[2]", "swap_test", tmp_path / "pq")
    spark.export(hand_store, tmp_path / "pq")
    first, backend = facts.snapshot()
    assert backend.table("customers").count().execute() == customers(hand_store)
    spark.export(demo_store, tmp_path / "pq")
    second, backend = facts.snapshot()
    assert second != first
    assert backend.table("customers").count().execute() == customers(demo_store) != customers(hand_store)


def test_scoring_on_spark_without_an_export_says_where_scores_go(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from bankcrm import cli

    monkeypatch.setenv("BANKCRM_BACKEND", "pyspark://bank?master=local[2]")
    monkeypatch.setattr(spark.Facts, "snapshot", lambda self: (("spark", "bank"), None))
    result = CliRunner().invoke(cli.app, ["score"])
    assert result.exit_code == 1 and "parquet=DIR" in result.output
