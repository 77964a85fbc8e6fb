"""The alerts tests' tenants come with their rule and open alert (tests/conftest.py builds
them on demand, so other apps' tests stay as they were)."""

from __future__ import annotations

import pytest

from tests.conftest import Tenant


@pytest.fixture
def tenant_a(tenant_a: Tenant) -> Tenant:
    return tenant_a.alerts_build()


@pytest.fixture
def tenant_b(tenant_b: Tenant) -> Tenant:
    return tenant_b.alerts_build()
