"""bankcrm: the entry point. Sign-in, navigation by role, and a refusal for what a role may not open."""

import hashlib
import logging
import os
from pathlib import Path

import streamlit as st

from analytics import config, files
from analytics.spark import SparkUnavailable
from analytics.state import StateStore
from analytics.store import BadSetting, StoreKeyMismatch, StoreMissing, StoreOutdated
from auth import config as deployment
from auth.roles import PAGES, allowed
from auth.signin import KEY_SCOPE, signed_in
from auth.users import UsersFile
from ui import filters, guard, theme  # noqa: F401  (theme: the plotly template every chart uses)
from ui.cache import filter_options, pin_store, read_active_rules
from ui.i18n import switch, t, term
from ui.text import plain

# The writers make their own files private; whatever else this process creates is private too.
files.private_by_default()
st.set_page_config(page_title="bankcrm", page_icon="🏦", layout="wide")
# Tables' own CSV download and copy would bypass the audited, neutralised export of ui.tables.
st.set_option("client.disableDataExport", True)

users = UsersFile()


@st.cache_resource(show_spinner=False)
def refusals(users_path: str, changed_ns: int, environment: str, address: str) -> list[str]:
    """Checked once per users file version, environment and address (bcrypt checks are slow on purpose); the
    reasons go to the server log, never to the page."""
    problems = deployment.problems(UsersFile(users_path), address)
    for problem in problems:
        logging.getLogger("bankcrm").error("configuration refused: %s", problem)
    return problems


lang = switch()

environment = hashlib.sha256(repr([os.environ.get(k) for k in (config.ENV, *(s.env for s in config.SECRETS.values()))])
                             .encode()).hexdigest()
if refusals(str(users.path), users.path.stat().st_mtime_ns if users.path.exists() else 0, environment,
            st.get_option("server.address") or ""):
    st.error(t("config.refused"))
    st.stop()

try:
    pin_store()
except (StoreMissing, StoreOutdated, StoreKeyMismatch, BadSetting, SparkUnavailable) as problem:
    # the operator's own machine in demo mode reads what to do; anywhere else the reason (a path) goes to the log
    logging.getLogger("bankcrm").error("store unavailable: %s", problem)
    st.error(str(problem) if config.is_demo() else t("store.unavailable"))
    st.stop()

ROOT = Path(__file__).resolve().parent


def navigation(role: str | None) -> tuple[dict, st.Page]:
    """Every page registered (so that a link to any of them survives sign-in and a forbidden one can be refused),
    the menu showing only the role's own, none before sign-in. Streamlit's own menu: on a phone it closes once a
    page is tapped. Returns the pages by key and the one to run."""
    pages = {spec.key: st.Page(ROOT / spec.file, title=spec.title_in(lang), icon=spec.icon, default=i == 0,
                               url_path=None if i == 0 else spec.key,
                               visibility="visible" if role and allowed(role, spec.key) else "hidden")
             for i, spec in enumerate(PAGES)}
    return pages, st.navigation(list(pages.values()), position="sidebar", expanded=True)


# Before the sign-in form: a widget drawn ahead of st.navigation is keyed by the page asked for, and the form's
# must stay the same from the run that draws it to the run that submits it.
known = st.session_state.get(KEY_SCOPE)
pages, current = navigation(known.role if known else None)
session = signed_in(users, StateStore(), lang)
if session is None:
    st.stop()
if session.scope != known:  # signed in by this run (the form, or the cookie in a new tab): the role's menu now
    pages, current = navigation(session.scope.role)
current_key = next(key for key, page in pages.items() if page is current)

st.sidebar.caption(plain(f"{session.user.name} · {term('role', session.user.role)}"
                         + (f" · {', '.join(session.user.branches)}" if session.user.branches else "")))

if not allowed(session.user.role, current_key):
    StateStore().record(session.user.username, "page_refused", role=session.user.role, page=current_key)
    st.error(t("page.refused", role=term("role", session.user.role, in_sentence=True), page=pages[current_key].title))
    st.stop()

read_active_rules()
filters.sidebar(filter_options())

with guard.running(current_key):
    current.run()
