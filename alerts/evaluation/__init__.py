"""Rule evaluation: pure functions over plain values (episode machine, conditions per kind,
active hours, geometry) and the two runners that feed them from the database: streaming over
each vehicle's fixes (`streaming.py`) and the beat sweep for time-based kinds (`scheduled.py`).
"""
