"""The HTTP API's stores: keys (one active per name, revoked once), requests and their
idempotency keys (the first claim holds until it expires, the first result stays), and uploads
(read back whole, across chunks; another id finds nothing)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from core.api_keys import ApiKeyStore, issue_key
from core.api_requests import (
    ApiFile,
    ApiRequest,
    ApiRequestStore,
    ApiResult,
    IdempotencyClaim,
)
from core.models import OutputKind
from core.uploads import Upload, UploadStore, new_upload_id

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)


async def test_one_active_key_per_name_revoked_once(api_key_store: ApiKeyStore) -> None:
    first = issue_key("ops", NOW)
    assert await api_key_store.add(first.key)
    assert not await api_key_store.add(issue_key("ops", NOW).key)
    assert await api_key_store.get(first.key.id) == first.key
    revoked = await api_key_store.revoke("ops", NOW + DAY)
    assert revoked is not None and revoked.revoked_at == NOW + DAY
    assert await api_key_store.revoke("ops", NOW + DAY) is None
    stored = await api_key_store.get(first.key.id)
    assert stored is not None and stored.revoked_at == NOW + DAY
    second = issue_key("ops", NOW + 2 * DAY)
    assert await api_key_store.add(second.key)  # the name is free again
    assert [key.id for key in await api_key_store.all()] == [first.key.id, second.key.id]
    assert await api_key_store.get("000000000000") is None


async def test_an_idempotency_key_holds_its_first_claim_until_it_expires(
    api_request_store: ApiRequestStore,
) -> None:
    mine = IdempotencyClaim("api:one", "body-a")
    claims = await asyncio.gather(
        *(
            api_request_store.claim_key(
                "k:1", IdempotencyClaim(f"api:{n}", "body-a"), NOW, NOW + DAY
            )
            for n in range(5)
        )
    )
    assert len(set(claims)) == 1
    assert await api_request_store.claim_key("k:2", mine, NOW, NOW + DAY) == mine
    later = IdempotencyClaim("api:two", "body-b")
    assert await api_request_store.claim_key("k:2", later, NOW + DAY / 2, NOW + DAY) == mine
    expired = NOW + DAY + timedelta(seconds=1)
    assert await api_request_store.claim_key("k:2", later, expired, expired + DAY) == later


async def test_a_request_keeps_its_first_result(api_request_store: ApiRequestStore) -> None:
    request = ApiRequest(
        origin="api:r1", key_id="k1", callback_url="https://x.test/cb", created_at=NOW
    )
    await asyncio.gather(api_request_store.remember(request), api_request_store.remember(request))
    assert await api_request_store.get("api:r1") == request
    file = ApiFile(
        kind=OutputKind.IMAGE, filename="a.png", mime="image/png", size=3, saved="r/a.png"
    )
    first = ApiResult(files=(file,), texts=("hi",), balance=250, recorded_at=NOW)
    await api_request_store.record_result("api:r1", first)
    await api_request_store.record_result("api:r1", first.model_copy(update={"texts": ()}))
    stored = await api_request_store.get("api:r1")
    assert stored is not None and stored.result == first
    assert await api_request_store.results(["api:r1", "api:none"]) == {"api:r1": first}
    assert await api_request_store.get("api:none") is None


async def test_an_upload_is_read_back_whole(upload_store: UploadStore) -> None:
    data = bytes(range(256)) * 9000  # over two chunks
    upload = Upload(
        id=new_upload_id(),
        owner="api:ops",
        filename="x.png",
        mime="image/png",
        size=len(data),
        width=1,
        height=1,
        created_at=NOW,
        expires_at=NOW + DAY,
    )
    await upload_store.save(upload, data)
    assert await upload_store.get(upload.id) == upload
    assert await upload_store.data(upload.id) == data
    assert await upload_store.get(new_upload_id()) is None
    assert await upload_store.data(new_upload_id()) is None
