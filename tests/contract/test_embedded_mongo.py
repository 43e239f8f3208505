"""The embedded server keeps data across restarts and refuses a folder already in use."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from adapters.mongo import (
    EmbeddedMongo,
    EmbeddedMongoError,
    MongoRunStore,
    create_client,
    open_database,
)
from adapters.mongo.embedded import mongo_uri
from core.models import DeliveryState, RunStatus
from tests.contract.runs_data import NOW, event, make_run, submission


async def test_data_survives_restart_and_folder_is_exclusive(tmp_path: Path) -> None:
    folder = tmp_path / "db"
    server = EmbeddedMongo(folder)
    uri = await server.start()
    run = make_run()
    try:
        with pytest.raises(EmbeddedMongoError, match="in use"):
            await EmbeddedMongo(folder).start()
        client, db = await open_database(uri, "comfybot")
        try:
            store = MongoRunStore(db)
            await store.insert(run)
            assert await store.mark_submitted(run.id, submission("b-1", NOW))
            assert await store.apply_event(run.id, event(RunStatus.SUCCESS, 1.0), NOW, None)
        finally:
            await client.close()
    finally:
        await server.stop()

    uri = await server.start()
    try:
        client, db = await open_database(uri, "comfybot")
        try:
            stored = await MongoRunStore(db).get(run.id)
            assert stored is not None
            assert (stored.status, stored.delivery) == (RunStatus.SUCCESS, DeliveryState.PENDING)
            index_names = set(await db["runs"].index_information())
            assert {"backend_run_id", "poll", "delivery_by_platform"} <= index_names
        finally:
            await client.close()
    finally:
        await server.stop()


async def test_server_that_dies_reports_its_stderr(tmp_path: Path) -> None:
    (tmp_path / "WiredTiger.turtle").write_text("garbage")
    (tmp_path / "WiredTiger").write_text("garbage")
    with pytest.raises(EmbeddedMongoError, match="corruption"):
        await EmbeddedMongo(tmp_path).start()


async def test_port_taken_by_another_program(tmp_path: Path) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        with pytest.raises(EmbeddedMongoError, match="already in use"):
            await EmbeddedMongo(tmp_path, port=port).start()


async def test_only_the_embedded_uri_turns_retryable_writes_off() -> None:
    """SecantusDB scans every retryable-write record it keeps on each write (bench/RESULTS.md)."""
    embedded = create_client(mongo_uri(27017))
    real = create_client("mongodb://127.0.0.1:27017/")
    try:
        assert embedded.options.retry_writes is False
        assert real.options.retry_writes is True
    finally:
        await embedded.close()
        await real.close()
