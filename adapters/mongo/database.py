"""Client construction and the one place every index is declared."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

Document = dict[str, Any]
Client = AsyncMongoClient[Document]
Database = AsyncDatabase[Document]
Collection = AsyncCollection[Document]

RUNS = "runs"
USERS = "users"
KV = "kv"
CATALOG = "catalog_snapshot"
ACCOUNTS = "accounts"
LEDGER = "ledger"
DEPLOYMENT_SLOTS = "deployment_slots"
RATE_WINDOWS = "rate_windows"
PAYMENTS = "payments"
API_KEYS = "api_keys"
API_REQUESTS = "api_requests"
API_IDEMPOTENCY = "api_idempotency"
UPLOADS = "uploads"
UPLOAD_CHUNKS = "upload_chunks"
WAITING_INDEX = "waiting"
"""Runs waiting for a slot, oldest first (named: the queue asks for it by name)."""
LEASES = "leases"
UPDATES = "inbound_updates"


def create_client(
    uri: str,
    *,
    server_selection_timeout_ms: int = 10_000,
    connect_timeout_ms: int = 5_000,
    socket_timeout_ms: int = 30_000,
) -> Client:
    """A client whose every call is bounded in time and whose dates come back tz-aware UTC."""
    return AsyncMongoClient(
        uri,
        serverSelectionTimeoutMS=server_selection_timeout_ms,
        connectTimeoutMS=connect_timeout_ms,
        socketTimeoutMS=socket_timeout_ms,
        tz_aware=True,
        tzinfo=UTC,
    )


async def ensure_indexes(db: Database) -> None:
    """Create every index the stores rely on (idempotent; run at start-up)."""
    await db[RUNS].create_indexes(
        [
            IndexModel(
                [("backend_run_id", ASCENDING)],
                name="backend_run_id",
                unique=True,
                partialFilterExpression={"backend_run_id": {"$type": "string"}},
            ),
            IndexModel(
                [("origin", ASCENDING)],
                name="origin",
                unique=True,
                partialFilterExpression={"origin": {"$type": "string"}},
            ),
            # The embedded server plans no query on a partial index: `by_origin` (every command
            # that starts a run) would scan the collection. Runs without an origin lack the
            # field, so a sparse index holds exactly the same keys and is used.
            IndexModel([("origin", ASCENDING)], name="origin_lookup", sparse=True),
            IndexModel([("status_rank", ASCENDING), ("next_poll_at", ASCENDING)], name="poll"),
            IndexModel(
                [
                    ("delivery", ASCENDING),
                    ("chat.platform", ASCENDING),
                    ("delivery_due_at", ASCENDING),
                ],
                name="delivery_by_platform",
            ),
            IndexModel([("created_at", DESCENDING)], name="created_at"),
            IndexModel(
                [("created_at", ASCENDING)],
                name=WAITING_INDEX,
                partialFilterExpression={"status": "pending"},
            ),
            IndexModel(
                [("workflow", ASCENDING), ("status", ASCENDING), ("ended_at", DESCENDING)],
                name="workflow_outcomes",
            ),
            IndexModel(
                [
                    ("chat.platform", ASCENDING),
                    ("chat.user_id", ASCENDING),
                    ("created_at", DESCENDING),
                ],
                name="user_created_at",
            ),
        ]
    )
    await db[USERS].create_indexes(
        [IndexModel([("platform", ASCENDING), ("username_lower", ASCENDING)], name="username")]
    )
    await db[ACCOUNTS].create_indexes(
        [
            IndexModel([("active.at", ASCENDING)], name="active_at"),
            IndexModel([("running.at", ASCENDING)], name="running_at"),
            IndexModel([("journal.at", ASCENDING)], name="journal_at"),
        ]
    )
    await db[LEDGER].create_indexes(
        [IndexModel([("user", ASCENDING), ("at", DESCENDING)], name="user_at")]
    )
    await db[DEPLOYMENT_SLOTS].create_indexes(
        [
            IndexModel([("running.run", ASCENDING)], name="running_run"),
            IndexModel([("running.at", ASCENDING)], name="running_at"),
        ]
    )
    await db[RATE_WINDOWS].create_indexes(
        [IndexModel([("expires_at", ASCENDING)], name="expires", expireAfterSeconds=0)]
    )
    await db[PAYMENTS].create_indexes(
        [IndexModel([("user", ASCENDING), ("at", DESCENDING)], name="user_at")]
    )
    await db[API_KEYS].create_indexes(
        [
            IndexModel(
                [("name", ASCENDING)],
                name="active_name",
                unique=True,
                partialFilterExpression={"active": True},
            )
        ]
    )
    await db[API_IDEMPOTENCY].create_indexes(
        [IndexModel([("expires_at", ASCENDING)], name="expires", expireAfterSeconds=0)]
    )
    await db[UPLOADS].create_indexes(
        [IndexModel([("expires_at", ASCENDING)], name="expires", expireAfterSeconds=0)]
    )
    await db[UPLOAD_CHUNKS].create_indexes(
        [
            IndexModel([("expires_at", ASCENDING)], name="expires", expireAfterSeconds=0),
            IndexModel([("upload", ASCENDING), ("n", ASCENDING)], name="upload_n"),
        ]
    )
    await db[UPDATES].create_indexes(
        [
            IndexModel([("chat", ASCENDING), ("seq", ASCENDING)], name="chat_seq"),
            IndexModel([("state", ASCENDING), ("until", ASCENDING)], name="state_until"),
            IndexModel([("expires_at", ASCENDING)], name="expires", expireAfterSeconds=0),
        ]
    )
    # `kv`, `catalog_snapshot`, `api_requests` and `leases` are keyed by `_id` (always indexed).


async def open_database(uri: str, name: str, timeout_s: float = 10.0) -> tuple[Client, Database]:
    """Connect, check the server answers (within `timeout_s`), and ensure indexes. The caller
    closes the client."""
    client = create_client(uri, server_selection_timeout_ms=int(timeout_s * 1000))
    try:
        db = client[name]
        await db.command("ping")
        await ensure_indexes(db)
    except BaseException:
        await client.close()
        raise
    return client, db
