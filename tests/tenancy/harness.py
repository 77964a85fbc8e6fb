"""The cross-tenant harness: every URL the project serves, asked for by organization A's users
with organization B's ids. Later issues register their URLs here; an unregistered URL pattern
fails `test_every_url_pattern_is_covered`, so nothing new escapes the harness."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.urls import URLPattern, URLResolver, get_resolver, reverse

# name -> how to build its kwargs from the *foreign* tenant. Only URLs that take ids go here.
ForeignKwargs = Callable[[Any], dict[str, Any]]
FOREIGN_ID_URLS: dict[str, ForeignKwargs] = {
    "fleet:vehicle_detail": lambda b: {"vehicle_id": b.tenant.vehicle.pk},
    "fleet:saved_view_detail": lambda b: {"view_id": b.tenant.saved_view.pk},
    "deliveries-api:order_detail": lambda b: {"order_id": b.tenant.order.pk},
    "deliveries-api:order_events": lambda b: {"order_id": b.tenant.order.pk},
    "deliveries:order_detail": lambda b: {"order_id": b.tenant.order.pk},
}

# URLs without ids that are served to everybody (their pages must still show no foreign data).
PLAIN_URLS: set[str] = {
    "login",
    "api-schema",
    "api-docs",
    "console:home",
    "console:map",
    "console:orders",
    "console:alerts",
    "console:dashboards",
    "console:driver_home",
    "fleet:roads",
    "fleet:saved_views",
    "fleet:data_health",
    "deliveries-api:order_list",
}

# POST-only actions that take a foreign id in the body; each has a dedicated test.
POST_ONLY_URLS: set[str] = {
    "logout",
    "console:organization_switch",
    "deliveries-api:order_transition",
}

# Admin URL names that take no object id and are walked generically.
ADMIN_PLAIN_SUFFIXES = ("changelist", "add")
ADMIN_OBJECT_SUFFIXES = ("change", "delete", "history")
ADMIN_SITE_URLS = {
    "admin:index",
    "admin:login",
    "admin:logout",
    "admin:password_change",
    "admin:password_change_done",
    "admin:jsi18n",
    "admin:autocomplete",
    "admin:view_on_site",
    "admin:app_list",
}


@dataclass(frozen=True)
class Probe:
    url: str
    foreign: bool  # True: the URL names a foreign object and must answer 403 or 404
    label: str


def iter_url_names(resolver: URLResolver | None = None, prefix: str = "") -> Iterator[str]:
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            namespace = f"{prefix}{entry.namespace}:" if entry.namespace else prefix
            yield from iter_url_names(entry, namespace)
        elif isinstance(entry, URLPattern) and entry.name:
            yield f"{prefix}{entry.name}"


def admin_url_names() -> set[str]:
    names = set(ADMIN_SITE_URLS) | {"admin:auth_user_password_change"}
    for model in admin.site._registry:
        opts = model._meta
        for suffix in ADMIN_PLAIN_SUFFIXES + ADMIN_OBJECT_SUFFIXES:
            names.add(f"admin:{opts.app_label}_{opts.model_name}_{suffix}")
    return names


def admin_probes(foreign: Any) -> Iterator[Probe]:
    app_labels = set()
    for model in admin.site._registry:
        opts = model._meta
        app_labels.add(opts.app_label)
        for suffix in ADMIN_PLAIN_SUFFIXES:
            name = f"admin:{opts.app_label}_{opts.model_name}_{suffix}"
            yield Probe(reverse(name), False, name)
        obj = foreign.admin_object(model)
        for suffix in ADMIN_OBJECT_SUFFIXES:
            name = f"admin:{opts.app_label}_{opts.model_name}_{suffix}"
            yield Probe(reverse(name, args=[obj.pk]), True, name)
    user = foreign.admin_object(get_user_model())
    yield Probe(reverse("admin:auth_user_password_change", args=[user.pk]), True, "password")
    yield Probe(reverse("admin:index"), False, "admin:index")
    for label in sorted(app_labels):
        yield Probe(reverse("admin:app_list", args=[label]), False, "admin:app_list")


def probes(foreign: Any) -> list[Probe]:
    found = [Probe(reverse(name), False, name) for name in sorted(PLAIN_URLS)]
    for name, kwargs in sorted(FOREIGN_ID_URLS.items()):
        found.append(Probe(reverse(name, kwargs=kwargs(foreign)), True, name))
    found.extend(admin_probes(foreign))
    return found
