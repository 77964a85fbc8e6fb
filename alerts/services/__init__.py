"""Alerts' write services (episodes: opened/updated/resolved by the evaluators)."""
