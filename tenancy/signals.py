"""Events that can end a user's access to open websockets: each asks tenancy.sessions to tell
the user's sockets (after commit). Receivers only translate the event; the rules are there."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver
from django.http import HttpRequest

from .models import Membership
from .sessions import sessions_revoke

# A user save that touches none of these (e.g. login's `last_login`) cannot end access.
ACCESS_FIELDS = frozenset({"password", "is_active"})


@receiver(user_logged_out, dispatch_uid="tenancy.sockets.logout")
def logout_revokes_sockets(sender: Any, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    if user is None or user.pk is None:
        return
    session = getattr(request, "session", None)
    sessions_revoke(user_id=user.pk, session_key=getattr(session, "session_key", None))


def user_saved(sender: Any, instance: Any, created: bool, **kwargs: Any) -> None:
    update_fields = kwargs.get("update_fields")
    if created or (update_fields is not None and not ACCESS_FIELDS & set(update_fields)):
        return
    # Password changed or user deactivated (or maybe neither): the sockets check for themselves.
    sessions_revoke(user_id=instance.pk)


def user_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    sessions_revoke(user_id=instance.pk)


@receiver(post_save, sender=Membership, dispatch_uid="tenancy.sockets.membership_saved")
@receiver(post_delete, sender=Membership, dispatch_uid="tenancy.sockets.membership_deleted")
def membership_changed(sender: Any, instance: Membership, **kwargs: Any) -> None:
    sessions_revoke(user_id=instance.user_id)


@receiver(m2m_changed, sender=Membership.hubs.through, dispatch_uid="tenancy.sockets.hubs")
def membership_hubs_changed(sender: Any, instance: Any, action: str, **kwargs: Any) -> None:
    # A narrower hub scope must not keep streaming the hubs it no longer covers.
    if action in ("post_add", "post_remove", "post_clear") and isinstance(instance, Membership):
        sessions_revoke(user_id=instance.user_id)


def connect_user_signals() -> None:
    user_model = get_user_model()
    post_save.connect(user_saved, sender=user_model, dispatch_uid="tenancy.sockets.user_saved")
    post_delete.connect(
        user_deleted, sender=user_model, dispatch_uid="tenancy.sockets.user_deleted"
    )
