"""Streamlit glue shared by app.py and the pages: the store, the session's scope, caching."""
