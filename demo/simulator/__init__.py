"""Demo fleet simulation: a synthetic road network per hub (`roads`), simulated vehicles that
drive it and emit GPS fixes with optional anomalies (`driver`), and the asyncio sender that posts
those fixes to the OsmAnd ingest endpoint (`runner`, used by `manage.py simulate_fleet`).

Everything here is pure Python (no Django imports) so it can be tested without a database.
"""
