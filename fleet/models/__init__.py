from .devices import Device
from .hubs import Hub, Zone
from .tracking import (
    Position,
    RejectedFix,
    SavedView,
    SavedViewDefault,
    TrackingSettings,
    VehicleState,
)
from .vehicles import Driver, Vehicle

__all__ = [
    "Device",
    "Driver",
    "Hub",
    "Position",
    "RejectedFix",
    "SavedView",
    "SavedViewDefault",
    "TrackingSettings",
    "Vehicle",
    "VehicleState",
    "Zone",
]
