"""Dispute packets: one PDF per order with the GPS trail around the stop, arrival, departure and
dwell, the proof of delivery, every event and attempt, and the SHA-256 of its content printed on
it and stored (reporting.DisputePacket), so a copy brought back later can be checked.

facts.py gathers the facts (a selector), pdf.py and trail_map.py draw them (pure), services.py
issues and verifies packets, views.py is the thin edge. See docs/history.md."""
