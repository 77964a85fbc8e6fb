from .events import DeliveryEvent
from .orders import FailureReason, Order, OrderStatus
from .proof import ActionReceipt, ProofOfDelivery
from .routes import Route, Stop
from .webhooks import WebhookDelivery, WebhookEndpoint, WebhookEvent

__all__ = [
    "ActionReceipt",
    "DeliveryEvent",
    "FailureReason",
    "Order",
    "OrderStatus",
    "ProofOfDelivery",
    "Route",
    "Stop",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
]
