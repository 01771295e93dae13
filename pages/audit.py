"""Audit log (admins): every sign-in, refusal, download, import and rule change, newest first."""

import datetime as dt

import streamlit as st

from analytics.state import AUDIT_EVENTS, StateStore
from ui import guard
from ui.cache import session_scope
from ui.i18n import t, texts
from ui.tables import table

guard.page("audit")

st.title(t("page.audit"))
left, middle, right = st.columns(3)
actor = left.text_input(t("audit.user"))
event = middle.selectbox(t("audit.event"), [None, *AUDIT_EVENTS], format_func=texts({None: "filters.all"}))
since = right.date_input(t("audit.since"), dt.date.today() - dt.timedelta(days=30))
events = StateStore().audit_log(session_scope().role, actor=actor.strip() or None, event=event, since=since)
st.caption(t("audit.count", n=len(events)))
table(events, {"occurred_at": ("col.occurred_at", None), "actor": ("col.actor", None),
               "client": ("col.client", None), "role": ("col.role", None), "event": ("col.event", None),
               "detail_json": ("col.detail", None)}, "audit_log")
