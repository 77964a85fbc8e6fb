"""Messages to the end customer that are not status changes (those go through webhooks)."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache
from django.core.mail import send_mail

from tenancy.errors import Conflict

from ..models import Order

# A support agent double-clicking, or re-sending while on the phone, must not flood the customer.
RESEND_COOLDOWN_SECONDS = 60


class TrackingLinkNotSent(Conflict):
    """Why the tracking link was not sent, in words for the support agent."""


def order_tracking_link_send(*, order: Order, tracking_url: str, organization_name: str) -> str:
    """E-mail the order's tracking link to its customer; returns the address it went to."""
    if not order.email:
        raise TrackingLinkNotSent("This order has no e-mail address; copy the link instead.")
    if not cache.add(f"tracking-link-sent:{order.pk}", 1, RESEND_COOLDOWN_SECONDS):
        raise TrackingLinkNotSent("The link was sent less than a minute ago; please wait.")
    body = (
        f"Hello {order.customer_name},\n\n"
        f"Follow your delivery {order.reference} from {organization_name} here:\n"
        f"{tracking_url}\n"
    )
    try:
        send_mail(
            subject=f"Track your delivery {order.reference}",
            message=body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            recipient_list=[order.email],
        )
    except OSError as exc:  # smtplib's errors are OSErrors: the mail server is unreachable
        cache.delete(f"tracking-link-sent:{order.pk}")
        raise TrackingLinkNotSent("The e-mail could not be sent; copy the link instead.") from exc
    return order.email
