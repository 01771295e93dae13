"""Numbered SQL migrations of the state store, applied in order by analytics.state."""
