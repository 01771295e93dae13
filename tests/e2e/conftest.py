"""The real app under `streamlit run`, driven by Debian's Chromium through Playwright."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from analytics import generate

from ..conftest import DEMO_END, ROOT, build_scored_demo

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
PASSWORD = "bankcrm-demo"


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def app_url(tmp_path_factory):
    """Start `streamlit run app.py` on a free port against a small generated store; stop it afterwards."""
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (make test installs it with scripts/ensure-chromium)")
    workdir = tmp_path_factory.mktemp("e2e")
    store_path = workdir / "bank.duckdb"
    build_scored_demo(store_path, generate.DemoSpec(customers=2000, months=15, seed=5, end_month=DEMO_END))
    port = _free_port()
    env = {**os.environ, "BANKCRM_STORE": str(store_path), "BANKCRM_STATE": str(workdir / "state.sqlite")}
    env.pop("BANKCRM_USERS", None)
    env.pop("BANKCRM_ENV", None)
    log = open(workdir / "streamlit.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                    break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not start: {(workdir / 'streamlit.log').read_text()[-2000:]}")
            time.sleep(0.3)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        app_url.log_text = (workdir / "streamlit.log").read_text()


@pytest.fixture(scope="session")
def store_path(app_url, tmp_path_factory):
    return next(Path(tmp_path_factory.getbasetemp()).glob("e2e*/bank.duckdb"))


@pytest.fixture(scope="session")
def browser(app_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    yield page
    context.close()


def wait_idle(page) -> None:
    """Let a rerun start, then wait until the script has finished and the frontend settled."""
    page.wait_for_timeout(300)
    page.wait_for_selector(IDLE, timeout=30_000)
    page.wait_for_timeout(500)


def sign_in(page, url: str, username: str, password: str = PASSWORD) -> None:
    page.goto(url)
    wait_idle(page)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    wait_idle(page)


def main_text(page) -> str:
    return page.inner_text('[data-testid="stMain"]')
