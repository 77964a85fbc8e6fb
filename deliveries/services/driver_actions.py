"""The driver app's actions: idempotent route starts and stop visits with proof of delivery.

Every action carries an idempotency key the browser made when the driver tapped the button.
The key is what makes the offline queue safe: a retry after a lost answer gets the stored
answer (same status, same body) and applies nothing again (tenancy/api/idempotency.py). The
action itself (`driver_action_perform`) raises domain errors; their HTTP answers come from the
one mapping, tenancy/api/errors.py.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone
from PIL import Image, UnidentifiedImageError

from tenancy.api.idempotency import (
    IdempotentAnswer,
    StoredReceipt,
    idempotent_answer,
    receipt_pruner_register,
)
from tenancy.context import require_organization
from tenancy.errors import Conflict, NotFound

from ..models import ActionReceipt, DeliveryEvent, Order, OrderStatus, ProofOfDelivery, Route, Stop
from . import routes

S = OrderStatus
SOURCE = DeliveryEvent.Source.DRIVER

# Upload limits: a phone photo after the app's own downscale is well under 2 MB; the cap only
# keeps a misbehaving client from filling the storage.
PHOTO_MAX_BYTES = 10 * 1024 * 1024
SIGNATURE_MAX_BYTES = 1024 * 1024
IMAGE_FORMATS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}
# A phone may queue taps offline for a long shift or a weekend; a retry within this keeps its
# first answer. Older receipts are pruned hourly (tenancy/api/idempotency.py).
ACTION_RECEIPT_RETENTION = dt.timedelta(days=7)


class ActionKind:
    START = "start"
    ARRIVE = "arrive"
    DELIVER = "deliver"
    FAIL = "fail"
    ALL = (START, ARRIVE, DELIVER, FAIL)


@dataclass
class DriverAction:
    """One tap of the driver, as decoded from the request (files still unchecked)."""

    kind: str
    stop_id: int | None = None
    route_id: int | None = None
    reason_code: str = ""
    recipient_name: str = ""
    notes: str = ""
    latitude: float | None = None
    longitude: float | None = None
    accuracy_m: float | None = None
    captured_at: dt.datetime | None = None
    files: dict[str, UploadedFile] = field(default_factory=dict)


# --- Actions ----------------------------------------------------------------------------------


def driver_action_apply(
    *, organization_id: int, user: AbstractBaseUser, driver_id: int, key: str, action: DriverAction
) -> IdempotentAnswer:
    """Apply `action` once per `key`: a repeated key returns the first answer unchanged
    (tenancy/api/idempotency.py). Raises InvalidInput for a missing key, Conflict for another
    user's key."""
    return idempotent_answer(
        organization_id=organization_id,
        user_id=user.pk,
        key=key,
        store=ActionReceiptStore(
            organization_id=organization_id, driver_id=driver_id, action=action
        ),
        run=lambda: driver_action_perform(
            organization_id=organization_id, user=user, driver_id=driver_id, action=action
        ),
    )


@dataclass(frozen=True)
class ActionReceiptStore:
    """The driver app's receipts, with the order the action concerned (when it was one of the
    driver's stops) for the audit trail."""

    organization_id: int
    driver_id: int
    action: DriverAction

    def receipt_get(self, *, key: str) -> StoredReceipt | None:
        receipt = ActionReceipt.objects.filter(
            organization_id=self.organization_id, key=key
        ).first()
        if receipt is None:
            return None
        return StoredReceipt(receipt.user_id, receipt.response_status, receipt.response_body)

    def receipt_save(self, *, key: str, user_id: int, status: int, body: dict[str, Any]) -> None:
        ActionReceipt.objects.create(
            organization_id=self.organization_id,
            key=key,
            user_id=user_id,
            kind=self.action.kind[:32],
            order_id=self._order_id(),
            response_status=status,
            response_body=body,
        )

    def _order_id(self) -> int | None:
        if self.action.kind == ActionKind.START or self.action.stop_id is None:
            return None
        own = Stop.objects.filter(
            organization_id=self.organization_id,
            pk=self.action.stop_id,
            route__driver_id=self.driver_id,
        )
        order_id: int | None = own.values_list("order_id", flat=True).first()
        return order_id


def action_receipts_prune(organization_id: int, before: dt.datetime) -> int:
    """Delete the organization's driver action receipts created before `before`; how many."""
    require_organization(organization_id)
    old = ActionReceipt.objects.filter(organization_id=organization_id, created_at__lt=before)
    deleted, _ = old.delete()
    return deleted


receipt_pruner_register(
    "driver-actions", retention=ACTION_RECEIPT_RETENTION, prune=action_receipts_prune
)


def driver_action_perform(
    *, organization_id: int, user: AbstractBaseUser, driver_id: int, action: DriverAction
) -> dict[str, Any]:
    """Apply one action of the driver (no idempotency: see driver_action_apply); returns what
    the app shows. Raises NotFound for a stop or route not the driver's, Conflict (with the
    order's current status) when the order or route cannot move so, ValidationError for bad
    input."""
    require_organization(organization_id)
    if action.kind == ActionKind.START:
        try:
            return _route_start(
                organization_id=organization_id, user=user, driver_id=driver_id, action=action
            )
        except Route.DoesNotExist as exc:
            raise NotFound("No such route of yours.") from exc
        except Conflict as exc:
            raise Conflict(str(exc), extra={"order_status": None}) from exc
    try:
        stop = _own_stop(
            organization_id=organization_id, driver_id=driver_id, stop_id=action.stop_id
        )
    except Stop.DoesNotExist as exc:
        raise NotFound("No such stop on your routes.") from exc
    try:
        return _stop_action(organization_id=organization_id, user=user, stop=stop, action=action)
    except Conflict as exc:
        orders = Order.objects.filter(organization_id=organization_id, pk=stop.order_id)
        current = orders.values_list("status", flat=True).first()
        raise Conflict(str(exc), extra={"order_status": current}) from exc


def _own_stop(*, organization_id: int, driver_id: int, stop_id: int | None) -> Stop:
    """A stop of one of the driver's routes (the routing services take the locks)."""
    if stop_id is None:
        raise Stop.DoesNotExist
    stop: Stop = Stop.objects.select_related("route", "order").get(
        organization_id=organization_id, pk=stop_id, route__driver_id=driver_id
    )
    return stop


def _route_start(
    *, organization_id: int, user: AbstractBaseUser, driver_id: int, action: DriverAction
) -> dict[str, Any]:
    """The route is under way: its orders not yet out go out for delivery."""
    own = Route.objects.filter(organization_id=organization_id, driver_id=driver_id).get(
        pk=action.route_id
    )  # 404 if not theirs
    route, moved = routes.route_start(
        organization_id=organization_id,
        route_id=own.pk,
        source=SOURCE,
        actor=user,
        latitude=action.latitude,
        longitude=action.longitude,
        now=action.captured_at,
    )
    return {
        "kind": action.kind,
        "route_id": route.pk,
        "route_status": str(route.status),
        "moved": moved,
    }


def _stop_action(
    *, organization_id: int, user: AbstractBaseUser, stop: Stop, action: DriverAction
) -> dict[str, Any]:
    """Arrive, deliver or fail through the routing services, which keep the stop, the route
    and the ETAs of the stops still ahead in step with the order."""
    # Queued offline, an action happened when the driver tapped, not when it reached us.
    when = action.captured_at or timezone.now()
    visit: dict[str, Any] = {
        "organization_id": organization_id,
        "stop_id": stop.pk,
        "source": SOURCE,
        "actor": user,
        "latitude": action.latitude,
        "longitude": action.longitude,
        "now": when,
    }
    proof: ProofOfDelivery | None = None
    if action.kind == ActionKind.ARRIVE:
        if stop.route.status == Route.Status.PLANNED:
            # Arriving at a stop of a route nobody started starts that route.
            routes.route_start(
                organization_id=organization_id,
                route_id=stop.route_id,
                source=SOURCE,
                actor=user,
                latitude=action.latitude,
                longitude=action.longitude,
                now=when,
            )
        stop = routes.stop_arrive(**visit)
    elif action.kind == ActionKind.DELIVER:
        photo, signature = _checked_images(action)
        stop = routes.stop_depart(**visit, to_status=S.DELIVERED)
        proof = _proof_save(
            organization_id=organization_id,
            user=user,
            order=stop.order,
            action=action,
            photo=photo,
            signature=signature,
        )
    elif action.kind == ActionKind.FAIL:
        if not action.reason_code:
            raise ValidationError({"reason": "Pick why the delivery failed."})
        stop = routes.stop_depart(
            **visit, to_status=S.FAILED, reason_code=action.reason_code, note=action.notes
        )
    else:
        raise ValidationError({"kind": f"Unknown action {action.kind!r}."})
    body: dict[str, Any] = {
        "kind": action.kind,
        "stop_id": stop.pk,
        "order_id": stop.order_id,
        "order_status": str(stop.order.status),
    }
    if proof is not None:
        body["proof_id"] = proof.pk
    return body


# --- Proof of delivery ------------------------------------------------------------------------


def image_checked(upload: UploadedFile, *, label: str, max_bytes: int) -> tuple[UploadedFile, str]:
    """The upload if it is a JPEG/PNG/WebP image within `max_bytes`, with its true extension.

    Pillow reads the header, not the name or the client's content type, which are both the
    client's word.
    """
    if upload.size is not None and upload.size > max_bytes:
        raise ValidationError({label: f"The {label} is over {max_bytes // (1024 * 1024)} MB."})
    if upload.size == 0:
        raise ValidationError({label: f"The {label} file is empty."})
    try:
        upload.seek(0)
        with Image.open(io.BytesIO(upload.read())) as image:
            image_format = image.format or ""
            image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ValidationError({label: f"The {label} is not a readable image."}) from exc
    if image_format not in IMAGE_FORMATS:
        raise ValidationError({label: f"The {label} must be a JPEG, PNG or WebP image."})
    upload.seek(0)
    return upload, IMAGE_FORMATS[image_format]


def _checked_images(
    action: DriverAction,
) -> tuple[tuple[UploadedFile, str] | None, tuple[UploadedFile, str] | None]:
    photo = action.files.get("photo")
    signature = action.files.get("signature")
    return (
        image_checked(photo, label="photo", max_bytes=PHOTO_MAX_BYTES) if photo else None,
        image_checked(signature, label="signature", max_bytes=SIGNATURE_MAX_BYTES)
        if signature
        else None,
    )


def _proof_save(
    *,
    organization_id: int,
    user: AbstractBaseUser,
    order: Order,
    action: DriverAction,
    photo: tuple[UploadedFile, str] | None,
    signature: tuple[UploadedFile, str] | None,
) -> ProofOfDelivery:
    proof = ProofOfDelivery(
        organization_id=organization_id,
        order=order,
        recipient_name=action.recipient_name.strip()[:120],
        notes=action.notes.strip(),
        latitude=action.latitude,
        longitude=action.longitude,
        accuracy_m=action.accuracy_m,
        captured_at=action.captured_at,
        captured_by_id=user.pk,
    )
    # Files written now stay behind if the transaction rolls back later; their names are random
    # and nothing points at them, so they are garbage, never a leak.
    if photo:
        proof.photo.save(f"photo{photo[1]}", photo[0], save=False)
    if signature:
        proof.signature.save(f"signature{signature[1]}", signature[0], save=False)
    proof.full_clean(exclude=["organization", "order", "photo", "signature", "captured_by"])
    proof.save()
    return proof
