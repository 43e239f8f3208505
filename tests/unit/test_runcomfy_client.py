"""The RunComfy client and backend against the fake Serverless API: errors that come with HTTP
200, retries that honour Retry-After, a queueing that may have happened, the token kept out of
every message."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from adapters.runcomfy import RunComfyBackend, RunComfyClient
from core.errors import BackendError, BackendUnavailable, OutcomeUnknown, RunNotFound
from core.ports import RunAddress
from tests.fakes.runcomfy_api import FakeRunComfy
from tests.fakes.runcomfy_catalog import DISABLED_DEPLOYMENT_ID, TXT2IMG_DEPLOYMENT_ID


@pytest.fixture
async def rc() -> AsyncIterator[FakeRunComfy]:
    async with FakeRunComfy(cancel_running="refuse") as fake:
        yield fake


@pytest.fixture
async def waits() -> list[float]:
    return []


@pytest.fixture
async def client(rc: FakeRunComfy, waits: list[float]) -> AsyncIterator[RunComfyClient]:
    async def record(seconds: float) -> None:
        waits.append(seconds)

    api = RunComfyClient(rc.base_url, rc.api_key, timeout_s=5, sleep=record)
    yield api
    await api.close()


PROMPT = {"6": {"inputs": {"text": "a fox"}}}


async def test_an_error_code_in_a_200_is_an_error(
    rc: FakeRunComfy, client: RunComfyClient
) -> None:
    rid = await client.submit(TXT2IMG_DEPLOYMENT_ID, PROMPT, None)
    rc.faults.error_code_next("status", 500001, "Internal Error")
    status = await client.status(TXT2IMG_DEPLOYMENT_ID, rid)  # retried like a 500
    assert status["status"] == "in_queue"
    with pytest.raises(BackendUnavailable) as off:
        await client.submit(DISABLED_DEPLOYMENT_ID, PROMPT, None)
    assert off.value.notice == "submit.disabled"
    rc.faults.error_code_next("inference", 10001, "InsufficientFunds")
    with pytest.raises(BackendUnavailable) as broke:
        await client.submit(TXT2IMG_DEPLOYMENT_ID, PROMPT, None)
    assert broke.value.notice == "submit.no_credits"
    assert len(rc.requests.all()) == 1


async def test_retry_after_is_honoured_up_to_a_limit(
    rc: FakeRunComfy, client: RunComfyClient, waits: list[float]
) -> None:
    rc.faults.fail_next("status", 429, count=2, retry_after=4)
    rid = await client.submit(TXT2IMG_DEPLOYMENT_ID, PROMPT, None)
    await client.status(TXT2IMG_DEPLOYMENT_ID, rid)
    assert waits == [4.0, 4.0]
    rc.faults.fail_next("inference", 429, retry_after=60)  # too long to keep a chat waiting
    with pytest.raises(BackendUnavailable) as busy:
        await client.submit(TXT2IMG_DEPLOYMENT_ID, PROMPT, None)
    assert busy.value.notice == "submit.busy" and waits == [4.0, 4.0]


async def test_a_refused_body_and_unknown_requests(
    rc: FakeRunComfy, client: RunComfyClient
) -> None:
    with pytest.raises(BackendError) as refused:
        await client.submit(TXT2IMG_DEPLOYMENT_ID, {"99": {"inputs": {"text": "x"}}}, None)
    assert not refused.value.retryable and "node 99 does not exist" in str(refused.value)
    for read in (client.status, client.result, client.cancel):
        with pytest.raises(RunNotFound):
            await read(TXT2IMG_DEPLOYMENT_ID, "00000000-0000-4000-8000-00000000beef")


async def test_no_answer_to_a_queueing_is_an_unknown_outcome(rc: FakeRunComfy) -> None:
    gate = rc.faults.hold("inference")
    client = RunComfyClient(rc.base_url, rc.api_key, timeout_s=0.2)
    try:
        with pytest.raises(OutcomeUnknown):
            await client.submit(TXT2IMG_DEPLOYMENT_ID, PROMPT, None)
        gate.set()
        await asyncio.sleep(0)
        assert rc.faults.hits["inference"] == 1  # never sent again
    finally:
        await client.close()


async def test_the_token_stays_out_of_messages(rc: FakeRunComfy) -> None:
    wrong = RunComfyClient(rc.base_url, "secret-wrong-token", timeout_s=5)
    try:
        with pytest.raises(BackendUnavailable) as refused:
            await wrong.check_access()
        assert refused.value.status == 401 and "secret-wrong-token" not in str(refused.value)
        assert not await wrong.ping()
    finally:
        await wrong.close()


async def test_a_running_request_that_cannot_be_cancelled_says_so(
    rc: FakeRunComfy, client: RunComfyClient
) -> None:
    backend = RunComfyBackend(client)
    rid = await client.submit(TXT2IMG_DEPLOYMENT_ID, PROMPT, None)
    await rc.advance(rid)
    with pytest.raises(BackendError, match="not cancellable"):
        await backend.cancel(RunAddress(TXT2IMG_DEPLOYMENT_ID, rid))
    assert rc.request(rid).phase == "in_progress"
