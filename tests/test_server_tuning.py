"""The web process's garbage-collector tuning (config/asgi.py), which keeps start-up objects
out of full collections and makes collections rarer: the latency tail at 2,000 fixes/s."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from config.asgi import gc_tune_for_serving


@pytest.fixture
def gc_state() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_tuning_freezes_start_up_objects_and_sets_the_threshold(
    gc_state: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOORSTEP_GC_THRESHOLD", "20000,50,100")
    gc_tune_for_serving()
    assert gc.get_threshold() == (20000, 50, 100)
    assert gc.get_freeze_count() > 10_000  # Django, the apps, the URL conf...


def test_off_keeps_pythons_defaults(gc_state: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOORSTEP_GC_THRESHOLD", "off")
    before = gc.get_threshold()
    gc_tune_for_serving()
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
