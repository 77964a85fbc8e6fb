"""Through a real Celery worker: the `positions.flushed` event relayed by the outbox, evaluated
by `alerts.evaluate_positions`; the beat sweep's fan-out; and a worker killed with SIGKILL in
the middle of a batch, three times: no alert lost, none doubled."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from django_scopes import scopes_disabled

from alerts.evaluation.stream import Fix
from alerts.models import AlertEvent, EvaluationState
from fleet.models import Vehicle, VehicleState
from tests.alerts.support import (
    alerts_of,
    at,
    outbox_kinds,
    positions_flushed_emit,
    positions_insert,
    rule_create,
)
from tests.alerts.tracks import drive
from tests.conftest import Tenant
from tests.support.celery import START_SECONDS, CeleryWorker, _stop, queues_delete
from tests.support.processes import django_process_env

pytestmark = pytest.mark.django_db(transaction=True)
REPO = Path(__file__).resolve().parents[2]


def speeding_track(start: float = 0) -> list[Any]:
    return [
        *drive(start_t=start, seconds=120, kmh=50),
        *drive(start_t=start + 125, seconds=90, kmh=115, start_east_m=1700),
        *drive(start_t=start + 220, seconds=120, kmh=50, start_east_m=4600),
    ]


def test_flushed_positions_open_and_resolve_an_alert_through_the_worker(
    tenant_a: Tenant, celery_worker: CeleryWorker
) -> None:
    rule_create(tenant_a, "speeding", params={"limit_kmh": 90, "min_seconds": 20})
    track = speeding_track()
    positions_insert(tenant_a, track)
    positions_flushed_emit(tenant_a, [tenant_a.vehicle.pk], track)
    alert = celery_worker.wait_for(
        lambda: next(iter(a for a in alerts_of(tenant_a) if a.status == "resolved"), None),
        "the speeding alert to open and resolve",
    )
    assert alert.details["peak_kmh"] == 115
    assert outbox_kinds(tenant_a).count("alert.opened") == 1


def test_the_sweep_fans_out_one_task_per_organization(
    tenant_a: Tenant, tenant_b: Tenant, celery_worker: CeleryWorker
) -> None:
    from alerts.tasks import sweep

    long_ago = timezone.now() - dt.timedelta(hours=1)
    for tenant in (tenant_a, tenant_b):
        rule_create(tenant, "vehicle_offline", params={"minutes": 5})
        with scopes_disabled():
            VehicleState.objects.create(
                organization=tenant.organization, vehicle=tenant.vehicle, fix_time=long_ago,
                server_time=long_ago, latitude=52.37, longitude=4.89,
            )  # fmt: skip
    sweep.delay()
    celery_worker.wait_for(
        lambda: len(alerts_of(tenant_a)) == 1 and len(alerts_of(tenant_b)) == 1,
        "one offline alert in each organization",
    )


# --- SIGKILL mid-batch ----------------------------------------------------------------------


@contextlib.contextmanager
def worker_on(queue: str) -> Iterator[CeleryWorker]:
    """A worker on a given queue (so a restarted one finds what the killed one held), which
    hands out unacknowledged messages again after 3 s."""
    node = f"{queue}-{uuid.uuid4().hex[:6]}@{socket.gethostname()}"
    log = tempfile.NamedTemporaryFile(prefix="celery-worker-", suffix=".log")  # noqa: SIM115
    env = django_process_env({"DOORSTEP_CELERY_VISIBILITY_TIMEOUT": "3"})
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.celery", queue, node],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    worker = CeleryWorker(process=process, queue=queue, node=node, log=log)
    try:
        # Its log, not a ping: a solo worker busy with a redelivered batch answers no ping.
        worker.wait_for(
            lambda: " ready." in Path(log.name).read_text(errors="replace"),
            "the Celery worker to start", seconds=START_SECONDS,
        )  # fmt: skip
        yield worker
    finally:
        if process.poll() is None:
            _stop(process)
        log.close()


def evaluation_running() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND state <> 'idle' AND query ILIKE %s",
            ["%fleet_position%"],
        )
        return bool(cursor.fetchone()[0]) or _locked_states()


def _locked_states() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "WHERE c.relname = 'alerts_evaluationstate' AND l.pid <> pg_backend_pid()"
        )
        return bool(cursor.fetchone()[0])


def committed_cursors(tenant: Tenant) -> int:
    with scopes_disabled():
        return EvaluationState.objects.filter(
            organization=tenant.organization, cursor_fix_time__isnull=False
        ).count()


def test_a_worker_killed_mid_batch_three_times_loses_and_doubles_nothing(tenant_a: Tenant) -> None:
    from alerts.tasks import evaluate_positions
    from config.celery import app

    vehicles_n = 60
    with scopes_disabled():
        vehicles = Vehicle.objects.bulk_create(
            [Vehicle(organization=tenant_a.organization, hub=tenant_a.hub, plate=f"KILL-{i:03}")
             for i in range(vehicles_n)]
        )  # fmt: skip
    rules: list[tuple[str, dict[str, Any]]] = [
        ("speeding", {"limit_kmh": 90, "min_seconds": 20}),
        ("unplanned_stop", {"minutes": 8}),
        ("idle", {"minutes": 10}),
        ("battery_low", {}),
        ("geofence_exit", {"zone_kinds": ["geofence"]}),
    ]
    for kind, params in rules:
        rule_create(tenant_a, kind, params=params)
    track = []
    for lap in range(2):  # two speeding episodes per vehicle, far apart
        track += speeding_track(start=lap * 1000)
    for i, vehicle in enumerate(vehicles):
        # One device for all: a millisecond apart per vehicle keeps (device, fix time) unique.
        shifted = [Fix(f.t + i / 1000, f.lat, f.lon, f.speed) for f in track]
        positions_insert(tenant_a, shifted, vehicle_id=vehicle.pk)
    ids = [v.pk for v in vehicles]

    queue = f"test-kill-{uuid.uuid4().hex[:8]}"
    default_queue = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    rng = random.Random(7)
    mid_batch_kills = 0
    try:
        evaluate_positions.delay(
            organization_id=tenant_a.organization.pk, vehicle_ids=ids, since=at(0).isoformat()
        )
        for _ in range(3):
            with worker_on(queue) as worker:
                worker.wait_for(
                    evaluation_running, "the evaluation to start", seconds=60, poll=0.05
                )
                time.sleep(rng.uniform(0.02, 0.1))  # short: the evaluation got fast
                mid_batch_kills += committed_cursors(tenant_a) == 0
                os.kill(worker.process.pid, signal.SIGKILL)
                worker.process.wait()
        assert mid_batch_kills >= 1, "no kill landed before the batch committed"
        assert alerts_of(tenant_a) == []
        with worker_on(queue) as worker:
            worker.wait_for(
                lambda: committed_cursors(tenant_a) == vehicles_n,
                "the batch to be evaluated",
                seconds=180,
            )
    finally:
        app.conf.task_default_queue = default_queue
        queues_delete(queue)

    alerts = [a for a in alerts_of(tenant_a) if a.kind == "speeding"]
    per_vehicle = Counter(a.vehicle_id for a in alerts)
    assert per_vehicle == {v: 2 for v in ids}, "exactly two speeding episodes per vehicle"
    assert all(a.status == "resolved" for a in alerts)
    with scopes_disabled():
        opened = Counter(
            AlertEvent.objects.filter(
                organization=tenant_a.organization, kind="opened"
            ).values_list("alert_id", flat=True)
        )
    assert set(opened.values()) == {1}
    assert outbox_kinds(tenant_a).count("alert.opened") == len(alerts_of(tenant_a))
