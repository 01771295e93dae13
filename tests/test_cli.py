"""The `bankcrm` command as a user types it."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3

from typer.testing import CliRunner

from analytics import state, views
from bankcrm import bench, cli, pandas_baseline, serve

runner = CliRunner()


def test_generate_builds_a_store_and_if_missing_keeps_it(tmp_path):
    path = tmp_path / "s.duckdb"
    args = ["generate", "--customers", "300", "--months", "6", "--end-month", "2026-06-30", "--store", str(path)]
    result = runner.invoke(cli.app, args)
    assert result.exit_code == 0, result.output
    assert "300 customers x 6 months" in result.output
    built = path.stat().st_mtime_ns
    again = runner.invoke(cli.app, [*args, "--if-missing"])
    assert again.exit_code == 0 and "keeping it" in again.output
    assert path.stat().st_mtime_ns == built
    info = runner.invoke(cli.app, ["info", "--store", str(path)])
    rows = json.loads(info.stdout)["rows"]
    assert rows["customers"] == 300 and rows["customer_current"] == 300


def test_rejected_import_exits_1_and_names_the_problem(tmp_path):
    bad = tmp_path / "branches.csv"
    bad.write_text("branch_code,name,name_en,city,region\nSH01,=cmd,a,b,c\n", encoding="utf-8")
    result = runner.invoke(cli.app, ["import", "branches", str(bad), "--store", str(tmp_path / "s.duckdb")])
    assert result.exit_code == 1
    assert "row 2, column name, value '=cmd'" in result.output
    assert "the store is unchanged" in result.output


def test_a_refused_value_is_printed_exactly_as_the_file_has_it(tmp_path):
    # Neither an emoji code nor rich markup in a file turns into something else at the console.
    bad = tmp_path / "branches.csv"
    bad.write_text("branch_code,name,name_en,city,region\n:x:,a,a,b,c\n[bold]SH02[/bold],a,a,b,c\n", encoding="utf-8")
    result = runner.invoke(cli.app, ["import", "branches", str(bad), "--store", str(tmp_path / "s.duckdb")])
    assert result.exit_code == 1
    assert "row 2, column branch_code, value ':x:'" in result.output
    assert "row 3, column branch_code, value '[bold]SH02[/bold]'" in result.output


def test_good_import_reports_what_it_did(tmp_path):
    good = tmp_path / "branches.csv"
    good.write_text("branch_code\tname\tname_en\tcity\tregion\nSH01\t上海\tShanghai\t上海\t华东\n", encoding="utf-8")
    result = runner.invoke(cli.app, ["import", "branches", str(good), "--sep", "tab", "--store", str(tmp_path / "s.duckdb")])
    assert result.exit_code == 0, result.output
    assert "1 rows into branches (1 added, 0 updated, 0 unchanged)" in result.output


def test_audit_verify_passes_on_a_fresh_store_and_fails_naming_a_row_deleted_behind_the_triggers(tmp_path):
    path = tmp_path / "s.sqlite"
    for event in ("login", "download", "logout"):
        state.StateStore(path).record("alice", event, role="admin")
    intact = runner.invoke(cli.app, ["audit", "verify", "--state", str(path)])
    assert intact.exit_code == 0, intact.output
    assert "intact: 3 events, head event 3, hash " in intact.output
    con = sqlite3.connect(path, isolation_level=None)
    con.executescript("DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE event_id = 2;")
    con.close()
    broken = runner.invoke(cli.app, ["audit", "verify", "--state", str(path)])
    assert broken.exit_code == 1
    assert "broken at event 2: event 2 removed: the log goes from event 1 to event 3" in broken.output


def test_bench_smoke_run_writes_both_reports(tmp_path, monkeypatch):
    monkeypatch.setattr(bench, "DEMO_CUSTOMERS", 300)
    monkeypatch.setattr(bench, "DEMO_MONTHS", 6)
    monkeypatch.setattr(bench, "KEPT", tmp_path / "kept")
    results = bench.run(customers=400, months=12, repeat=1, workdir=tmp_path, progress=lambda step: None,
                        browser=False, load_seconds=1, largest=450, evaluate_rows=(2_000,),
                        load_sessions=(1, 2), load_processes=(2,), think_s=(0, 0.2),
                        first_start=False)  # a fresh clone installs a venv of its own
    bench.write_reports(results, tmp_path / "b.json", tmp_path / "b.md")
    names = [r["name"] for r in json.loads((tmp_path / "b.json").read_text())["results"]]
    pages = [f"{page} page analytics, {label}" for label in ("default filters", "one branch")
             for page in ("overview", "tiers", "funnel", "satisfaction", "churn", "portfolio", "model")]
    versus = [f"{q.page}: {q.name} (vs pandas)" for q in pandas_baseline.QUERIES]
    on_spark = [f"{p}, local Spark" for p in pages] if shutil.which("java") else []  # Spark needs Java
    load = ["page time, 1 session, 0-0.2 s between clicks, 2 processes behind nginx",
            "page time, 2 sessions, 0-0.2 s between clicks, 2 processes behind nginx",
            "server RSS with 2 sessions clicking, 2 processes behind nginx",
            "page time, 1 session without pause, imports every 5 s, 2 processes behind nginx",
            ] if os.path.exists(serve.NGINX) else []  # make test installs nginx (scripts/ensure-nginx)
    assert names == ["generate demo store", *load, "generate store", *pages, *versus,
                     "DuckDB path vs pandas, median ratio over the queries", *on_spark,
                     "what-if: copy the as-of month into a study", "what-if recompute after a threshold change",
                     "train the churn model", "score every current customer",
                     "train the next-best-product models", "score every current customer for every product",
                     "campaign list preview, whole bank: credit card >= 10%, at most 5,000",
                     "campaign list preview, one branch: Affluent, wealth-minded, Active, wealth fund >= 30%",
                     "churn evaluate, one core kept busy", "server RSS with 10 sessions open", "generate store", *pages,
                     "import CSV, every row changed", "re-import the same CSV"]
    assert [r.size for r in results if r.name == "generate store"] == ["400 x 12", "450 x 12"]
    assert (tmp_path / "kept" / "store-450x12.duckdb").exists()  # kept for the next run
    assert all(r.median_ms > 0 for r in results)
    assert all(r.pandas_median_ms > 0 and r.ratio > 0 for r in results if "(vs pandas)" in r.name)
    assert "| generate store | 400 x 12 |" in (tmp_path / "b.md").read_text()


def test_the_bench_times_the_analytics_calls_the_pages_make():
    import datetime as dt
    import re

    from analytics.filters import Filters
    from analytics.kpis import KPIS
    from tests.conftest import ROOT

    months = tuple(dt.date(2025, m, 28) for m in range(1, 13))
    for page, calls in views.calls(months, Filters(start=months[0], end=months[-1])).items():
        source = (ROOT / "pages" / f"{page}.py").read_text()
        on_page = set(re.findall(r"compute\((\w+\.\w+),", source))
        if page == "overview":
            on_page = (on_page - {"kpi.fn"}) | {f"kpis.{kpi.fn.__name__}" for kpi in KPIS.values()}
        timed = {f"{fn.__module__.removeprefix('analytics.')}.{fn.__name__}" for fn, _, _ in calls}
        clicked = {"funnel.stopped_at", "portfolio.customer_360", "portfolio.customers", "portfolio.relationship_managers"}
        branch_heads_only = {"care.customers_of"}  # the customers of a branch head's care tasks
        with_saved_lists = {"funnel.lists"}  # drawn once a campaign list was saved (the bench store has none)
        assert timed == on_page - clicked - branch_heads_only - with_saved_lists, page  # and what a click opens


def test_serve_refuses_to_put_the_demo_on_the_network(monkeypatch):
    # Behind nginx the processes listen on 127.0.0.1 whatever nginx does: the app's own check cannot see it.
    monkeypatch.delenv("BANKCRM_ENV", raising=False)

    def started(*args, **kwargs):
        raise AssertionError("a tier was started")

    monkeypatch.setattr(serve, "tier", started)
    result = runner.invoke(cli.app, ["serve", "--processes", "2", "--address", "0.0.0.0"])
    assert result.exit_code == 1
    assert "demo mode listens on 0.0.0.0" in result.output
