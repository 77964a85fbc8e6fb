from .devices import Device
from .hubs import Hub, Zone
from .vehicles import Driver, Vehicle

__all__ = ["Device", "Driver", "Hub", "Vehicle", "Zone"]
