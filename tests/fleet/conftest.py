from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio

from fleet.ingest import service as ingest_module
from fleet.ingest.database import conninfo_from_settings
from fleet.ingest.service import IngestService
from fleet.live.broadcast import LiveBroadcaster


@pytest_asyncio.fixture
async def ingest(transactional_db: Any) -> AsyncIterator[IngestService]:
    """A fresh ingest pipeline bound to this test's event loop and the test database."""
    service = IngestService(conninfo_from_settings(), broadcast=LiveBroadcaster())
    ingest_module._service = service
    yield service
    ingest_module._service = None
    writer = service.writer
    if writer.task is not None:
        writer.task.cancel()
    for task in list(writer.broadcast_tasks):
        task.cancel()
    if writer.conn is not None:
        await writer.conn.close()
