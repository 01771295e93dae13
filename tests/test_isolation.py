"""A branch head sees their branch only: on every page, for every filter the page offers.

The check collects everything a page shows (text, metrics, tables, chart
data) and fails on any other branch's code, name, relationship manager or
customer, and on any KPI that differs from the branch-scoped figure. A test
plants an unscoped query to prove the check catches a leak.
"""

from __future__ import annotations

import json
import re

import duckdb
import ibis
import pandas as pd
import pytest

from analytics import format as fmt
from analytics import i18n, kpis
from analytics.filters import Slice
from analytics.rules import TIERS
from analytics.scope import Scope, ScopedStore
from auth.roles import PAGES, allowed
from ui.filters import KEY_FILTERS, WIDGET

from . import apptest
from .rendering import shown_markdown

BRANCHES_TO_CHECK = ("SH01", "BJ02", "CS01")
KPI_LABELS = {k.label_en for k in kpis.KPIS.values()}


@pytest.fixture
def env(app_env, demo_store):
    return demo_store


@pytest.fixture
def fresh_cache():
    """A planted leak must be computed, not served from another test's cached figures (and must not stay cached)."""
    import streamlit as st

    st.cache_data.clear()
    yield
    st.cache_data.clear()


def shown(at) -> str:
    """Everything on screen, markdown as it reads (values in it are escaped, ui.text.plain)."""
    parts = [shown_markdown(e.value) for kind in ("markdown", "title", "caption", "error", "info", "warning")
             for e in at.get(kind)]
    parts += [e.value for e in at.get("text")]
    parts += [f"{shown_markdown(m.label)} {shown_markdown(m.value)}" for m in at.metric]
    parts += [df.value.to_csv() for df in at.dataframe]
    parts += [json.dumps(chart.proto.spec) if hasattr(chart, "proto") else str(chart) for chart in at.get("plotly_chart")]
    parts += [e.proto.body for e in at.get("html")]  # the Overview's trends, with their values in words
    return "\n".join(str(p) for p in parts)


class BranchTables:
    """The check's own view of one branch, independent of ScopedStore, so a broken gate cannot fool it."""

    scope = None

    def __init__(self, backend, branch: str):
        self.backend, self.branch = backend, branch

    def table(self, name: str):
        t = self.backend.table(name)
        if "branch_code" in t.columns:
            return t.filter(t.branch_code == self.branch)
        customers = self.backend.table("customers")
        return t.semi_join(customers.filter(customers.branch_code == self.branch).select("customer_id"), "customer_id")

    def added(self, name: str):
        return None  # the walk saves no campaign list


def cells(at) -> set[str]:
    """Every table cell on the page, whole (a name must match a cell, not part of a longer name)."""
    return {str(v) for df in at.dataframe for v in df.value.to_numpy().ravel()}


def forbidden(store_path, branch: str) -> tuple[set[str], set[str]]:
    """(other branches' codes, names and RMs: never anywhere in the text; their customers' names: never a cell)."""
    con = duckdb.connect(str(store_path), read_only=True)
    words = {w for row in con.execute("SELECT branch_code, name, name_en FROM branches WHERE branch_code <> ?", [branch]).fetchall() for w in row}
    words |= {r[0] for r in con.execute("SELECT rm_id FROM relationship_managers WHERE branch_code <> ?", [branch]).fetchall()}
    mine = {r[0] for r in con.execute("SELECT name FROM customers WHERE branch_code = ? UNION "
                                      "SELECT name FROM relationship_managers WHERE branch_code = ?",
                                      [branch, branch]).fetchall()}  # a namesake of our own RM is no leak
    names = {r[0] for r in con.execute("SELECT name FROM customers WHERE branch_code <> ?", [branch]).fetchall()} - mine
    return words, names


def assert_only_branch(at, store_path, branch: str) -> None:
    words, names = forbidden(store_path, branch)
    text = shown(at)
    leaked = sorted(w for w in words if w in text) + sorted(names & cells(at))
    assert not leaked, f"other branches' data on screen for {branch}: {leaked[:10]}"
    kpi_metrics = [m for m in at.metric if m.label in KPI_LABELS]
    if not kpi_metrics:
        return
    filters = at.session_state[KEY_FILTERS]
    tables = Slice(BranchTables(ibis.duckdb.connect(str(store_path), read_only=True), branch), filters.but(start=None))
    expected = {k.label_en: fmt.BY_UNIT[k.unit](kpis.snapshot(k.fn(tables), pd.Timestamp(filters.end)).value)
                for k in kpis.KPIS.values()}
    for metric in kpi_metrics:
        assert metric.value == expected[metric.label], f"{metric.label} for {branch} is not the branch's own figure"


def views(at):
    """The views a walk checks on a page: the default, each tier, and a period ending a year earlier."""
    yield
    for tier in TIERS:
        at.multiselect(key=WIDGET["tiers"]).set_value([tier]).run()
        yield
    at.multiselect(key=WIDGET["tiers"]).set_value([]).run()
    latest = at.session_state[WIDGET["end"]]
    at.selectbox(key=WIDGET["end"]).set_value(at.session_state[WIDGET["start"]]).run()
    yield
    at.selectbox(key=WIDGET["end"]).set_value(latest).run()


def walk_pages_as_branch_head(store_path, branch: str) -> int:
    """Every page the branch head may open, in several filtered views; returns the views checked."""
    at = apptest.sign_in(apptest.app(), f"head_{branch.lower()}")
    checked = 0
    for page in PAGES:
        if not allowed("branch_head", page.key):
            continue
        apptest.open_page(at, page.key)
        for _ in views(at):
            assert not at.exception, (page.key, at.exception)
            assert_only_branch(at, store_path, branch)
            checked += 1
    return checked


@pytest.mark.parametrize("branch", BRANCHES_TO_CHECK)
def test_branch_head_sees_only_own_branch_on_every_page_and_filter(env, branch):
    assert walk_pages_as_branch_head(env, branch) >= 36


def test_the_check_catches_a_planted_unscoped_query(env, monkeypatch, fresh_cache):
    original = ScopedStore.table

    def forgets_the_scope(self, name):
        return original(ScopedStore(self._backend, Scope.all_branches(pii="shown")), name)

    monkeypatch.setattr(ScopedStore, "table", forgets_the_scope)
    with pytest.raises(AssertionError, match="not the branch's own figure|other branches' data on screen"):
        walk_pages_as_branch_head(env, "SH01")


def customer_pii(store_path) -> set[str]:
    """Customers' names, phones and ID numbers, but for names that are also a relationship manager's: the pages
    show who serves a book (an employee), and 李雷 the RM does not reveal 李雷 the customer."""
    con = duckdb.connect(str(store_path), read_only=True)
    staff = {name for (name,) in con.execute("SELECT name FROM relationship_managers").fetchall()}
    return {v for row in con.execute("SELECT name, phone, id_number FROM customers").fetchall() for v in row
            if v} - staff


def test_the_check_catches_another_branch_s_customer_in_a_table(env, monkeypatch, fresh_cache):
    from analytics import portfolio

    original = portfolio.at_risk

    def with_a_stranger(sl, rm_id=None):
        listed = original(sl, rm_id)
        stranger = duckdb.connect(str(env), read_only=True).execute(
            "SELECT name FROM customers WHERE branch_code = 'CS01' AND name NOT IN "
            "(SELECT name FROM customers WHERE branch_code = 'SH01') LIMIT 1").fetchone()[0]
        return listed.assign(name=[stranger] + list(listed["name"][1:]))

    with_a_stranger.__module__, with_a_stranger.__name__ = original.__module__, original.__name__
    monkeypatch.setattr(portfolio, "at_risk", with_a_stranger)
    with pytest.raises(AssertionError, match="other branches' data on screen"):
        walk_pages_as_branch_head(env, "SH01")


@pytest.mark.parametrize("username", ["exec", "analyst"])
def test_no_unmasked_name_phone_or_id_for_roles_without_pii(env, username):
    pii = customer_pii(env)
    at = apptest.sign_in(apptest.app(), username)
    role = at.session_state["bankcrm_scope"].role
    for page in PAGES:
        if allowed(role, page.key):
            apptest.open_page(at, page.key)
            assert not pii & (cells(at) | {m.value for m in at.metric}), (username, page.key)
            text = shown(at)
            assert not [v for v in pii if len(v) > 4 and v in text], (username, page.key)  # phones, ID numbers


def hidden_digits(store_path) -> set[str]:
    """What an ID number's mask hides, as a page or a download could write it: every customer's birth date as a
    date, and the first 14 characters of their ID number (the region and the birth date)."""
    con = duckdb.connect(str(store_path), read_only=True)
    found = set()
    for born, id_number in con.execute("SELECT birth_date, id_number FROM customers").fetchall():
        if born is not None:
            found |= {born.isoformat(), fmt.date(born, "en"), fmt.date(born, "zh")}
        if id_number:
            found.add(id_number[:14])
    return found


@pytest.fixture
def downloaded(monkeypatch):
    """Every frame a download button of the app was built from, in this test."""
    from analytics import export

    frames = []
    original = export.csv_bytes
    monkeypatch.setattr(export, "csv_bytes", lambda frame: frames.append(frame) or original(frame))
    return frames


@pytest.mark.parametrize("username", ["exec", "analyst"])
def test_no_page_or_download_gives_back_an_id_number_s_hidden_digits_or_an_analyst_a_real_customer_id(
        env, app_env, downloaded, username):
    """Walk every page, the customer 360s of customers with birthday tasks and their downloads: no birth date (the
    8 digits an ID number's mask hides), an age only as its band, and for the analyst no real customer id."""
    from analytics import care
    from analytics.filters import Slice
    from analytics.scope import PSEUDONYM

    tables = Slice(ScopedStore(ibis.duckdb.connect(str(env), read_only=True), Scope.all_branches(pii="shown")))
    due = care.due(tables, tables.as_of_date())
    care.generate(app_env, due, on=tables.as_of_date(), actor="cli")
    birthdays = due[due.kind == "birthday"].customer_id.head(3).tolist()
    assert birthdays, "the demo store has birthdays within the week of its last day"
    at = apptest.sign_in(apptest.app(), username)
    pseudonymised = at.session_state["bankcrm_scope"].pii == "pseudonym"
    seen: list[str] = []
    for page in PAGES:
        if allowed(at.session_state["bankcrm_scope"].role, page.key):
            apptest.open_page(at, page.key)
            seen.append(shown(at))
    keys = birthdays
    if pseudonymised:
        names = ScopedStore(ibis.duckdb.connect(str(env), read_only=True), at.session_state["bankcrm_scope"])
        customers = names.table("customers").execute()
        keys = customers.customer_id.head(3).tolist()
    apptest.open_page(at, "portfolio")
    for key in keys:
        at.query_params["customer"] = str(key)
        at.run()
        assert not at.exception and not at.error, key
        seen.append(shown(at))
        facts = apptest.frame_with(at, "col.value")
        age = facts.loc[facts[i18n.t("col.feature")] == i18n.t("field.age"), i18n.t("col.value")].iloc[0]
        assert age == "–" or re.fullmatch(r"[0-9]+0–[0-9]+9", age), age
        id_number = facts.loc[facts[i18n.t("col.feature")] == i18n.t("field.id_number"), i18n.t("col.value")].iloc[0]
        assert re.fullmatch(r"\*{14}[0-9X]{4}|–", id_number), id_number
    seen += [frame.to_csv() for frame in downloaded]
    text = "\n".join(seen)
    assert downloaded, "the walk passes download buttons"
    assert not [d for d in hidden_digits(env) if d in text]
    if pseudonymised:
        for frame in downloaded:
            for column in [c for c in frame.columns if c == i18n.t("col.customer_id")]:
                assert frame[column].astype(str).str.fullmatch(PSEUDONYM).all(), column
