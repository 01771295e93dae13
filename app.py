"""bankcrm: the entry point. Page config, navigation, and a clear word when there is no store."""

import streamlit as st

from analytics.store import StoreMissing, StoreOutdated
from ui.cache import store

st.set_page_config(page_title="bankcrm", page_icon="🏦", layout="wide")

PAGES = [
    st.Page("pages/overview.py", title="Overview", icon="📊", url_path="overview", default=True),
]

try:
    store().check()
except (StoreMissing, StoreOutdated) as problem:
    st.error(str(problem))
    st.stop()

st.navigation(PAGES).run()
