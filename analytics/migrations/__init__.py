"""Numbered SQL migrations, applied in order by analytics.store.migrate."""
