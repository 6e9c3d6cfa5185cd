"""REST behaviour and fault injection, through real discord.py (and raw aiohttp where shapes matter)."""

from __future__ import annotations

import asyncio
import io

import aiohttp
import discord
import pytest

from bot.fakediscord import SEND_MESSAGES, FakeDiscord, Guild, User
from bot.fakediscord.faults import Faults, TokenBucket
from tests.harness.minibot import MiniBot


def text_channel(mini: MiniBot, guild: Guild, name: str = "general") -> discord.TextChannel:
    channel = mini.get_channel(guild.channel(name).id)
    assert isinstance(channel, discord.TextChannel)
    return channel


async def test_dm_is_recorded(fake: FakeDiscord, guild: Guild, alice: User, mod: User, mini: MiniBot) -> None:
    h = await fake.slash("/dm", user=alice, guild=guild, who=mod)
    assert (await h.reply()).content == "dm sent"
    [dm] = fake.dms_to(mod)
    assert dm.content == "a kind word" and dm.channel.is_dm


async def test_closed_dms_answer_403_50007(fake: FakeDiscord, guild: Guild, alice: User, mod: User, mini: MiniBot) -> None:
    fake.faults.close_dms(mod)
    h = await fake.slash("/dm", user=alice, guild=guild, who=mod)
    assert (await h.reply()).content == "dm refused 403 50007"
    assert fake.dms_to(mod) == []
    user = await mini.fetch_user(mod.id)
    with pytest.raises(discord.Forbidden) as refused:
        await user.send("hello?")
    assert refused.value.code == 50007 and refused.value.text == "Cannot send messages to this user"


async def test_dm_to_someone_sharing_no_server_is_refused(fake: FakeDiscord, mini: MiniBot) -> None:
    stranger = fake.add_user("stranger")
    user = await mini.fetch_user(stranger.id)
    with pytest.raises(discord.Forbidden) as refused:
        await user.send("hi")
    assert refused.value.code == 50007


async def test_429_is_retried_after_retry_after(fake: FakeDiscord, guild: Guild, mini: MiniBot) -> None:
    fake.faults.rate_limit("POST /channels/{channel_id}/messages", times=1, retry_after=0.05)
    sent = await text_channel(mini, guild).send("hello")
    statuses = [r.status for r in fake.requests("POST /channels/{channel_id}/messages")]
    assert statuses == [429, 200]
    assert [m.id for m in fake.messages_in(guild.channel("general"))] == [sent.id]


async def test_429_on_interaction_callback_is_retried(fake: FakeDiscord, guild: Guild, alice: User, mini: MiniBot) -> None:
    fake.faults.rate_limit("POST /interactions/{interaction_id}/{token}/callback", times=1)
    h = await fake.slash("/ping", user=alice, guild=guild)
    assert (await h.reply()).content == "pong"
    assert [r.status for r in fake.requests("POST /interactions/{interaction_id}/{token}/callback")] == [429, 200]


async def test_429_shape(fake: FakeDiscord) -> None:
    fake.faults.rate_limit("GET /gateway", times=1, retry_after=0.25, is_global=True, scope="global")
    async with aiohttp.ClientSession() as http, http.get(f"{fake.api_base}/gateway", headers={"Authorization": f"Bot {fake.token}"}) as resp:
        body = await resp.json(content_type=None)
        assert resp.status == 429
        assert resp.headers["Content-Type"] == "application/json"
        assert resp.headers["X-RateLimit-Scope"] == "global" and resp.headers["X-RateLimit-Global"] == "true"
        assert resp.headers["Via"]
    assert body == {"message": "You are being rate limited.", "retry_after": 0.25, "global": True, "code": 0}


async def test_5xx_is_retried(fake: FakeDiscord, guild: Guild, mini: MiniBot) -> None:
    # discord.py waits 1 s before retrying a 5xx; this is the only test that pays it.
    fake.faults.server_error("POST /channels/{channel_id}/messages", times=1, status=502)
    await text_channel(mini, guild).send("hello")
    assert [r.status for r in fake.requests("POST /channels/{channel_id}/messages")] == [502, 200]


async def test_5xx_after_the_work_was_done_creates_the_message_but_answers_the_error(
        fake: FakeDiscord, guild: Guild, mini: MiniBot) -> None:
    """Discord's edge can time out after the message was created; only the nonce then prevents a second copy."""
    fake.faults.server_error("POST /channels/{channel_id}/messages", times=1, status=503, after_handling=True)
    with pytest.raises(discord.DiscordServerError):
        await text_channel(mini, guild).send("once", nonce="n-1")
    assert [m.content for m in fake.messages_in(guild.channel("general"))] == ["once"]
    await text_channel(mini, guild).send("once", nonce="n-1")  # discord.py adds enforce_nonce to a nonce
    assert [m.content for m in fake.messages_in(guild.channel("general"))] == ["once"]
    assert [r.status for r in fake.requests("POST /channels/{channel_id}/messages")] == [503, 200]


async def test_latency_delays_every_answer(fake: FakeDiscord, guild: Guild, mini: MiniBot) -> None:
    fake.latency = 0.2  # as a distant Discord would (benchmarks use it; tests keep it 0)
    loop = asyncio.get_running_loop()
    began = loop.time()
    await text_channel(mini, guild).send("far away")
    assert loop.time() - began >= 0.2
    assert [m.content for m in fake.messages_in(guild.channel("general"))] == ["far away"]


def test_token_bucket() -> None:
    now = [0.0]
    bucket = TokenBucket(10, burst=2, clock=lambda: now[0])
    assert (bucket.take(), bucket.take()) == (0.0, 0.0)
    assert bucket.take() == pytest.approx(0.1)
    now[0] = 0.1
    assert bucket.take() == 0.0


async def test_global_rate_limit_throttles_but_everything_arrives(fake: FakeDiscord, guild: Guild, mini: MiniBot) -> None:
    # 20/s with no burst: five concurrent sends cannot all fit, whatever the machine's speed.
    fake.faults.global_rate_limit(per_second=20, burst=1)
    channel = text_channel(mini, guild)
    await asyncio.gather(*(channel.send(f"m{i}") for i in range(5)))
    assert sorted(m.content for m in fake.messages_in(guild.channel("general"))) == [f"m{i}" for i in range(5)]
    assert any(r.response["global"] for r in fake.requests() if r.status == 429)


def test_random_faults_are_seeded() -> None:
    def pattern(seed: int) -> list[bool]:
        faults = Faults(seed)
        faults.random_rate_limits(0.3)
        return [faults.check("GET", "/x", "/x") is not None for _ in range(50)]

    assert pattern(1) == pattern(1)
    assert 5 < sum(pattern(1)) < 25


async def test_enforce_nonce_returns_the_existing_message(fake: FakeDiscord, guild: Guild, alice: User, mini: MiniBot) -> None:
    h = await fake.slash("/twice", user=alice, guild=guild)
    assert (await h.reply()).content == "same=True"
    [msg] = fake.messages_in(guild.channel("general"))
    assert msg.content == "exactly once" and msg.nonce == "kindred-1"
    assert msg.reactions == ["🎉"]
    assert len(fake.requests("POST /channels/{channel_id}/messages")) == 2


async def test_interaction_attachment_recorded_with_bytes(fake: FakeDiscord, guild: Guild, alice: User, mini: MiniBot) -> None:
    h = await fake.slash("/export", user=alice, guild=guild)
    reply = await h.reply()
    assert reply.ephemeral and reply.content == "your data"
    assert reply.attachment("export.json").data == b'{"moods": [3, 4]}'
    [callback] = fake.requests("POST /interactions/{interaction_id}/{token}/callback")
    assert callback.files[0].filename == "export.json" and callback.json["type"] == 4


async def test_channel_attachment_can_be_downloaded(fake: FakeDiscord, guild: Guild, mini: MiniBot) -> None:
    sent = await text_channel(mini, guild).send("chart", file=discord.File(io.BytesIO(b"\x89PNG..."), "chart.png"))
    assert fake.messages_in(guild.channel("general"))[0].attachment("chart.png").data == b"\x89PNG..."
    assert await sent.attachments[0].read() == b"\x89PNG..."


async def test_edit_fetch_and_delete_a_message(fake: FakeDiscord, guild: Guild, mini: MiniBot) -> None:
    channel = text_channel(mini, guild)
    sent = await channel.send("first", embed=discord.Embed(title="Streak", description="3 days"))
    stored = fake.messages_in(guild.channel("general"))[0]
    assert "Streak" in stored.text and "3 days" in stored.text
    await sent.edit(content="second")
    assert stored.content == "second" and stored.history[0]["content"] == "first"
    fetched = await channel.fetch_message(sent.id)
    assert fetched.content == "second" and fetched.embeds[0].title == "Streak"
    await sent.delete()
    assert fake.messages_in(guild.channel("general")) == []
    with pytest.raises(discord.NotFound):
        await channel.fetch_message(sent.id)


async def test_discord_validation_errors(fake: FakeDiscord, guild: Guild, mini: MiniBot) -> None:
    channel = text_channel(mini, guild)
    with pytest.raises(discord.HTTPException) as too_long:
        await channel.send("x" * 2001)
    assert too_long.value.code == 50035 and "2000" in str(too_long.value)
    with pytest.raises(discord.HTTPException) as empty:
        await channel.send(embeds=[])
    assert empty.value.code == 50006


async def test_missing_permissions_in_a_channel(fake: FakeDiscord, guild: Guild, mini: MiniBot) -> None:
    fake.set_overwrite(guild.channel("check-ins"), fake.bot, deny=SEND_MESSAGES)
    with pytest.raises(discord.Forbidden) as denied:
        await text_channel(mini, guild, "check-ins").send("prompt")
    assert denied.value.code == 50013


async def test_other_reads(fake: FakeDiscord, guild: Guild, alice: User, mini: MiniBot) -> None:
    channel = await mini.fetch_channel(guild.channel("general").id)
    assert channel.name == "general"  # type: ignore[union-attr]
    g = mini.get_guild(guild.id)
    assert g is not None
    member = await g.fetch_member(alice.id)
    assert member.name == "alice"
    with pytest.raises(discord.NotFound):
        await g.fetch_member(12345)


async def test_json_content_type_is_exact_and_unknown_routes_are_recorded(fake: FakeDiscord) -> None:
    headers = {"Authorization": f"Bot {fake.token}"}
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{fake.api_base}/users/@me", headers=headers) as resp:
            assert resp.headers["Content-Type"] == "application/json"
        async with http.get(f"{fake.api_base}/guilds/1/bans", headers=headers) as resp:
            assert resp.status == 404
    assert [r.path for r in fake.unhandled] == ["/guilds/1/bans"]


async def test_wait_for_fails_with_a_description(fake: FakeDiscord) -> None:
    with pytest.raises(TimeoutError, match="the impossible"):
        await fake.wait_for(lambda: False, timeout=0.01, what="the impossible")
