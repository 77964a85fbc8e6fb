"""One line that says what happened, for the inbox, emails and webhooks."""

from __future__ import annotations

from typing import Any


def alert_title(kind: str, subject_label: str, details: dict[str, Any]) -> str:
    d = details
    who = subject_label or "?"
    match kind:
        case "speeding":
            return f"{who} speeding: {d.get('peak_kmh', '?')} km/h in a {d.get('limit_kmh', '?')} km/h limit"
        case "vehicle_offline":
            return f"{who} offline for {d.get('minutes', '?')} min"
        case "battery_low":
            return f"{who} device battery at {d.get('battery_pct', '?')}%"
        case "data_quality":
            return f"{who}: {d.get('refused_pct', '?')}% of fixes refused"
        case "idle":
            return f"{who} idle away from a planned stop"
        case "unplanned_stop":
            return f"{who} stopped away from every stop and hub"
        case "geofence_enter":
            return f"{who} entered {d.get('zone') or 'a watched zone'}"
        case "geofence_exit":
            return f"{who} left its zone ({d.get('distance_m', '?')} m outside)"
        case "route_deviation":
            return f"{who} {d.get('distance_m', '?')} m off its planned route"
        case "late_risk":
            return f"{who} at risk of being late ({d.get('minutes_late', '?')} min past the window)"
        case "late":
            return f"{who} late: window passed, not delivered"
        case "long_dwell":
            return f"{who}: {d.get('minutes', '?')} min at the customer"
        case "delivery_failed":
            return f"{who} delivery failed"
        case "route_not_started":
            return f"Route {who} not started"
        case "pod_far_from_address":
            return f"{who} marked {d.get('status', 'done')} {d.get('distance_m', '?')} m from the address"
        case "failed_without_visit":
            return f"{who} failed with no visit near the address"
        case "arrived_not_near":
            return f"{who} marked arrived, vehicle never within {d.get('limit_m', '?')} m"
        case "idle_while_late_risk":
            return f"Route {who}: driver idle while the next stop is at late risk"
    return f"{who}: {kind}"
