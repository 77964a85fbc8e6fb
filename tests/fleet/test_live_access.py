"""The periodic access re-check of console sockets runs once per process for all of them
(fleet.live.access): each socket gets its own verdict, in a number of queries that does not
grow with the number of sockets."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled

from fleet.live.access import (
    CLOSE_FORBIDDEN,
    CLOSE_UNAUTHENTICATED,
    SocketIdentity,
    access_verdicts,
)
from tenancy.models import Membership, Role
from tests.conftest import Tenant, build_tenant
from tests.factories import HubFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def session_of(user: Any, organization_id: int) -> SocketIdentity:
    client = Client()
    client.force_login(user)
    return SocketIdentity(
        client.cookies[settings.SESSION_COOKIE_NAME].value, user.pk, organization_id
    )


@pytest.fixture
def alpha() -> Tenant:
    return build_tenant("Alpha")


@pytest.fixture
def beta() -> Tenant:
    return build_tenant("Beta")


def test_each_socket_gets_its_own_verdict(alpha: Tenant, beta: Tenant) -> None:
    alpha_org, beta_org = alpha.organization.pk, beta.organization.pk
    dispatcher = session_of(alpha.users[Role.DISPATCHER], alpha_org)
    deleted = session_of(alpha.users[Role.MANAGER], alpha_org)
    Session.objects.filter(session_key=deleted.session_key).delete()
    deactivated = session_of(alpha.users[Role.ADMIN], alpha_org)
    get_user_model().objects.filter(pk=deactivated.user_id).update(is_active=False)
    driver = session_of(alpha.users[Role.DRIVER], alpha_org)  # not a console role
    # A member of beta only, pointing its socket at alpha: no licence there.
    foreign = session_of(beta.users[Role.DISPATCHER], alpha_org)
    scoped_hub = HubFactory.create(organization=beta.organization)
    with scopes_disabled():
        beta_membership = Membership.objects.get(user=beta.users[Role.SUPPORT])
        beta_membership.hubs.set([scoped_hub])
    scoped = session_of(beta.users[Role.SUPPORT], beta_org)
    no_key = SocketIdentity(None, alpha.users[Role.SUPPORT].pk, alpha_org)

    verdicts = access_verdicts([dispatcher, deleted, deactivated, driver, foreign, scoped, no_key])

    assert verdicts == [
        (None, []),
        (CLOSE_UNAUTHENTICATED, []),
        (CLOSE_UNAUTHENTICATED, []),
        (CLOSE_FORBIDDEN, []),
        (CLOSE_FORBIDDEN, []),
        (None, [scoped_hub.pk]),
        (CLOSE_UNAUTHENTICATED, []),
    ]


def test_a_password_change_ends_the_old_sessions(alpha: Tenant) -> None:
    user = alpha.users[Role.DISPATCHER]
    identity = session_of(user, alpha.organization.pk)
    user.set_password("a-new-long-password-1")
    user.save()
    assert access_verdicts([identity]) == [(CLOSE_UNAUTHENTICATED, [])]


def test_the_queries_do_not_grow_with_the_sockets(alpha: Tenant) -> None:
    def queries_for(count: int) -> int:
        identities = []
        for _ in range(count):
            user = UserFactory.create()
            MembershipFactory.create(
                organization=alpha.organization, user=user, role=Role.DISPATCHER
            )
            identities.append(session_of(user, alpha.organization.pk))
        with CaptureQueriesContext(connection) as captured:
            verdicts = access_verdicts(identities)
        assert verdicts == [(None, [])] * count
        return len(captured.captured_queries)

    assert queries_for(2) == queries_for(40)
