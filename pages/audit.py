"""Audit log (admins): every sign-in, refusal, download, import and rule change, newest first."""

import datetime as dt

import streamlit as st

from analytics.state import AUDIT_EVENTS, StateStore
from ui import guard

guard.page("audit")

st.title("Audit log")
left, middle, right = st.columns(3)
actor = left.text_input("User")
event = middle.selectbox("Event", ["(all)", *AUDIT_EVENTS])
since = right.date_input("Since", dt.date.today() - dt.timedelta(days=30))
events = StateStore().audit_events(actor=actor.strip() or None, event=None if event == "(all)" else event, since=since)
st.caption(f"{len(events)} events (at most 1,000 shown). The log is append-only: nothing here can change it.")
st.dataframe(events.rename(columns={"occurred_at": "occurred_at (UTC)"}), hide_index=True, width="stretch")
