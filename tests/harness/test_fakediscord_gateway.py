"""Gateway behaviour: IDENTIFY/READY/GUILD_CREATE, intents, RESUME after outages, invalid sessions."""

from __future__ import annotations

import discord
import pytest

from bot.fakediscord import FakeDiscord, Guild, User
from tests.harness.minibot import MiniBot, running


async def test_identify_ready_and_guild_create(fake: FakeDiscord, guild: Guild, mini: MiniBot) -> None:
    identify = fake.gateway.received(2)
    assert len(identify) == 1 and identify[0].data["intents"] == discord.Intents.default().value
    assert identify[0].data["token"] == "<redacted>"
    ready = fake.gateway.sent("READY")[0].data
    assert ready["resume_gateway_url"].startswith("ws://127.0.0.1:")
    assert mini.application_id == fake.application_id and mini.user is not None and mini.user.id == fake.bot.id

    [g] = mini.guilds
    assert (g.id, g.name) == (guild.id, "Circle")
    assert [c.name for c in g.text_channels] == ["general", "check-ins"]
    assert {r.name for r in g.roles} == {"@everyone", "Kindred", "Moderators"}
    assert g.me.guild_permissions.send_messages and not g.me.guild_permissions.manage_guild
    assert g.get_role(guild.role("Moderators").id).permissions.manage_guild  # type: ignore[union-attr]
    assert len(g.members) == 1  # no members intent: only the bot itself, as on Discord


async def test_heartbeats_are_acknowledged(fake: FakeDiscord, mini: MiniBot) -> None:
    await fake.wait_for(lambda: fake.gateway.received(1) and [r for r in fake.gateway.log if r.op == 11])
    assert mini.latency < 5


async def test_member_message_without_content_intent_arrives_empty(fake: FakeDiscord, guild: Guild, alice: User, mini: MiniBot) -> None:
    general = guild.channel("general")
    plain = await fake.say(general, "just chatting", user=alice)
    mention = await fake.say(general, f"{fake.bot.mention} hello", user=alice)
    await fake.wait_for(lambda: len(mini.seen) == 2)
    assert [m.id for m in mini.seen] == [plain.id, mention.id]
    assert mini.seen[0].content == ""  # no MESSAGE_CONTENT intent
    assert mini.seen[1].content.endswith("hello")  # mentioning the bot exempts the message
    assert mini.seen[0].author.id == alice.id and mini.seen[0].guild is not None


async def test_member_message_with_content_intent(fake: FakeDiscord, guild: Guild, alice: User) -> None:
    intents = discord.Intents.default()
    intents.message_content = True
    async with running(fake, intents=intents) as client:
        await fake.say(guild.channel("general"), "I don't want to be here", user=alice)
        await fake.wait_for(lambda: client.seen)
        assert client.seen[0].content == "I don't want to be here"


async def test_no_message_events_without_guild_messages_intent(fake: FakeDiscord, guild: Guild, alice: User) -> None:
    async with running(fake, intents=discord.Intents(guilds=True)) as client:
        await fake.say(guild.channel("general"), "hello", user=alice)
        h = await fake.slash("/ping", user=alice, guild=guild)
        await h.reply()  # later events arrived, so the message event was not sent
        assert client.seen == []
        assert fake.gateway.sent("MESSAGE_CREATE") == []


@pytest.mark.parametrize("how", ["reconnect", "close", "abort"])
async def test_outage_resumes_and_replays_missed_events(fake: FakeDiscord, guild: Guild, alice: User, mini: MiniBot, how: str) -> None:
    async with fake.outage(how):
        missed_command = await fake.slash("/ping", user=alice, guild=guild)
        missed_message = await fake.say(guild.channel("general"), "while you were away", user=alice)
    assert (await missed_command.reply()).content == "pong"
    await fake.wait_for(lambda: any(m.id == missed_message.id for m in mini.seen))
    assert len(fake.gateway.received(6)) == 1  # RESUME
    assert len(fake.gateway.received(2)) == 1  # no second IDENTIFY
    assert mini.resumed.is_set()
    after = await fake.slash("/ping", user=alice, guild=guild)
    assert (await after.reply()).content == "pong"


async def test_invalid_session_makes_the_client_identify_again(fake: FakeDiscord, guild: Guild, alice: User, mini: MiniBot) -> None:
    fake.gateway.sessions.clear()  # the server forgot the session: RESUME gets op 9
    await fake.gateway.close_connections(4000)
    await fake.wait_for(lambda: len(fake.gateway.sent("READY")) == 2, what="a second READY")
    assert [r.data for r in fake.gateway.log if r.op == 9] == [False]
    await mini.wait_until_ready()
    h = await fake.slash("/ping", user=alice, guild=guild)
    assert (await h.reply()).content == "pong"


async def test_uncompressed_text_frames(guild: Guild) -> None:
    async with FakeDiscord(compress=False) as fake:
        g = fake.add_guild("Plain")
        bob = fake.add_user("bob")
        fake.add_member(g, bob)
        async with running(fake):
            h = await fake.slash("/ping", user=bob, guild=g)
            assert (await h.reply()).content == "pong"


async def test_wrong_token_is_refused(fake: FakeDiscord, guild: Guild) -> None:
    from bot.fakediscord import discord_endpoints

    with discord_endpoints(fake.api_base, fake.gateway_url):
        client = discord.Client(intents=discord.Intents.none())
        with pytest.raises(discord.LoginFailure):
            await client.login("not-the-token")
        await client.close()


async def test_server_heartbeat_requests_are_answered(fake: FakeDiscord, mini: MiniBot) -> None:
    """With `server_heartbeat_s`, the fake asks for heartbeats itself (op 1) and the client answers each.

    A process on a fast-forwarded clock (libfaketime) never wakes discord.py's heartbeat thread, so
    the server must keep the connection's traffic flowing for it.
    """
    before = len(fake.gateway.received(1))
    fake.gateway.server_heartbeat_s = 0.02
    await fake.reconnect()  # the new connection starts the server's own heartbeat requests
    await fake.wait_for(lambda: len([r for r in fake.gateway.log if r.direction == "send" and r.op == 1]) >= 3,
                        what="three heartbeat requests from the server")
    await fake.wait_for(lambda: len(fake.gateway.received(1)) >= before + 3, what="the client's answers")
