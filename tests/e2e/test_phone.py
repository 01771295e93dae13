"""The app on a phone (a 390 x 844 screen, a phone's browser) and in narrow columns: the menu gets out of the way
after a tap, the figures that matter are on screen, and no button's label is cut short."""

from __future__ import annotations

import duckdb
import pytest
from playwright.sync_api import expect

from auth.roles import PAGES, allowed

from .conftest import main_text, sign_in, wait_idle

# Streamlit closes its menu after a tap on a phone, which it knows by the browser's user agent
PHONE = dict(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, device_scale_factor=3,
             user_agent="Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
                        "Chrome/124.0.0.0 Mobile Safari/537.36")
SIZES = {"1440": dict(viewport={"width": 1440, "height": 900}), "390": PHONE}
# every element of a button whose text runs past its box: Streamlit cuts a label it cannot fit with an ellipsis
CUT_LABELS = """main => [...main.querySelectorAll('[data-testid=stButton] button, [data-testid=stDownloadButton] button')]
    .filter(b => [...b.querySelectorAll('*')].some(e => e.scrollWidth > e.clientWidth + 1)).map(b => b.innerText)"""


@pytest.fixture
def phone(browser):
    context = browser.new_context(**PHONE)
    yield context.new_page()
    context.close()


def test_tapping_a_page_in_the_menu_closes_the_menu_on_a_phone(phone, app_url):
    sign_in(phone, app_url, "head_sh01")
    sidebar = phone.locator('[data-testid="stSidebar"]')
    expect(sidebar).to_have_attribute("data-collapsed", "true")  # a phone opens on the page, the menu closed
    phone.get_by_test_id("stExpandSidebarButton").tap()
    expect(sidebar).to_have_attribute("data-collapsed", "false")
    menu, own = sidebar.get_by_role("link"), [p.title for p in PAGES if allowed("branch_head", p.key)]
    expect(menu).to_have_count(len(own))  # the role's own pages (each link's text begins with its icon's name)
    expect(menu).to_contain_text(own)
    menu.filter(has_text="Churn warnings").tap()
    wait_idle(phone)
    expect(phone.locator('[data-testid="stMain"] h1').first).to_have_text("Churn warnings")
    expect(sidebar).to_have_attribute("data-collapsed", "true")
    box = sidebar.bounding_box()
    assert box is None or box["x"] + box["width"] <= 0, box  # off the screen, the page in full view
    assert phone.get_by_test_id("stExpandSidebarButton").is_visible()  # and one tap away again


def test_the_churn_list_shows_probability_and_value_at_risk_on_a_phone(phone, app_url):
    """The grid is drawn on a canvas; its accessible table lists the columns in view (the last one possibly cut)."""
    sign_in(phone, app_url, "head_sh01")
    phone.goto(f"{app_url}/churn")
    wait_idle(phone)
    grid = phone.locator('[data-testid="stDataFrame"]').first
    grid.scroll_into_view_if_needed()
    expect(grid.locator('[role="columnheader"]').first).to_be_attached(timeout=20_000)  # drawn after the scroll
    headers = grid.locator('[role="columnheader"]').all_text_contents()
    columns = int(grid.locator('[role="grid"]').get_attribute("aria-colcount"))
    in_full_view = headers if len(headers) == columns else headers[:-1]
    assert {"Customer", "Churn probability", "Value at risk"} <= set(in_full_view), headers


@pytest.mark.parametrize("size", SIZES)
def test_download_and_back_buttons_read_in_full(browser, app_url, store_path, size):
    """Half-width columns (products per tier) and the drill-down's breadcrumb (three levels back) at 1440 and 390."""
    customer = duckdb.connect(str(store_path), read_only=True).execute(
        "SELECT min(customer_id) FROM customers WHERE branch_code = 'SH01'").fetchone()[0]
    context = browser.new_context(**SIZES[size])
    page = context.new_page()
    sign_in(page, app_url, "head_sh01")
    for path in ("tiers", f"portfolio?customer={customer}"):
        page.goto(f"{app_url}/{path}")
        wait_idle(page)
        main = page.locator('[data-testid="stMain"]')
        assert main.get_by_role("button", name="Download CSV").count() > 0, main_text(page)[:300]
        assert main.evaluate(CUT_LABELS) == [], path
    assert main.get_by_role("button", name="Back to").count() == 3
    context.close()
