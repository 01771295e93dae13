"""Markdown, HTML and image syntax fed through every place text comes from (a crafted link, a bank's files,
what a person types) is drawn as text in a real browser: no link, image or other element is made from it,
and it reads as typed."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import duckdb
import pytest
import yaml
from playwright.sync_api import expect

from analytics.schema import IMPORTABLE
from auth.users import DEMO_USERS_FILE
from bankcrm import serve
from ui.text import WORD_JOINER

from .conftest import choose, choose_outcome, needs_chromium, sign_in, wait_idle

EVIL = "evil.example"
BRANCH = ('张*三 **B** [L](http://evil.example/l) ![I](http://evil.example/i.png) <a href="http://evil.example/h">H</a> '
          "李<b>四</b> :red[r] :x:")
RM = '<a href="http://evil.example/h">H</a> **B** ![I](http://evil.example/i.png) 李<b>四</b>'
CUSTOMER = '张*三 **B** [L](http://evil.example/l) <img src="http://evil.example/j.png"> :x:'
TYPED = '**B** [L](http://evil.example/l) <a href="http://evil.example/h">H</a> :x:'  # a campaign name: 80 at most
ISSUE_CUSTOMER = "1 **Session expired.** [Sign in again](http://evil.example/login)"
# The texts an element made from the payloads would hold: **B**, [L](..), ![I](..), <a>H</a>, <b>四</b>, :red[r]
MADE = ("B", "L", "I", "H", "四", "r")


@pytest.fixture(scope="module")
def bank(tmp_path_factory, scored_copy):
    """A small scored store whose branch SH01, one of its relationship managers, a customer of theirs, an
    interaction and SH01's busiest campaign carry payload names, imported with `bankcrm import` as a bank
    imports its files; the users file names head_sh01 with a payload. Served by its own `streamlit run`."""
    needs_chromium()
    workdir = tmp_path_factory.mktemp("text_payloads")
    store_path = scored_copy(workdir)
    con = duckdb.connect(str(store_path), read_only=True)
    rm_id, customer_id, interaction_id = con.execute(
        "SELECT c.rm_id, c.customer_id, min(i.interaction_id) FROM customers c JOIN interactions i USING (customer_id)"
        " WHERE c.branch_code = 'SH01' GROUP BY ALL ORDER BY c.rm_id, c.customer_id LIMIT 1").fetchone()
    (campaign_id,) = con.execute(
        "SELECT f.campaign_id FROM funnel_events f JOIN customers c USING (customer_id) WHERE c.branch_code = 'SH01'"
        " GROUP BY f.campaign_id ORDER BY count(*) DESC, f.campaign_id LIMIT 1").fetchone()
    payloads = {"branches": ("SH01", {"name": BRANCH, "name_en": BRANCH}),
                "relationship_managers": (rm_id, {"name": RM}),
                "customers": (customer_id, {"name": CUSTOMER}),
                "interactions": (interaction_id, {"note": BRANCH}),
                "campaigns": (campaign_id, {"name": BRANCH})}
    files = {table: export_row(con, table, key, changes, workdir) for table, (key, changes) in payloads.items()}
    con.close()
    for table, file in files.items():
        run = subprocess.run([str(Path(sys.executable).parent / "bankcrm"), "import", table, str(file),
                              "--store", str(store_path)], capture_output=True, text=True)
        assert run.returncode == 0, run.stdout + run.stderr
    users = yaml.safe_load(Path(DEMO_USERS_FILE).read_text())
    users["credentials"]["usernames"]["head_sh01"]["name"] = CUSTOMER
    (workdir / "users.yaml").write_text(yaml.safe_dump(users, allow_unicode=True))
    with serve.running(store_path, workdir / "state.sqlite", workdir / "streamlit.log",
                       users_path=workdir / "users.yaml") as app:
        yield {"url": app.url, "rm_id": rm_id, "customer_id": customer_id}


def export_row(con, table: str, key, changes: dict, workdir: Path) -> Path:
    """The row of `table` with the one-column `key` as a CSV a bank would send, with `changes` applied."""
    spec = IMPORTABLE[table]
    columns = [column.name for column in spec.columns]
    row = dict(zip(columns, con.execute(f"SELECT {', '.join(columns)} FROM {table} WHERE {spec.key[0]} = ?",
                                        [key]).fetchone()))
    path = workdir / f"{table}.csv"
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, columns)
        writer.writeheader()
        writer.writerow({**row, **changes})
    return path


def assert_shown_as_text(page, *texts: str) -> None:
    """Nothing on the page links to or loads from the payloads' host, no element holds what one made of them,
    and each of `texts` reads as typed (invisible word joiners aside)."""
    wait_idle(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    made = page.evaluate("""([evil, made]) => [...document.querySelectorAll('*')].flatMap(e => {
        const found = ['href', 'src', 'xlink:href'].map(a => e.getAttribute(a)).filter(v => v && v.includes(evil));
        const tag = e.tagName.toLowerCase();
        const markup = ['a', 'img', 'image', 'strong', 'em', 'b', 'i', 'del', 'code', 'li', 'blockquote', 'h1', 'h2',
                        'h3', 'h4', 'h5', 'h6'].includes(tag) || e.matches('span[role=img], [class*=Colored], tspan[style]');
        if (markup && made.includes(e.textContent.trim())) found.push(tag + ': ' + e.textContent);
        return found.map(f => tag + ' ' + f);
    })""", [EVIL, list(MADE)])
    assert made == []
    body = page.inner_text("body").replace(WORD_JOINER, "")
    assert "❌" not in body  # the :x: emoji
    charts = page.locator(".js-plotly-plot").all_text_contents()
    chosen = page.eval_on_selector_all("input", "inputs => inputs.map(i => i.value)")  # a selectbox shows its value
    for text in texts:
        assert text in body or any(text in drawn for drawn in charts + chosen), text


def page_url(bank, key: str, **query) -> str:
    return f"{bank['url']}/{key}?" + "&".join(f"{k}={quote(str(v))}" for k, v in query.items())


def test_a_crafted_link_s_text_is_shown_as_text(browser, bank):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    # a link's filters are read on a session's first run: a branch outside the scope is dropped with a notice
    sign_in(page, page_url(bank, "tiers", branches=f"SH01,{BRANCH}"), "exec")
    expect(page.locator('[data-testid="stSidebar"]').get_by_text("could not be read")).to_be_visible(timeout=15_000)
    assert_shown_as_text(page, f"could not be read (branches={BRANCH})", f"SH01 {BRANCH}")  # and the branch's chip
    page.goto(page_url(bank, "portfolio", customer=ISSUE_CUSTOMER))
    assert_shown_as_text(page, f"Customer {ISSUE_CUSTOMER} is not in your scope.")
    page.goto(page_url(bank, "portfolio", branch=BRANCH, rm=BRANCH))
    assert_shown_as_text(page, f"Customers of {BRANCH}", f"Back to {BRANCH}")
    context.close()


def test_names_from_a_bank_s_files_are_shown_as_text(page, bank):
    rm_label = f"{bank['rm_id']} {RM}"
    sign_in(page, bank["url"], "head_sh01")
    assert_shown_as_text(page, f"{CUSTOMER} · Branch head")  # the display name in the sidebar
    for url, texts in (
            (page_url(bank, "portfolio"), [f"Relationship managers of {BRANCH}", rm_label]),
            (page_url(bank, "portfolio", branch="SH01", rm=bank["rm_id"]), [f"Back to {BRANCH}"]),
            (page_url(bank, "portfolio", branch="SH01", rm=bank["rm_id"], customer=bank["customer_id"]),
             [f"Customer 360: {CUSTOMER}", f"Back to {RM}"]),
            (page_url(bank, "tiers"), [BRANCH]),  # the branch axis
            (page_url(bank, "funnel"), [BRANCH])):  # conversion by campaign
        page.goto(url)
        assert_shown_as_text(page, *texts)
    page.goto(page_url(bank, "satisfaction"))
    wait_idle(page)
    page.locator('[data-testid="stButtonGroup"]').get_by_text("Branch", exact=True).click()
    assert_shown_as_text(page, f"SH01 {BRANCH}")  # NPS by branch


def test_what_a_person_types_is_shown_as_text(browser, bank):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    sign_in(page, page_url(bank, "churn"), "head_sh01")
    page.get_by_label("Note for the relationship manager").fill(BRANCH)
    choose(page, "care_kind", "Churn risk")  # the kind is the person's choice: none is pre-selected
    page.get_by_role("button", name="Assign").click()
    assert_shown_as_text(page, "assigned to", BRANCH)  # the task chosen in the form that closes it
    page.get_by_label("What happened (optional)").fill(BRANCH)
    choose_outcome(page, "Stays with us")
    page.get_by_role("button", name="Done").click()
    assert_shown_as_text(page, "is done")
    page.goto(page_url(bank, "campaigns"))
    wait_idle(page)
    page.get_by_role("slider", name="Minimum chance to open in 3 months").press("Home")
    assert_shown_as_text(page, f"{bank['rm_id']} {RM}")  # the workload per RM, from the file
    page.locator(".st-key-campaign_name input").fill(TYPED)
    page.get_by_role("button", name="Save as a campaign").click()
    assert_shown_as_text(page, f"Saved LIST-0001 “{TYPED}”")
    context.close()

    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    sign_in(page, page_url(bank, "studio"), "analyst")
    field = page.get_by_label("Affluent from (CNY)")
    field.fill("30000")
    field.press("Enter")
    wait_idle(page)  # while a run draws, the figure it replaces is still shown beside the new one
    moved = page.locator('[data-testid="stMetric"]').filter(has_text="Customers changing tier")
    # the rerun that computes the effect (the first, on a cold server) may not have started when wait_idle looked
    expect(moved.locator('[data-testid="stMetricValue"]')).not_to_have_text("0", timeout=60_000)
    wait_idle(page)
    page.locator(".st-key-studio_save_comment input").fill(BRANCH)
    page.get_by_role("button", name="Save a new version").click()
    assert_shown_as_text(page, "Saved as version 1")
    context.close()

    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    sign_in(page, page_url(bank, "audit"), "admin")
    actor = page.get_by_label("User", exact=True)
    actor.fill(BRANCH)
    actor.press("Enter")
    assert_shown_as_text(page, "0 events")
    context.close()
