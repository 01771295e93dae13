"""bankcrm analytics: the store, imports, marts and every figure the dashboard shows. Never imports streamlit."""
