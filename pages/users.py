"""Users (admins): who may sign in, with which role and branches, and who is signed in now. Changes to users go
through `bankcrm users`; a live session can be ended here."""

import pandas as pd
import streamlit as st

from analytics.state import StateStore
from auth.sessions import Sessions
from auth.users import UsersFile
from ui import guard
from ui.cache import session_scope
from ui.i18n import t
from ui.tables import table

guard.page("users")

users = UsersFile()
scope = session_scope()
sessions = Sessions(StateStore())
st.title(t("page.users"))
st.caption(t("users.caption", path=users.path))
table(pd.DataFrame([{"username": u.username, "name": u.name, "role": u.role, "branches": ", ".join(u.branches),
                     "status": "disabled" if u.disabled else "active"} for u in users.users()]),
      {"username": ("col.username", None), "name": ("col.name", None), "role": ("col.role", "term:role"),
       "branches": ("col.branches", None), "status": ("col.status", "term:status")}, "users")

st.subheader(t("users.sessions"))
live = sessions.live()
st.caption(t("users.sessions_explain", n=len(live)))
if not live.empty:
    table(live, {"ref": ("col.session", None), "username": ("col.username", None), "role": ("col.role", "term:role"),
                 "client": ("col.client", "term:client"), "started_at": ("col.started_at", "time"),
                 "last_seen_at": ("col.last_seen_at", "time")}, "sessions")
    with st.form("end_session", clear_on_submit=True):
        ref = st.selectbox(t("col.session"), live.ref, format_func=lambda r: " · ".join(
            live.loc[live.ref == r, ["ref", "username", "client"]].iloc[0]))
        if st.form_submit_button(t("users.end_session")):
            if sessions.end_by_admin(ref, actor=scope.user, role=scope.role):
                st.success(t("users.session_ended", ref=ref))
            else:
                st.info(t("users.session_gone", ref=ref))
