"""Discord results arrive however long the run takes, through rate limits and retries, and are
never posted twice."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from core.journal import Claim
from core.models import DeliveryState, PartState
from tests.e2e.harness import world
from tests.fakes.discord_api import FakeDiscord, StoredMessage
from tests.fakes.discord_e2e import MESSAGES, ORIGINAL, Lab, discord_bot
from tests.fakes.discord_errors import DiscordError
from tests.fakes.discord_ratelimit import CloudflareBan

PROMPT = {"prompt": "an owl", "width": 32, "height": 32}


async def test_a_run_longer_than_the_token_still_gets_its_message(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with world(mongo_uri, tmp_path) as w, FakeDiscord(clock=w.clock) as fake:
        lab = Lab.build(fake)
        async with discord_bot(w, fake) as dc:
            record = fake.slash_command("txt2img", PROMPT, channel=lab.channel, user=lab.ann)
            await dc.wait_handled(1)
            run = await dc.run_for(record)
            await dc.advance(run)
            await dc.advance(run)
            edits = len(fake.calls(ORIGINAL))
            assert edits >= 2

            w.clock.advance(14 * 60 + 30)  # the token has 30 s left: too close, edits stop
            await dc.advance(run)
            w.clock.advance(46 * 60)  # an hour in all
            await dc.advance(run)
            assert len(fake.calls(ORIGINAL)) == edits
            await dc.finish(run)

            [result] = dc.posted(lab.channel)
            assert result.mention_ids == [lab.ann.id] and len(result.filenames) == 1
            assert len(fake.calls(ORIGINAL)) == edits  # no final edit through a dead token
            stored = await dc.run_for(record)
            assert stored.delivery is DeliveryState.DELIVERED


async def test_a_refused_token_stops_the_edits_not_the_delivery(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with world(mongo_uri, tmp_path) as w, FakeDiscord(clock=w.clock) as fake:
        lab = Lab.build(fake)
        async with discord_bot(w, fake) as dc:
            record = fake.slash_command("txt2img", PROMPT, channel=lab.channel, user=lab.ann)
            await dc.wait_handled(1)
            run = await dc.run_for(record)
            fake.fail_next(ORIGINAL, error=DiscordError(401, 50027, "Invalid Webhook Token"))
            await dc.advance(run)
            await dc.advance(run)
            await dc.finish(run)
            refused = [c for c in fake.calls(ORIGINAL) if c.status == 401]
            assert len(refused) == 1 and fake.calls(ORIGINAL)[-1] is refused[0]
            assert len(dc.posted(lab.channel)) == 1


async def test_a_rate_limited_result_is_retried_and_posted_once(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with world(mongo_uri, tmp_path) as w, FakeDiscord(clock=w.clock) as fake:
        lab = Lab.build(fake)
        async with discord_bot(w, fake) as dc:
            # A short limit: discord.py waits it out and sends again.
            fake.fail_next(MESSAGES, retry_after=0.05)
            record = fake.slash_command("txt2img", PROMPT, channel=lab.channel, user=lab.ann)
            await dc.wait_handled(1)
            await dc.finish(await dc.run_for(record))
            limited, accepted = fake.calls(MESSAGES)
            assert (limited.status, accepted.status) == (429, 200)
            assert limited.body["nonce"] == accepted.body["nonce"]
            assert len(dc.posted(lab.channel)) == 1

            # A long one: given back to delivery, which tries again when Discord said.
            fake.fail_next(MESSAGES, retry_after=120)
            second = fake.slash_command("txt2img", PROMPT, channel=lab.channel, user=lab.ann)
            await dc.wait_handled(2)
            run = await dc.run_for(second)
            await dc.finish(run)
            stored = await dc.run_for(second)
            assert stored.delivery is DeliveryState.PENDING and len(dc.posted(lab.channel)) == 1
            assert stored.delivery_due_at is not None
            assert (stored.delivery_due_at - w.clock.now()).total_seconds() >= 119
            w.clock.advance(121)
            assert await dc.engine.container.delivery.deliver_due() == 1
            await dc.engine.settle()
            assert len(dc.posted(lab.channel)) == 2
            assert (await dc.run_for(second)).delivery is DeliveryState.DELIVERED


async def test_a_message_that_may_have_gone_out_is_not_posted_twice(
    mongo_uri: str, tmp_path: Path
) -> None:
    """A send whose answer was lost stays `sending` in the journal; the retry sends it again
    with the same nonce, and Discord keeps the first."""
    async with world(mongo_uri, tmp_path) as w, FakeDiscord(clock=w.clock) as fake:
        lab = Lab.build(fake)
        async with discord_bot(w, fake) as dc:
            record = fake.slash_command("txt2img", PROMPT, channel=lab.channel, user=lab.ann)
            await dc.wait_handled(1)
            run = await dc.run_for(record)
            await dc.finish(run)
            [posted] = dc.posted(lab.channel)

            store = dc.engine.container.runs_store
            now = w.clock.now()
            assert await store.redeliver(run.id, now, fresh=False)
            claim = Claim.new(now)
            assert await store.claim_delivery(run.id, now, claim)
            assert await store.set_part(run.id, claim.owner, "result", PartState.SENDING)
            assert await store.retry_delivery(run.id, claim.owner, now)

            assert await dc.engine.container.delivery.deliver_due() == 1
            await dc.engine.settle()
            first, again = fake.calls(MESSAGES)
            assert again.ok and again.body["nonce"] == first.body["nonce"]
            assert again.response["id"] == posted.data["id"]
            assert dc.posted(lab.channel) == [posted]
            stored = await dc.run_for(record)
            assert stored.delivery_parts == {"result": PartState.SENT}


async def test_a_message_created_but_answered_with_an_error_is_not_posted_again(
    mongo_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Discord took the message but the answer was an error page: the retry, later, carries
    the same nonce and gets the message that exists."""
    async with world(mongo_uri, tmp_path) as w, FakeDiscord(clock=w.clock) as fake:
        lab = Lab.build(fake)
        create = fake.messages.create
        failed: list[int] = []

        def create_then_fail(*args: Any, **kwargs: Any) -> StoredMessage:
            message = create(*args, **kwargs)
            if not message.ephemeral and not failed:
                failed.append(message.id)
                raise CloudflareBan()
            return message

        monkeypatch.setattr(fake.messages, "create", create_then_fail)
        async with discord_bot(w, fake) as dc:
            record = fake.slash_command("txt2img", PROMPT, channel=lab.channel, user=lab.ann)
            await dc.wait_handled(1)
            await dc.finish(await dc.run_for(record))
            assert (await dc.run_for(record)).delivery is DeliveryState.PENDING
            w.clock.advance(10)
            assert await dc.engine.container.delivery.deliver_due() == 1
            await dc.engine.settle()
            first, again = fake.calls(MESSAGES)
            assert (first.status, again.status) == (429, 200)
            assert again.body["nonce"] == first.body["nonce"]
            assert [m.id for m in dc.posted(lab.channel)] == failed
            assert (await dc.run_for(record)).delivery is DeliveryState.DELIVERED


async def test_a_burst_of_results_keeps_to_the_channels_bucket(
    mongo_uri: str, tmp_path: Path
) -> None:
    """discord.py reads each bucket's X-RateLimit-* headers and waits before the next request
    (https://discord.com/developers/docs/topics/rate-limits), so results finishing together
    go out at the channel's pace instead of being refused and retried later."""
    async with world(mongo_uri, tmp_path) as w, FakeDiscord(clock=w.clock) as fake:
        lab = Lab.build(fake)
        fake.set_rate_limit(MESSAGES, limit=2, per=0.2)
        async with discord_bot(w, fake) as dc:
            records = [
                fake.slash_command("txt2img", PROMPT, channel=lab.channel, user=lab.ann)
                for _ in range(6)
            ]
            await dc.wait_handled(len(records))
            runs = [await dc.run_for(record) for record in records]
            await asyncio.gather(*(w.sim.finish(r.backend_run_id or "") for r in runs))
            await dc.engine.settle()
            assert len(dc.posted(lab.channel)) == 6
            assert fake.calls(MESSAGES, ok=False) == []  # not one 429
            for record in records:
                stored = await dc.run_for(record)
                assert stored.delivery is DeliveryState.DELIVERED and stored.delivery_attempts == 0
