"""The web tier of `make run PROCESSES=2`: two Streamlit processes behind Debian's nginx (deploy/nginx.conf), used
through the proxy as a person does, and each process reached directly to see what they share."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect

from analytics import generate
from auth.roles import PAGES, allowed
from bankcrm import serve

from ..conftest import DEMO_END, build_demo
from .conftest import main_text, needs_chromium, sign_in, wait_idle
from .test_browser import assert_page_healthy


@pytest.fixture(scope="module")
def tier(tmp_path_factory):
    """Two processes behind nginx on a small store (no model scores: the pages work without them)."""
    needs_chromium()
    if not os.path.exists(serve.NGINX):
        pytest.skip("Debian's nginx is not installed (make test installs it with scripts/ensure-nginx)")
    workdir = tmp_path_factory.mktemp("tier")
    store_path = build_demo(workdir / "bank.duckdb",
                            generate.DemoSpec(customers=500, months=12, seed=5, end_month=DEMO_END))
    with serve.running(store_path, workdir / "state.sqlite", workdir / "streamlit.log", processes=2) as app:
        assert len(app.servers) == 2 and app.url not in app.servers
        yield app


def test_a_branch_head_signs_in_through_the_proxy_clicks_through_downloads_and_signs_out(page, tier):
    sign_in(page, tier.url, "head_sh01")
    for spec in PAGES:
        if not allowed("branch_head", spec.key):
            continue
        page.locator('[data-testid="stSidebarNavLink"]').filter(has_text=spec.title).click()
        wait_idle(page)
        assert_page_healthy(page, spec.title)
        if spec.key == "tiers":
            # A download is a second request of the tab's session (its file lives in the one process that ran
            # the page): the proxy must send it where the tab's websocket went.
            with page.expect_download() as download:
                page.get_by_role("button", name="Download CSV").first.click()
            assert download.value.failure() is None
            assert "Tier" in open(download.value.path(), encoding="utf-8-sig").readline()  # customers by tier
            wait_idle(page)
    page.get_by_role("button", name="Sign out").click()
    wait_idle(page)
    expect(page.get_by_label("Password", exact=True)).to_have_count(1, timeout=20_000)
    assert page.locator('[data-testid="stMetric"]').count() == 0


def test_a_sign_in_cookie_signs_in_on_every_process_until_its_owner_signs_out_on_one(browser, tier):
    """One cookie secret and one state store: a cookie signed in through the proxy opens the app on each process
    reached directly, and once its owner signs out (on whichever process the proxy chose) none accepts it."""
    owner = browser.new_context(viewport={"width": 1440, "height": 900})
    page = owner.new_page()
    sign_in(page, tier.url, "exec")
    copied = [c for c in owner.cookies() if c["name"] == "bankcrm_auth"]
    assert copied
    other = browser.new_context(viewport={"width": 1440, "height": 900})
    other.add_cookies(copied)  # a cookie names a host, not a port: each process reads it
    for server in tier.servers:
        tab = other.new_page()
        tab.goto(server)
        wait_idle(tab)
        expect(tab.locator('[data-testid="stMetric"]').first).to_be_visible(timeout=30_000)
        assert tab.get_by_label("Password", exact=True).count() == 0, main_text(tab)[:300]
        tab.close()
    page.get_by_role("button", name="Sign out").click()
    wait_idle(page)
    expect(page.get_by_label("Password", exact=True)).to_have_count(1, timeout=20_000)
    for server in tier.servers:
        tab = other.new_page()
        tab.goto(server)
        wait_idle(tab)
        expect(tab.get_by_label("Password", exact=True)).to_have_count(1, timeout=20_000)
        assert tab.locator('[data-testid="stMetric"]').count() == 0
        tab.close()
    owner.close()
    other.close()
