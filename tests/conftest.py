"""Shared fixtures: one embedded MongoDB-wire server per session, a fresh database per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from adapters.mongo.database import Database, create_client, ensure_indexes
from adapters.mongo.embedded import MEMORY, EmbeddedMongo


@pytest.fixture(scope="session")
def mongo_uri() -> Iterator[str]:
    """URI of an in-memory server started once for the whole session."""
    server = EmbeddedMongo(MEMORY)
    uri = server.start_sync()
    try:
        yield uri
    finally:
        server.stop_sync()


@pytest.fixture
async def mongo_db(mongo_uri: str) -> AsyncIterator[Database]:
    """A uniquely named database with every index ensured, dropped after the test."""
    client = create_client(mongo_uri, server_selection_timeout_ms=5_000)
    db = client[f"test_{uuid.uuid4().hex[:16]}"]
    try:
        await ensure_indexes(db)
        yield db
    finally:
        await client.drop_database(db.name)
        await client.close()
