"""The fleet's REST API: hubs, zones (GeoJSON), vehicles, drivers and positions."""
