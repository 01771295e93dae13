"""Scores that have not landed yet: while a refresh trains and scores the models of a new store
(analytics.ml.refresh), a page that shows them says they are on their way, not that there is no model, and runs
again once they land."""

from __future__ import annotations

import streamlit as st

from ui.cache import coming, underway
from ui.i18n import t

WATCH_SECONDS = 5  # how often a page saying so looks whether the refresh has moved on


def on_their_way(*kinds: str) -> bool:
    """Say which of `kinds` (churn, products, care) were on their way when this run began, and run the page
    again once the refresh has moved on; False, saying nothing, when none was (the page then says what it says
    without them: no model yet, not published)."""
    waiting = [kind for kind in kinds if kind in coming()]
    if not waiting:
        return False
    st.info("\n\n".join([*(t(f"coming.{kind}") for kind in waiting), t("coming.landing")]),
            icon=":material/hourglass_top:")
    _rerun_once_moved(coming())
    return True


@st.fragment(run_every=WATCH_SECONDS)
def _rerun_once_moved(seen: frozenset[str]) -> None:
    if underway() != seen:
        st.rerun()
