"""bankcrm: the entry point. Sign-in, navigation by role, and a refusal for what a role may not open."""

import os
from pathlib import Path

import streamlit as st

from analytics.state import StateStore
from analytics.spark import SparkUnavailable
from analytics.store import BadSetting, StoreMissing, StoreOutdated
from auth.roles import PAGES, allowed
from auth.signin import signed_in
from auth.users import UsersFile, production_problems
from ui import filters, guard, theme  # noqa: F401  (theme: the plotly template every chart uses)
from ui.cache import filter_options, pin_store, read_active_rules
from ui.i18n import switch, t
from ui.text import plain

st.set_page_config(page_title="bankcrm", page_icon="🏦", layout="wide")

users = UsersFile()


@st.cache_resource(show_spinner=False)
def production_refusals(users_path: str, changed_ns: int, environment: tuple) -> list[str]:
    """Checked once per users file version and environment: bcrypt checks are slow on purpose."""
    return production_problems(UsersFile(users_path))


secrets_env = tuple(os.environ.get(k) for k in ("BANKCRM_COOKIE_KEY", "BANKCRM_PSEUDONYM_KEY"))
if os.environ.get("BANKCRM_ENV") == "production" and (problems := production_refusals(
        str(users.path), users.path.stat().st_mtime_ns if users.path.exists() else 0, secrets_env)):
    st.error("bankcrm will not start in production with demo settings:\n\n" + "\n".join(f"- {p}" for p in problems))
    st.stop()

lang = switch()

try:
    pin_store()
except (StoreMissing, StoreOutdated, BadSetting, SparkUnavailable) as problem:
    st.error(str(problem))
    st.stop()

# Every page is registered (so a link to any of them survives sign-in and a
# forbidden one can be refused), but the menu shows only the role's own.
ROOT = Path(__file__).resolve().parent
pages = {spec.key: st.Page(ROOT / spec.file, title=spec.title_in(lang), icon=spec.icon, default=i == 0,
                           url_path=None if i == 0 else spec.key)
         for i, spec in enumerate(PAGES)}
current = st.navigation(list(pages.values()), position="hidden")
current_key = next(key for key, page in pages.items() if page is current)

session = signed_in(users, StateStore(), lang)
if session is None:
    st.stop()

role = t(f"role.{session.user.role}")
st.sidebar.caption(plain(f"{session.user.name} · {role}"
                         + (f" · {', '.join(session.user.branches)}" if session.user.branches else "")))
for spec in PAGES:
    if allowed(session.user.role, spec.key):
        st.sidebar.page_link(pages[spec.key], label=spec.title_in(lang), icon=spec.icon)

if not allowed(session.user.role, current_key):
    StateStore().record(session.user.username, "page_refused", role=session.user.role, page=current_key)
    st.error(t("page.refused", role=role, page=pages[current_key].title))
    st.stop()

read_active_rules()
filters.sidebar(filter_options())

with guard.running(current_key):
    current.run()
