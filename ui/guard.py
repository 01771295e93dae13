"""Pages draw only when app.py runs them, after sign-in and the role check.

Streamlit still knows `pages/` as the legacy multipage folder: until a
server process has run `st.navigation` once (and under AppTest, on every
run) it may execute a page file directly for its URL, skipping app.py and
with it the sign-in. Every page therefore calls `guard.page(KEY)` before it
draws anything: when app.py is not the one running it, the guard
runs app.py itself, which signs the person in, checks the role, and runs
the page again from there.
"""

from __future__ import annotations

import contextlib
import runpy
import threading
from collections.abc import Iterator
from pathlib import Path

import streamlit as st

_running = threading.local()


@contextlib.contextmanager
def running(page_key: str) -> Iterator[None]:
    """Used by app.py around `page.run()`, once sign-in and the role check passed."""
    _running.page = page_key
    try:
        yield
    finally:
        _running.page = None


APP = Path(__file__).resolve().parent.parent / "app.py"


def page(page_key: str) -> None:
    if getattr(_running, "page", None) == page_key:
        return
    # Streamlit ran this page file by itself: run app.py instead, in this same
    # run (so a form just submitted is not lost), and draw nothing of our own.
    runpy.run_path(str(APP), run_name="__main__")
    st.stop()
