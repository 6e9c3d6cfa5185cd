"""Crisis resources and safety end to end: /crisis, /alertmods, passive detection and alert buttons.

The real bot and discord.py against the loopback Discord server, with the message-content
intent on (as `[crisis] detection_intent = true` asks for).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import sqlite3
import threading
from datetime import timedelta

import pytest

from bot.app import KindredBot
from bot.config import Config
from bot.domain.clock import FakeClock
from bot.fakediscord import FakeDiscord, Message, Role, User
from tests.e2e.helpers import Community, build_community, running_kindred

TIER3 = "I have the pills ready and I'm going to do it tonight"
TIER2 = "honestly I just want to die"
IDIOM = "this boss is killing me lol"
SHAME_WORDS = ("failed", "lost", "reset")


@pytest.fixture
def kindred_config(kindred_config: Config) -> Config:
    return dataclasses.replace(kindred_config, crisis=dataclasses.replace(kindred_config.crisis, detection_intent=True))


@pytest.fixture
def community(fake_discord: FakeDiscord) -> Community:
    """The default community plus a "Responders" role held by carol (no Manage Server)."""
    built = build_community(fake_discord)
    responders = fake_discord.add_role(built.guild, "Responders")
    fake_discord.add_member(built.guild, fake_discord.add_user("carol"), roles=[responders])
    return built


def carol(community: Community) -> User:
    return next(m.user for m in community.guild.members.values() if m.user.name == "carol")


def responders(community: Community) -> Role:
    return community.guild.role("Responders")


async def run(fake: FakeDiscord, community: Community, command: str, user: User, **options: object) -> Message:
    """Run a slash command in the server; return its reply, which must be private and kind."""
    handle = await fake.slash(command, user=user, guild=community.guild, options=dict(options))
    reply = await handle.reply()
    assert reply.ephemeral, f"{command} replied publicly: {reply.content}"
    for word in SHAME_WORDS:
        assert word not in reply.text.lower(), reply.text
    return reply


async def crisis(fake: FakeDiscord, user: User, guild: object = None, **options: object) -> Message:
    handle = await fake.slash("/crisis", user=user, guild=guild, options=dict(options))  # type: ignore[arg-type]
    reply = await handle.reply()
    assert reply.ephemeral
    return reply


async def enable_detection(fake: FakeDiscord, community: Community, *, role: bool = True,
                           **crisis_options: str) -> None:
    options: dict[str, object] = {"channel": community.alerts}
    if role:
        options["role"] = responders(community)
    await run(fake, community, "/config alerts", community.mod, **options)
    await run(fake, community, "/config crisis", community.mod, detection="on", region="GB", **crisis_options)


def alerts(fake: FakeDiscord, community: Community) -> list[Message]:
    return fake.messages_in(community.alerts)


async def wait_alerts(fake: FakeDiscord, community: Community, count: int) -> list[Message]:
    return await fake.wait_for(lambda: len(alerts(fake, community)) >= count and alerts(fake, community),
                               what=f"{count} alert(s)")


def alert_id_of(alert: Message) -> int:
    return int(alert.custom_ids[0].rsplit(":", 1)[1])


async def row(bot: KindredBot, alert_id: int) -> sqlite3.Row:
    found = await bot.services.db.fetch_one("SELECT * FROM crisis_alerts WHERE alert_id = ?", (alert_id,))
    assert found is not None
    return found


# -- /crisis ---------------------------------------------------------------------------------


async def test_commands_have_the_spec_names(fake_discord: FakeDiscord, kindred: KindredBot) -> None:
    commands = {c["name"]: c for c in fake_discord.commands()}
    crisis_cmd = commands["crisis"]
    assert [(o["name"], o.get("required", False), o.get("autocomplete")) for o in crisis_cmd["options"]] == [
        ("country", False, True)]
    assert 0 in crisis_cmd["contexts"] and 1 in crisis_cmd["contexts"]  # servers and DMs
    assert [(o["name"], o.get("required", False)) for o in commands["alertmods"]["options"]] == [("message", False)]
    config = {o["name"]: o for o in commands["config"]["options"]}
    resources = {o["name"]: [p["name"] for p in o["options"]] for o in config["resources"]["options"]}
    assert resources == {"add": ["country", "name", "contact"], "remove": ["name"]}
    assert [o["name"] for o in config["crisis"]["options"]] == ["detection", "region", "public-nudge", "tier1-replies"]


@pytest.mark.parametrize(("country", "must_contain", "order"), [
    ("GB", ("999", "116 123", "Samaritans"), ("116 123", "999")),
    ("US", ("911", "988"), ("988", "911")),
    ("AU", ("000", "13 11 14", "Lifeline"), ("13 11 14", "000")),
    ("IN", ("112", "14416"), ("14416", "112")),
    ("BR", ("192", "188"), ("188", "192")),
])
async def test_crisis_for_a_country(fake_discord: FakeDiscord, community: Community, kindred: KindredBot,
                                    country: str, must_contain: tuple[str, ...], order: tuple[str, str]) -> None:
    reply = await crisis(fake_discord, community.alice, community.guild, country=country)
    for text in must_contain:
        assert text in reply.content, (country, text, reply.content)
    # The crisis line comes before the emergency number for /crisis (guidance: emergency first
    # only for imminent risk and overdose), and at most three resources come before "more".
    resource_lines = [line for line in reply.content.splitlines() if line.startswith("**")]
    assert 2 <= len(resource_lines) <= 3, reply.content

    def position(text: str) -> int:
        return next(i for i, line in enumerate(resource_lines) if text in line)

    assert position(order[0]) < position(order[1]), reply.content


async def test_crisis_more_options_unknown_countries_and_autocomplete(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot) -> None:
    gb = await crisis(fake_discord, community.alice, community.guild, country="United Kingdom")
    assert "116 123" in gb.content
    assert gb.embeds and gb.embeds[0]["title"] == "More options" and "85258" in gb.embeds[0]["description"]

    for typed, note in (("Narnia", "couldn't find that country"), ("Kenya", "don't have checked numbers")):
        reply = await crisis(fake_discord, community.alice, community.guild, country=typed)
        assert note in reply.content
        assert "findahelpline.com" in reply.content and "your local emergency number" in reply.content

    choices = await fake_discord.autocomplete("/crisis", "country", "aus", user=community.alice, guild=community.guild)
    assert choices[0]["value"] == "AU"


async def test_turning_detection_on_says_how_well_it_works(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot) -> None:
    await run(fake_discord, community, "/config alerts", community.mod, channel=community.alerts)
    reply = await run(fake_discord, community, "/config crisis", community.mod, detection="on")
    measured = kindred.services.crisis.detector.measured
    assert measured is not None
    assert f"{measured.tier3_recall:.0%}" in reply.content and f"{measured.false_alarms:.0%}" in reply.content
    assert "supplement to people, never a net" in reply.content
    off = await run(fake_discord, community, "/config crisis", community.mod, detection="off")
    assert "supplement" not in off.content


async def test_crisis_follows_the_member_then_the_server_and_works_in_dms(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot) -> None:
    worldwide = await crisis(fake_discord, community.alice, community.guild)
    assert "findahelpline.com" in worldwide.content and "your local emergency number" in worldwide.content

    await run(fake_discord, community, "/config crisis", community.mod, detection="off", region="AU")
    server = await crisis(fake_discord, community.alice, community.guild)
    assert "13 11 14" in server.content and "000" in server.content

    await run(fake_discord, community, "/settings region", community.alice, country="US")
    own = await crisis(fake_discord, community.alice, community.guild)
    assert "988" in own.content and "911" in own.content

    in_dm = await crisis(fake_discord, community.alice)  # no guild: the member's DM with the bot
    assert "988" in in_dm.content
    stranger = fake_discord.add_user("stranger")
    fake_discord.add_member(community.guild, stranger)
    dm_worldwide = await crisis(fake_discord, stranger)
    assert "findahelpline.com" in dm_worldwide.content
    dm_gb = await crisis(fake_discord, stranger, country="GB")
    assert "999" in dm_gb.content and "116 123" in dm_gb.content


async def test_server_resources_are_added_to_crisis(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot) -> None:
    added = await run(fake_discord, community, "/config resources add", community.mod,
                      country="GB", name="Circle warmline", contact="0800 123 4567")
    assert "Circle warmline" in added.content
    stale = await run(fake_discord, community, "/config resources add", community.mod,
                      country="GB", name="Old Samaritans", contact="08457 90 90 90")
    assert "no longer works" in stale.content
    bad = await run(fake_discord, community, "/config resources add", community.mod,
                    country="GB", name="Nothing", contact="call us!")
    assert "phone number" in bad.content
    for contact, says in (("+44 12", "isn't a complete phone number"), ("http://example.org/help", "https://"),
                          ("https://example.org/[help](https://evil.example)", "just the address")):
        refused = await run(fake_discord, community, "/config resources add", community.mod,  # ephemeral
                            country="GB", name="Not this one", contact=contact)
        assert says in refused.content and "Nothing has changed" in refused.content

    gb = await crisis(fake_discord, community.alice, community.guild, country="GB")
    more = gb.embeds[0]["description"]
    assert "Circle warmline" in more and "0800 123 4567" in more and "Added by this server's moderators" in more
    assert "Old Samaritans" not in gb.text and "Not this one" not in gb.text
    us = await crisis(fake_discord, community.alice, community.guild, country="US")
    assert "Circle warmline" not in us.text  # a UK resource is not offered for the US

    show = await run(fake_discord, community, "/config show", community.mod)
    assert "Circle warmline" in show.content
    choices = await fake_discord.autocomplete("/config resources remove", "name", "circle",
                                              user=community.mod, guild=community.guild)
    assert [c["name"] for c in choices] == ["Circle warmline (GB)"]
    removed = await run(fake_discord, community, "/config resources remove", community.mod, name=choices[0]["value"])
    assert "Removed **Circle warmline**" in removed.content
    assert "Circle warmline" not in (await crisis(fake_discord, community.alice, community.guild, country="GB")).text
    refused = await fake_discord.slash("/config resources add", user=community.alice, guild=community.guild,
                                       bypass_permissions=True,
                                       options={"country": "GB", "name": "x", "contact": "0800 123 4567"})
    assert "Manage Server" in (await refused.reply()).content


@pytest.mark.parametrize(("how", "member_country_readable"), [("closed", False), ("writer", True), ("hung", False)])
async def test_crisis_answers_with_the_database_unavailable(
        fake_discord: FakeDiscord, community: Community, kindred_config: Config, clock: FakeClock, how: str,
        member_country_readable: bool) -> None:
    config = dataclasses.replace(kindred_config, defaults=dataclasses.replace(kindred_config.defaults, region="GB"))
    gate = threading.Event()
    async with running_kindred(fake_discord, config, clock=clock) as bot:
        await run(fake_discord, community, "/settings region", community.alice, country="US")
        assert "911" in (await crisis(fake_discord, community.alice, community.guild)).content
        blocker: sqlite3.Connection | None = None
        stuck: asyncio.Future[object] | None = None
        if how == "closed":  # the connection is gone and so is the file
            await bot.db.close()
            config.database_path.rename(config.database_path.with_suffix(".moved"))
        elif how == "writer":  # another process holds the write lock (WAL readers still read)
            blocker = sqlite3.connect(config.database_path, isolation_level=None, timeout=0)
            blocker.execute("BEGIN EXCLUSIVE")
            blocker.execute("UPDATE guilds SET updated_at = updated_at")
        else:  # the database threads hang (a stalled disk): every query queues behind them
            for conn in (bot.db.conn, bot.db.reader):
                await conn.create_function("stall", 0, lambda: gate.wait(30))
            stuck = asyncio.gather(bot.db.fetch_value("SELECT stall()"), bot.db.conn.execute("SELECT stall()"))
        try:
            fake_discord.interaction_deadline = 3.0  # Discord's own limit: the answer must not wait for SQLite
            explicit = await crisis(fake_discord, community.alice, community.guild, country="GB")
            assert "999" in explicit.content and "116 123" in explicit.content
            default = await crisis(fake_discord, community.alice, community.guild)
            if member_country_readable:
                assert "911" in default.content and "988" in default.content
            else:  # the member's country is out of reach: the configured default is used
                assert "999" in default.content and "116 123" in default.content
            in_dm = await crisis(fake_discord, community.alice)
            assert ("911" if member_country_readable else "999") in in_dm.content
        finally:
            fake_discord.interaction_deadline = None
            gate.set()
            if stuck is not None:
                await stuck
            if blocker is not None:
                blocker.execute("ROLLBACK")
                blocker.close()


# -- /alertmods ------------------------------------------------------------------------------


async def test_alertmods_without_an_alert_channel_says_whom_to_contact(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot) -> None:
    reply = await run(fake_discord, community, "/alertmods", community.alice, message="please help")
    assert "message one of the server's moderators directly" in reply.content and "/crisis" in reply.content
    assert alerts(fake_discord, community) == []
    assert await kindred.services.db.fetch_value("SELECT count(*) FROM crisis_alerts") == 0


async def test_alertmods_reaches_the_moderators_quietly_once(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot, clock: FakeClock,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await run(fake_discord, community, "/config alerts", community.mod, channel=community.alerts,
              role=responders(community))
    note = "rough night, zebra-canary-7731, could someone check in"
    reply = await run(fake_discord, community, "/alertmods", community.alice, message=note)
    assert "let the moderators know privately" in reply.content
    [alert] = alerts(fake_discord, community)
    assert "zebra-canary-7731" in alert.content and f"<@{community.alice.id}>" in alert.text
    assert f"https://discord.com/channels/{community.guild.id}/{community.general.id}" in alert.text
    assert alert.allowed_mentions == {"parse": []}  # names the member without pinging anyone
    assert fake_discord.messages_in(community.general) == []
    again = await run(fake_discord, community, "/alertmods", community.alice)
    assert "already got your request" in again.content
    assert len(alerts(fake_discord, community)) == 1
    clock.advance(timedelta(minutes=6))
    await run(fake_discord, community, "/alertmods", community.alice)
    assert len(alerts(fake_discord, community)) == 2
    await assert_nowhere(kindred, caplog, "zebra-canary-7731")

    # A moderator acknowledges the request; the member's words stay on the alert.
    await (await fake_discord.click(alert, user=community.mod, custom_id=alert.custom_ids[0])).reply()
    assert "Acknowledged by" in alert.text and "zebra-canary-7731" in alert.content


async def test_a_double_tap_of_alertmods_alerts_the_moderators_once(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot) -> None:
    await run(fake_discord, community, "/config alerts", community.mod, channel=community.alerts)
    taps = [await fake_discord.slash("/alertmods", user=community.alice, guild=community.guild) for _ in range(2)]
    replies = [await tap.reply() for tap in taps]
    assert sorted("already got your request" in r.content for r in replies) == [False, True]
    assert len(alerts(fake_discord, community)) == 1


# -- passive detection -----------------------------------------------------------------------


async def test_tier3_message_alerts_with_a_ping_and_dms_resources_emergency_first(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot) -> None:
    await enable_detection(fake_discord, community)
    said = await fake_discord.say(community.general, TIER3, user=community.alice)
    [alert] = await wait_alerts(fake_discord, community, 1)
    role = responders(community)
    assert alert.content.startswith(f"<@&{role.id}>") and "Tier 3" in alert.content
    assert alert.allowed_mentions is not None and alert.allowed_mentions.get("roles") == [role.id]
    alert_id = alert_id_of(alert)
    assert alert.custom_ids == [f"kindred:alert:ack:{alert_id}", f"kindred:alert:resolve:{alert_id}",
                                f"kindred:alert:false:{alert_id}"]
    text = alert.text
    assert f"<@{community.alice.id}>" in text and f"<#{community.general.id}>" in text
    assert f"https://discord.com/channels/{community.guild.id}/{community.general.id}/{said.id}" in text
    assert "en.self." in text and "Prior alerts (7 days):** 0" in text
    assert "pills" not in text.lower() and "tonight" not in text.lower()  # never the message text

    [dm] = await fake_discord.wait_for(lambda: fake_discord.dms_to(community.alice), what="resources DM")
    assert "automated" in dm.content and "Recovery Circle" in dm.content
    assert dm.content.index("999") < dm.content.index("116 123")  # imminent: emergency number first
    await fake_discord.wait_for(lambda: "Resources sent by DM" in alert.text, what="alert shows the DM went out")
    stored = await row(kindred, alert_id)
    assert (stored["tier"], stored["dm_status"], stored["message_id"], stored["pinged"]) == (3, "sent", said.id, 1)


async def test_idioms_raise_nothing(fake_discord: FakeDiscord, community: Community, kindred: KindredBot) -> None:
    await enable_detection(fake_discord, community)
    for text in (IDIOM, "I'd kill for a coffee right now", "the final boss killed me again", "`kill -9 1234`"):
        await fake_discord.say(community.general, text, user=community.alice)
    other_bot = fake_discord.add_user("quotebot", bot=True)
    fake_discord.add_member(community.guild, other_bot)
    await fake_discord.say(community.general, TIER3, user=other_bot)  # bots are never scanned
    await fake_discord.say(community.general, TIER3, user=community.bob)  # a marker: handled after the idioms
    [alert] = await wait_alerts(fake_discord, community, 1)
    assert f"<@{community.bob.id}>" in alert.text
    assert fake_discord.dms_to(community.alice) == []
    rows = await kindred.services.db.fetch_all(
        "SELECT m.user_id FROM crisis_alerts a JOIN members m USING (member_id)")
    assert [r["user_id"] for r in rows] == [community.bob.id]


async def test_nothing_happens_where_detection_is_off(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot) -> None:
    await run(fake_discord, community, "/config alerts", community.mod, channel=community.alerts)
    await fake_discord.say(community.general, TIER3, user=community.alice)
    await run(fake_discord, community, "/config crisis", community.mod, detection="on")
    await fake_discord.say(community.general, TIER3, user=community.bob)
    [alert] = await wait_alerts(fake_discord, community, 1)
    assert f"<@{community.bob.id}>" in alert.text
    assert not alert.content.startswith("<@&") and not (alert.allowed_mentions or {}).get("roles")  # no role set


async def test_closed_dms_get_a_public_nudge_unless_turned_off(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot, clock: FakeClock) -> None:
    await enable_detection(fake_discord, community)
    fake_discord.faults.close_dms(community.alice)
    await fake_discord.say(community.general, TIER3, user=community.alice)
    [nudge] = await fake_discord.wait_for(lambda: fake_discord.messages_in(community.general), what="public nudge")
    assert "/crisis" in nudge.content and str(community.alice.id) not in nudge.content
    assert "alice" not in nudge.content.lower()
    [alert] = alerts(fake_discord, community)
    await fake_discord.wait_for(lambda: "public nudge posted" in alert.text, what="alert shows the nudge")
    assert (await row(kindred, alert_id_of(alert)))["dm_status"] == "nudged"

    await run(fake_discord, community, "/config crisis", community.mod, detection="on", **{"public-nudge": "off"})
    fake_discord.faults.close_dms(community.bob)
    await fake_discord.say(community.general, TIER3, user=community.bob)
    await wait_alerts(fake_discord, community, 2)
    second = alerts(fake_discord, community)[1]
    await fake_discord.wait_for(lambda: "DM not delivered" in second.text, what="alert shows the DM failed")
    assert len(fake_discord.messages_in(community.general)) == 1  # no second nudge


async def test_cooldowns_and_bursts(fake_discord: FakeDiscord, community: Community, kindred: KindredBot,
                                    clock: FakeClock) -> None:
    await enable_detection(fake_discord, community)
    alice = community.alice

    def dms() -> list[Message]:
        return fake_discord.dms_to(alice)

    await fake_discord.say(community.general, TIER2, user=alice)
    [first] = await wait_alerts(fake_discord, community, 1)
    await fake_discord.wait_for(lambda: len(dms()) == 1, what="first DM")
    assert not first.content.startswith("<@&")  # tier 2: no ping

    clock.advance(timedelta(minutes=20))  # a burst folds into the open alert: no new alert, no DM
    await fake_discord.say(community.general, TIER2, user=alice)
    await fake_discord.wait_for(lambda: "More matching messages since:** 1" in first.text, what="burst counted")

    clock.advance(timedelta(hours=2))  # a new alert, but tier 2 gets one DM per 6 hours
    await fake_discord.say(community.general, TIER2, user=alice)
    second = (await wait_alerts(fake_discord, community, 2))[1]
    assert "resources were sent to them recently" in second.text and "Prior alerts (7 days):** 1" in second.text

    await fake_discord.say(community.general, TIER3, user=alice)  # tier 3 is never suppressed
    third = (await wait_alerts(fake_discord, community, 3))[2]
    await fake_discord.wait_for(lambda: len(dms()) == 2, what="tier-3 DM despite the cooldown")
    clock.advance(timedelta(minutes=5))
    await fake_discord.say(community.general, TIER3, user=alice)  # ...but deduplicated within 10 minutes
    await fake_discord.wait_for(lambda: "More matching messages since:** 1" in third.text, what="tier-3 dedupe")

    clock.advance(timedelta(hours=7))
    await fake_discord.say(community.general, TIER2, user=alice)
    await wait_alerts(fake_discord, community, 4)
    await fake_discord.wait_for(lambda: len(dms()) == 3, what="a DM again after 6 hours")
    assert len(alerts(fake_discord, community)) == 4 and len(dms()) == 3


async def test_opting_out_stops_dms_but_not_alerts(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot) -> None:
    await enable_detection(fake_discord, community)
    await run(fake_discord, community, "/settings crisis-replies", community.alice, state="off")
    await fake_discord.say(community.general, TIER3, user=community.alice)
    [alert] = await wait_alerts(fake_discord, community, 1)
    assert alert.content.startswith(f"<@&{responders(community).id}>")
    assert "Member turned crisis replies off" in alert.text
    await fake_discord.say(community.general, TIER3, user=community.bob)  # a marker after alice's
    await wait_alerts(fake_discord, community, 2)
    await fake_discord.wait_for(lambda: fake_discord.dms_to(community.bob), what="bob's DM")
    assert fake_discord.dms_to(community.alice) == []


async def test_other_paths_worry_and_abuse(fake_discord: FakeDiscord, community: Community, kindred: KindredBot) -> None:
    await enable_detection(fake_discord, community)
    await fake_discord.say(community.general, "my friend said she wants to kill herself", user=community.alice)
    [worry] = await wait_alerts(fake_discord, community, 1)
    assert "Worried about someone else" in worry.text and not worry.content.startswith("<@&")
    [dm] = await fake_discord.wait_for(lambda: fake_discord.dms_to(community.alice), what="how-to-help DM")
    assert "worried about someone" in dm.content
    await fake_discord.say(community.general, "kys nobody wants you here", user=community.bob)
    abuse = (await wait_alerts(fake_discord, community, 2))[1]
    assert "Possible harassment" in abuse.text and "No DM sent" in abuse.text
    assert fake_discord.dms_to(community.bob) == []


async def test_alert_buttons_record_who_did_what_and_survive_a_restart(
        fake_discord: FakeDiscord, community: Community, kindred_config: Config, clock: FakeClock) -> None:
    async with running_kindred(fake_discord, kindred_config, clock=clock):
        await enable_detection(fake_discord, community)
        await fake_discord.say(community.general, TIER3, user=community.alice)
        [alert] = await wait_alerts(fake_discord, community, 1)
        await fake_discord.wait_for(lambda: fake_discord.dms_to(community.alice), what="DM")
    alert_id = alert_id_of(alert)
    async with running_kindred(fake_discord, kindred_config, clock=clock, sync=False) as bot:
        refused = await (await fake_discord.click(alert, user=community.bob,
                                                  custom_id=f"kindred:alert:ack:{alert_id}")).reply()
        assert refused.ephemeral and "Only moderators" in refused.content
        assert (await row(bot, alert_id))["status"] == "open"

        responder = carol(community)
        await (await fake_discord.click(alert, user=responder, custom_id=f"kindred:alert:ack:{alert_id}")).reply()
        assert f"Acknowledged by <@{responder.id}>" in alert.text
        assert alert.custom_ids == [f"kindred:alert:resolve:{alert_id}", f"kindred:alert:false:{alert_id}"]
        assert alert.content.startswith(f"<@&{responders(community).id}>")  # the headline stays as posted

        await (await fake_discord.click(alert, user=community.mod,
                                        custom_id=f"kindred:alert:false:{alert_id}")).reply()
        assert f"Marked false alarm by <@{community.mod.id}>" in alert.text and alert.custom_ids == []
        stored = await row(bot, alert_id)
        assert (stored["status"], stored["acknowledged_by"], stored["resolved_by"]) == (
            "false_alarm", responder.id, community.mod.id)


async def test_a_refresh_held_up_by_a_rate_limit_never_overwrites_a_resolution(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot) -> None:
    edit = "PATCH /channels/{channel_id}/messages/{message_id}"
    await enable_detection(fake_discord, community)
    await fake_discord.say(community.general, TIER3, user=community.alice)
    [alert] = await wait_alerts(fake_discord, community, 1)
    await fake_discord.wait_for(lambda: "Resources sent by DM" in alert.text, what="alert shows the DM went out")
    edits_before = len(fake_discord.requests(edit))
    # A second message folds into the alert; its refresh is told to wait (429) after reading
    # the alert, which is still open.
    fake_discord.faults.rate_limit(edit, retry_after=1.0)
    await fake_discord.say(community.general, TIER3, user=community.alice)
    await fake_discord.wait_for_request(edit, count=edits_before + 1)
    # A moderator resolves it meanwhile.
    alert_id = alert_id_of(alert)
    pressed = await fake_discord.click(alert, user=community.mod, custom_id=f"kindred:alert:resolve:{alert_id}")
    await pressed.reply()
    await fake_discord.wait_for_request(edit, count=edits_before + 2)  # the held refresh went through
    assert f"Resolved by <@{community.mod.id}>" in alert.text, "an older rendering replaced the resolution"
    assert alert.custom_ids == []
    assert (await row(kindred, alert_id))["status"] == "resolved"


async def test_message_text_is_never_stored_or_logged(
        fake_discord: FakeDiscord, community: Community, kindred: KindredBot,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await enable_detection(fake_discord, community)
    canary = "quokkacanary"
    await fake_discord.say(community.general, f"{TIER3} {canary}", user=community.alice)
    await fake_discord.say(community.general, f"i feel so hopeless tonight {canary} ", user=community.bob)
    await fake_discord.say(community.general, f"my friend said she wants to die {canary}", user=community.mod)
    posted = await wait_alerts(fake_discord, community, 3)
    await fake_discord.wait_for(lambda: fake_discord.dms_to(community.alice) and fake_discord.dms_to(community.mod),
                                what="both DMs")
    await fake_discord.wait_for(lambda: all("Sending resources" not in a.text for a in posted), what="settled")
    for alert in posted:
        assert canary not in alert.text and "hopeless" not in alert.text
    await assert_nowhere(kindred, caplog, canary, "hopeless", "pills ready")


async def assert_nowhere(bot: KindredBot, caplog: pytest.LogCaptureFixture, *needles: str) -> None:
    """Fail if any needle is in any database row or any log line of Kindred or its libraries."""
    db = bot.services.db
    tables = [r["name"] for r in await db.fetch_all(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
    assert "crisis_alerts" in tables
    for table in tables:
        for found in await db.fetch_all(f'SELECT * FROM "{table}"'):  # noqa: S608 - names from the schema
            flat = " ".join(str(v) for v in tuple(found)).lower()
            for needle in needles:
                assert needle.lower() not in flat, f"{needle!r} stored in {table}"
    lines = [r.getMessage() for r in caplog.records if not r.name.startswith("tests.")]
    assert any(re.search(r"crisis|alertmods", line) for line in lines), "no crisis log lines were captured"
    for line in lines:
        for needle in needles:
            assert needle.lower() not in line.lower(), f"{needle!r} logged: {line}"
