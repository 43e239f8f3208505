"""Two bot processes with Discord on one database: only the holder of the gateway lease opens
a gateway session (so only it gets interactions); handing the lease over closes its session
and the other opens one; results are posted over REST by whichever process ends the run."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.harness import world
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.discord_e2e import Lab, discord_bot

GATEWAY = "discord:gateway"
OPTIONS = {"prompt": "a red fox", "width": 32, "height": 32}


async def test_only_the_lease_holder_holds_the_gateway_and_either_posts_results(
    mongo_uri: str, tmp_path: Path
) -> None:
    async with world(mongo_uri, tmp_path) as w, FakeDiscord(clock=w.clock) as fake:
        lab = Lab.build(fake)
        async with (
            w.engine() as one,
            w.engine(http=False) as two,
            discord_bot(w, fake, engine=one, connect=False) as a,
            discord_bot(w, fake, engine=two, connect=False) as b,
        ):
            keepers = []
            for bot in (a, b):
                keeper = bot.engine.container.lease(GATEWAY)
                keeper.when_gained(bot.adapter.connect_gateway)
                keeper.when_lost(bot.adapter.disconnect_gateway)
                keepers.append(keeper)
            for keeper in keepers:
                await keeper.beat()
            assert [k.held for k in keepers] == [True, False]
            await fake.wait_for(lambda: fake.gateway.live, within=10)
            assert fake.gateway.identifies == 1

            record = fake.slash_command("txt2img", OPTIONS, channel=lab.channel, user=lab.ann)
            await a.wait_handled(1)
            run = await a.run_for(record)
            assert b.chat.handled == []  # b has no session: nothing reaches it

            await keepers[0].release()  # a stops: its session ends, the lease is free
            assert fake.gateway.live is None
            await keepers[1].beat()
            assert keepers[1].held
            await fake.wait_for(lambda: fake.gateway.live, within=10)
            assert fake.gateway.identifies == 2  # a new session, not a's resumed

            await a.finish(run)  # a, without a gateway, posts the result over REST
            [result] = a.posted(lab.channel)
            assert result.filenames and result.mention_ids == [lab.ann.id]

            again = fake.slash_command("txt2img", OPTIONS, channel=lab.channel, user=lab.ann)
            await b.wait_handled(1)
            assert (await b.run_for(again)).id != run.id
            assert len(a.chat.handled) == 1
