"""Sharding: GET /gateway/bot's shard count, and IDENTIFY with `shard: [id, count]` seeing only that shard."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import discord

from bot.app import cancel_ready_wait
from bot.fakediscord import FakeDiscord, Guild, User, discord_endpoints


class ShardedMiniBot(discord.AutoShardedClient):
    """The minimal client, sharded: records the messages it sees."""

    def __init__(self, **options: object) -> None:
        super().__init__(intents=discord.Intents.default(), guild_ready_timeout=0.05, **options)  # type: ignore[arg-type]
        self.seen: list[discord.Message] = []

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """Skip discord.py's 5 s pause between shards' IDENTIFYs (the fake has no identify limit)."""

    async def on_message(self, message: discord.Message) -> None:
        self.seen.append(message)


@asynccontextmanager
async def sharded(fake: FakeDiscord, **options: object) -> AsyncIterator[ShardedMiniBot]:
    with discord_endpoints(fake.api_base, fake.gateway_url):
        client = ShardedMiniBot(**options)
        async with client:
            task = asyncio.create_task(client.start(fake.token), name="sharded-minibot")
            try:
                await asyncio.wait_for(client.wait_until_ready(), 10)
                yield client
            finally:
                await client.close()
                cancel_ready_wait(client)
                await asyncio.wait_for(task, 10)


def four_shard_guilds(fake: FakeDiscord) -> list[Guild]:
    return [fake.add_guild(f"Circle {n}", shard=(n % 4, 4)) for n in range(8)]


async def test_gateway_bot_recommends_the_configured_shard_count(fake: FakeDiscord) -> None:
    fake.shard_count = 4
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{fake.api_base}/gateway/bot", headers={"Authorization": f"Bot {fake.token}"}) as answer:
            assert (await answer.json())["shards"] == 4


async def test_a_guild_can_be_made_on_a_chosen_shard(fake: FakeDiscord) -> None:
    guilds = four_shard_guilds(fake)
    assert [(g.id >> 22) % 4 for g in guilds] == [0, 1, 2, 3] * 2
    assert [g.id for g in guilds] == sorted(g.id for g in guilds)


async def test_a_client_asking_for_the_recommended_count_runs_every_shard(fake: FakeDiscord) -> None:
    fake.shard_count = 4
    guilds = four_shard_guilds(fake)
    async with sharded(fake) as client:
        assert client.shard_count == 4
        assert {g.id for g in client.guilds} == {g.id for g in guilds}
        identified = sorted(tuple(r.data["shard"]) for r in fake.gateway.received(2))
        assert identified == [(0, 4), (1, 4), (2, 4), (3, 4)]


async def test_identify_with_a_shard_delivers_only_that_shard_s_guilds_and_events(fake: FakeDiscord, alice: User) -> None:
    guilds = four_shard_guilds(fake)
    for g in guilds:
        fake.add_member(g, alice)
    async with sharded(fake, shard_ids=[1, 3], shard_count=4) as client:
        mine = {g for g in fake.world.guilds if (g >> 22) % 4 in (1, 3)}  # with alice's own "Circle"
        assert {g.id for g in client.guilds} == mine
        assert {tuple(r.data["shard"]) for r in fake.gateway.received(2)} == {(1, 4), (3, 4)}
        created = {int(r.data["id"]) for r in fake.gateway.sent("GUILD_CREATE")}
        assert created == mine
        for g in guilds:
            await fake.say(g.channel("general"), f"{fake.bot.mention} hi from {g.id}", user=alice)
        last = guilds[-1] if guilds[-1].id in mine else guilds[-3]
        await fake.wait_for(lambda: any(m.guild is not None and m.guild.id == last.id for m in client.seen))
        assert {m.guild.id for m in client.seen if m.guild is not None} == {g.id for g in guilds if g.id in mine}
        # Each message came through its server's shard's session, once.
        assert len(client.seen) == len([g for g in guilds if g.id in mine])


async def test_a_guild_joined_later_reaches_its_shard_s_session_only(fake: FakeDiscord) -> None:
    async with sharded(fake, shard_ids=[0], shard_count=2) as client:
        theirs = fake.add_guild("Elsewhere", shard=(1, 2))
        await fake.join_guild(theirs)
        ours = fake.add_guild("Here", shard=(0, 2))
        await fake.join_guild(ours)
        await fake.wait_for(lambda: client.get_guild(ours.id) is not None)
        assert client.get_guild(theirs.id) is None


async def test_an_invalid_shard_is_refused(fake: FakeDiscord) -> None:
    async with aiohttp.ClientSession() as http, http.ws_connect(fake.gateway_url) as ws:
        await ws.receive()  # HELLO
        await ws.send_json({"op": 2, "d": {"token": fake.token, "intents": 1, "shard": [4, 4], "properties": {}}})
        closed = await ws.receive()
        assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
        assert ws.close_code == 4010
