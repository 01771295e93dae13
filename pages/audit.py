"""Audit log (admins): every sign-in, refusal, download, import and rule change, newest first, in words and in
local time (analytics.audit); the log itself stays as it is kept."""

import datetime as dt

import streamlit as st

from analytics import audit, config
from analytics.state import AUDIT_EVENTS, StateStore
from ui import guard
from ui.cache import session_scope
from ui.i18n import lang, namer, t, texts
from ui.tables import table

guard.page("audit")

st.title(t("page.audit"))
left, middle, right = st.columns(3)
actor = left.text_input(t("audit.user"))
event_name, all_events = namer("audit_event"), texts({None: "filters.all"})
event = middle.selectbox(t("audit.event"), [None, *AUDIT_EVENTS],
                         format_func=lambda e: all_events(e) if e is None else event_name(e))
since = right.date_input(t("audit.since"), config.today() - dt.timedelta(days=30))
events = StateStore().audit_log(session_scope().role, actor=actor.strip() or None, event=event,
                                since=audit.utc_start(since))
st.caption(t("audit.count", n=len(events), zone=config.local_zone().key))
# when and what first (a phone shows them), the detail last (it takes the width that is left)
table(events.assign(detail=[audit.detail_text(d, lang()) for d in events.detail_json]),
      {"occurred_at": ("col.occurred_at", "time"), "event": ("col.event", "term:audit_event"),
       "actor": ("col.actor", "term:actor"), "client": ("col.client", "term:client"),
       "role": ("col.role", "term:role"), "detail": ("col.detail", None)}, "audit_log")
