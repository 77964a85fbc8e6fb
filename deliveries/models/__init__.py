from .api_tokens import ApiToken
from .events import DeliveryEvent
from .orders import FailureReason, Order, OrderStatus
from .routes import Route, Stop

__all__ = [
    "ApiToken",
    "DeliveryEvent",
    "FailureReason",
    "Order",
    "OrderStatus",
    "Route",
    "Stop",
]
