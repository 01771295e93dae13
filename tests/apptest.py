"""Driving the real app.py under Streamlit's AppTest, signed in as someone."""

from __future__ import annotations

from unittest import mock

import streamlit as st
from streamlit.testing.v1 import AppTest

from analytics import i18n
from auth.roles import PAGES
from auth.users import DEMO_PASSWORD

from .conftest import ROOT

PAGE_FILES = {spec.key: spec.file for spec in PAGES}


def app() -> AppTest:
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)


def sign_in(at: AppTest, username: str, password: str = DEMO_PASSWORD) -> AppTest:
    at.run()
    lang = at.session_state["lang"] if "lang" in at.session_state else "en"  # noqa: SIM401 (no .get on AppTest state)
    form_inputs = {t.label: t for t in at.text_input}
    form_inputs[i18n.t("signin.username", lang)].input(username)
    form_inputs[i18n.t("signin.password", lang)].input(password)
    next(b for b in at.button if b.label == i18n.t("signin.submit", lang)).click()
    return at.run()


def open_page(at: AppTest, key: str) -> AppTest:
    return at.switch_page(PAGE_FILES[key]).run()


def menu(at: AppTest) -> list[str]:
    """The titles the menu shows (the pages app.py last hands st.navigation as visible) in a rerun of `at`:
    Streamlit draws its menu from the navigation message, which AppTest does not keep."""
    shown: list[str] = []
    navigation = st.navigation

    def seen(pages, **options):
        shown[:] = [page.title for page in pages if page.visibility == "visible"]
        return navigation(pages, **options)

    with mock.patch.object(st, "navigation", seen):
        at.run()
    return shown


def signed_in_form_shown(at: AppTest) -> bool:
    return any(t.label == "Password" for t in at.text_input)


def frame_with(at: AppTest, header_key: str):
    """The shown table that has the column `header_key` names (English)."""
    return next(d.value for d in at.dataframe if i18n.t(header_key) in d.value.columns)
