"""Hostile input through the real bot: every synced slash command, and the check-in modal.

The commands and their options are read from the schema the bot synced to fakediscord, so a
new command or option is fuzzed without touching this file (and Discord's own limits —
lengths, ranges, choices, channel types — are respected, as the client would). One running
bot answers every example of a group; values come from a seeded `random.Random`, so the run
is the same every time.

For every example: the member gets a visible reply, it is ephemeral, it shows no fault (no
traceback, exception name or generic apology), its allowed mentions cannot ping @everyone,
@here or a role, Discord accepted every request the bot made for it (no 4xx — e.g. a reply
over 2,000 characters), and when the bot refused the input nothing in the database changed.
After each run, nothing the bot posted on the way (request DMs, notices, alerts) could ping
either, no ERROR was logged, and Discord refused no request at all.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from bot.app import KindredBot
from bot.config import Config
from bot.domain.checkins import CRAVING_MAX, CRAVING_MIN, MOOD_MAX, MOOD_MIN
from bot.domain.clock import FakeClock
from bot.errors import UserFacingError
from bot.fakediscord import FakeDiscord, FakeDiscordError, InteractionHandle, Message, User
from bot.tree import GENERIC_APOLOGY, user_message_for
from tests.e2e.helpers import Community
from tests.fuzz.support import RandomText, Snapshots, changed_tables, leaks

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# Plausible values per option name; the fuzzer damages them, or ignores them for pure noise.
VALID: dict[str, tuple[str, ...]] = {
    "tz": ("Europe/London", "America/St_Johns", "Asia/Kolkata", "Pacific/Chatham", "UTC"),
    "timezone": ("Europe/London", "Australia/Lord_Howe", "America/New_York", "UTC"),
    "country": ("GB", "US", "India", "Deutschland", "united kingdom"),
    "region": ("GB", "AU", "Canada"),
    "time": ("07:30", "21:00", "9:05", "00:00"),
    "start": ("22:00", "23:30", "7:00"),
    "end": ("07:00", "06:30", "22:00"),
    "date": ("2026-11-21", "2026-11-01", "2025-01-01", "1900-01-01", "2026-11-22", "2026-02-29"),
    "day": ("2026-11-21", "2026-11-18", "2026-11-13", "2026-11-22"),
    "name": ("alcohol", "recovery", "gambling", "self-harm free", "Alcohol"),
    "note": ("a steady day", "hard morning, better evening"),
    "description": ("Three months!", "A whole season"),
    "contact": ("116 123", "https://example.org/help"),
    "message": ("please check on me", "I need a mod"),
    "focus": ("alcohol, early recovery", "gambling"),
    "weekday": ("monday", "sunday"),
}
# Subcommands for moderators inside a group members use too (checked at run time, not hidden by Discord).
MODERATOR_LEAVES = ("/meeting add", "/meeting remove")
MODAL = 9  # the interaction callback that opens a form
TEXT_EXAMPLES = 40    # per command with a free text option
VALUE_EXAMPLES = 12   # per command with numbers (the client keeps them in range) or members
FIXED_EXAMPLES = 3    # per command whose options are only choices, channels, roles, or none


@dataclass
class Leaf:
    """One invocable slash command and its options, from the synced schema."""

    path: str
    options: list[dict[str, Any]]
    moderator: bool

    @property
    def examples(self) -> int:
        """Free text deserves many examples; numbers and members fewer; choices and no options a few."""
        if any(o["type"] == 3 and not o.get("choices") for o in self.options):
            return TEXT_EXAMPLES
        if any(o["type"] in (4, 6, 10) for o in self.options):
            return VALUE_EXAMPLES
        return FIXED_EXAMPLES


def leaves(commands: list[dict[str, Any]]) -> Iterator[Leaf]:
    """Every subcommand path in the synced schema (chat-input commands only)."""
    def walk(node: dict[str, Any], path: str, moderator: bool) -> Iterator[Leaf]:
        subs = [o for o in node.get("options") or [] if o["type"] in (1, 2)]
        if not subs:
            yield Leaf(path, list(node.get("options") or []), moderator or path in MODERATOR_LEAVES)
        for sub in subs:
            yield from walk(sub, f"{path} {sub['name']}", moderator)

    for top in commands:
        if top.get("type", 1) == 1:
            yield from walk(top, "/" + top["name"], top.get("default_member_permissions") is not None)


@dataclass
class Fuzzer:
    """Draws option values for a leaf: within Discord's limits, otherwise hostile."""

    fake: FakeDiscord
    community: Community
    strangers: list[User]
    rng: random.Random = field(default_factory=lambda: random.Random(9))

    def __post_init__(self) -> None:
        self.texts = RandomText(self.rng.randrange(2**32))

    def options(self, leaf: Leaf) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for opt in leaf.options:
            if not opt.get("required") and self.rng.random() < 0.35:
                continue
            values[opt["name"]] = self.value(opt)
        return values

    def value(self, opt: dict[str, Any]) -> Any:
        rng, kind = self.rng, opt["type"]
        if opt.get("choices"):
            return rng.choice(opt["choices"])["value"]
        if kind == 3:
            return self.texts.text(VALID.get(opt["name"], ()), min_size=opt.get("min_length", 0),
                                   max_size=opt.get("max_length", 6000))
        if kind in (4, 10):
            low, high = opt.get("min_value", -(2**53)), opt.get("max_value", 2**53)
            return rng.choice((low, high, rng.randint(low, high), rng.randint(low, high),
                               rng.randint(low, min(high, low + 3)), rng.randint(max(low, high - 3), high)))
        if kind == 5:
            return rng.random() < 0.5
        if kind == 6:
            c = self.community
            return rng.choice([c.alice, c.bob, c.mod, self.fake.bot, *self.strangers])
        if kind == 7:
            allowed = opt.get("channel_types")
            return rng.choice([ch for ch in self.community.guild.channels if not allowed or ch.type in allowed])
        if kind == 8:
            guild = self.community.guild
            return rng.choice([guild.everyone, guild.role("Moderators"), *guild.roles])
        raise AssertionError(f"no fuzz values for option type {kind} ({opt['name']})")


class Refusals:
    """Records the errors the command tree answered, by interaction id."""

    def __init__(self, bot: KindredBot) -> None:
        self.errors: dict[int, BaseException] = {}
        original = bot.tree.on_error

        async def on_error(interaction: Any, error: Any) -> None:
            self.errors[interaction.id] = error
            await original(interaction, error)

        bot.tree.on_error = on_error  # type: ignore[method-assign]


def check_reply(fake: FakeDiscord, handle: InteractionHandle, reply: Message, what: str) -> None:
    """The properties every reply to a member must have."""
    assert reply.ephemeral, f"{what}: a public reply"
    assert reply.text != GENERIC_APOLOGY, f"{what}: an unexpected fault (see the log)"
    problem = leaks(reply.text)
    assert problem is None, f"{what}: {problem} in {reply.text!r}"
    mentions = reply.allowed_mentions
    assert mentions is not None, f"{what}: no allowed_mentions, so Discord would parse every mention"
    assert not {"everyone", "roles"} & set(mentions.get("parse", [])) and not mentions.get("roles"), \
        f"{what}: allowed_mentions {mentions} could ping"
    failed = [r for r in fake.requests() if handle.token in r.path and r.status >= 400]
    assert not failed, f"{what}: Discord refused the bot's reply: {[(r, r.response) for r in failed]}"


def describe(path: str, values: dict[str, Any]) -> str:
    shown = {k: (v if not isinstance(v, str) or len(v) < 60 else v[:57] + "...") for k, v in values.items()}
    return f"{path} {shown!r}"


async def run_leaves(fake: FakeDiscord, community: Community, kindred: KindredBot, config: Config,
                     wanted: tuple[str, ...], caplog: pytest.LogCaptureFixture) -> int:
    """Fuzz every synced command under the `wanted` prefixes; return how many examples ran."""
    caplog.set_level(logging.ERROR)
    strangers = [fake.add_user("outsider")]
    fuzzer = Fuzzer(fake, community, strangers)
    refusals = Refusals(kindred)
    snapshots = Snapshots(config.database_path)
    ran = 0
    chosen = [leaf for leaf in leaves(fake.commands()) if leaf.path.startswith(wanted)]
    # Round robin, so every command meets the state the others left (counters, requests, ladder).
    plan = [leaf for i in range(TEXT_EXAMPLES) for leaf in chosen if i < leaf.examples]
    try:
        # on_ready records the server in the background; let that land before the first snapshot.
        await fake.wait_for(lambda: snapshots.take()["guilds"], what="the server's row from on_ready")
        # Any command records a member on first use (the same for every command, so intended);
        # with the fake clock standing still, later uses rewrite nothing and refusals can be exact.
        for member in (community.alice, community.bob, community.mod):
            await (await fake.slash("/settings show", user=member, guild=community.guild)).reply()
        for leaf in plan:
            # Two members take turns, so requests, buddies and shared counters meet each other.
            user = community.mod if leaf.moderator else fuzzer.rng.choice((community.alice, community.bob))
            values = fuzzer.options(leaf)
            what = describe(leaf.path, values)
            before = snapshots.take()
            handle = await fake.slash(leaf.path, user=user, guild=community.guild, options=values)
            if await handle.acknowledged() == MODAL:  # it opened a form (/plan edit): forms are fuzzed below
                assert snapshots.take() == before, f"{what}: opening a form changed the database"
                ran += 1
                continue
            reply = await handle.reply()
            check_reply(fake, handle, reply, what)
            error = refusals.errors.get(handle.id)
            if error is not None:
                assert user_message_for(error) is not None, f"{what}: unexpected {type(error).__name__}"
                after = snapshots.take()
                assert after == before, f"{what}: refused ({reply.text!r}) yet changed {changed_tables(before, after)}"
            ran += 1
    finally:
        snapshots.close()
    faults = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not faults, [f"{r.name}: {r.getMessage()}" for r in faults]
    # Everything else the bot posted on the way (request DMs, notices, alerts) pings nobody either.
    for message in fake.world.messages.values():
        if message.author is fake.bot:
            mentions = message.allowed_mentions
            assert mentions is not None, f"no allowed_mentions, so Discord would parse every mention: {message}"
            assert not {"everyone", "roles"} & set(mentions.get("parse", [])) and not mentions.get("roles"), message
    refused = [r for r in fake.requests() if r.status >= 400]
    assert not refused, f"Discord refused requests: {[(r, r.response) for r in refused]}"
    return ran


async def test_member_commands(fake_discord: FakeDiscord, community: Community, kindred: KindredBot,
                               kindred_config: Config, caplog: pytest.LogCaptureFixture) -> None:
    ran = await run_leaves(fake_discord, community, kindred, kindred_config,
                           ("/settings", "/checkin", "/pledge", "/mystats", "/reminder", "/privacy", "/crisis",
                            "/alertmods"), caplog)
    assert ran >= 200


async def test_recovery_and_buddy_commands(fake_discord: FakeDiscord, community: Community, kindred: KindredBot,
                                           kindred_config: Config, caplog: pytest.LogCaptureFixture) -> None:
    ran = await run_leaves(fake_discord, community, kindred, kindred_config, ("/recovery", "/buddy"), caplog)
    assert ran >= 150


async def test_mentor_and_meeting_commands(fake_discord: FakeDiscord, community: Community, kindred: KindredBot,
                                           kindred_config: Config, caplog: pytest.LogCaptureFixture) -> None:
    ran = await run_leaves(fake_discord, community, kindred, kindred_config, ("/mentor", "/meeting"), caplog)
    assert ran >= 150
    # Hostile names, times, zones and descriptions reached Discord's own validation and passed it.
    assert len(fake_discord.requests("POST /guilds/{guild_id}/scheduled-events")) >= 2  # seeded: the same each run


async def test_config_commands(fake_discord: FakeDiscord, community: Community, kindred: KindredBot,
                               kindred_config: Config, caplog: pytest.LogCaptureFixture) -> None:
    ran = await run_leaves(fake_discord, community, kindred, kindred_config, ("/config",), caplog)
    assert ran >= 100


async def test_coping_commands(fake_discord: FakeDiscord, community: Community, kindred: KindredBot,
                               kindred_config: Config, caplog: pytest.LogCaptureFixture) -> None:
    ran = await run_leaves(fake_discord, community, kindred, kindred_config, ("/urge", "/plan"), caplog)
    assert ran >= 15


async def test_every_synced_command_is_fuzzed(fake_discord: FakeDiscord, community: Community,
                                              kindred: KindredBot) -> None:
    """A new top-level command must be added to one of the groups above."""
    groups = ("/settings", "/checkin", "/pledge", "/mystats", "/reminder", "/privacy", "/crisis", "/alertmods",
              "/recovery", "/buddy", "/mentor", "/meeting", "/config", "/urge", "/plan")
    missed = [leaf.path for leaf in leaves(fake_discord.commands()) if not leaf.path.startswith(groups)]
    assert not missed


# -- the check-in modal -------------------------------------------------------------------------

MODAL_EXAMPLES = 40


def whole(text: str, low: int, high: int) -> int | None:
    stripped = text.strip()
    if not (stripped.isascii() and stripped.isdigit() and len(stripped) <= 3):
        return None
    return int(stripped) if low <= int(stripped) <= high else None


async def test_checkin_modal(fake_discord: FakeDiscord, community: Community, kindred: KindredBot,
                             kindred_config: Config, clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    fake, alice, guild = fake_discord, community.alice, community.guild
    await (await fake.slash("/config checkins", user=community.mod, guild=guild, channel=community.checkins,
                            time="10:30", timezone="UTC")).reply()
    clock.advance(timedelta(hours=1))  # 11:00 UTC on 2026-11-21: today's prompt is due
    await kindred.run_sweeps_once()
    assert fake.find_messages("kindred:checkin"), "the daily prompt was not posted"
    texts = RandomText(11)
    snapshots = Snapshots(kindred_config.database_path)
    member_id = None
    try:
        for _ in range(MODAL_EXAMPLES):
            mood = texts.text(("1", "3", "5", " 4 ", "0", "6", "05", "five"), min_size=1, max_size=20)
            craving = "" if texts.rng.random() < 0.3 else texts.text(("0", "10", "11", "7", " "), max_size=20)
            note = "" if texts.rng.random() < 0.3 else texts.text(("a steady day",), max_size=500)
            what = f"modal {dict(mood=mood, craving=craving, note=note[:40])!r}"
            before = snapshots.take()
            opened = await fake.click("kindred:checkin", user=alice)
            assert (await opened.modal())["custom_id"] == "kindred:checkin:modal"
            handle = await fake.submit_modal("kindred:checkin:modal", {"mood": mood, "craving": craving, "note": note},
                                             user=alice)
            reply = await handle.reply()
            check_reply(fake, handle, reply, what)
            mood_value = whole(mood, MOOD_MIN, MOOD_MAX)
            craving_value = None if not craving.strip() else whole(craving, CRAVING_MIN, CRAVING_MAX)
            accepted = mood_value is not None and (not craving.strip() or craving_value is not None)
            if not accepted:
                assert snapshots.take() == before, f"{what}: refused ({reply.text!r}) yet the database changed"
                continue
            assert f"mood **{mood_value}/5**" in reply.text, f"{what}: {reply.text!r}"
            if member_id is None:
                member_id = (await kindred.services.members.get(guild.id, alice.id)).member_id  # type: ignore[union-attr]
            row = await kindred.services.db.fetch_one(
                "SELECT mood, craving, note FROM checkins WHERE member_id = ? AND local_date = '2026-11-21'",
                (member_id,))
            assert row is not None and row["mood"] == mood_value, what
            if craving_value is not None:
                assert row["craving"] == craving_value, what
            if note.strip():
                assert row["note"] == note.strip(), what
    finally:
        snapshots.close()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


# -- the plan form ----------------------------------------------------------------------------------

PLAN_PARTS = ("warning_signs", "triggers", "coping", "people", "reasons")


async def test_plan_modal(fake_discord: FakeDiscord, community: Community, kindred: KindredBot,
                          caplog: pytest.LogCaptureFixture) -> None:
    """Any text a member can type into the plan form is kept as typed (minus what cannot print) and shown safely."""
    caplog.set_level(logging.ERROR)
    fake, alice, guild = fake_discord, community.alice, community.guild
    texts = RandomText(23)
    for _ in range(MODAL_EXAMPLES):
        values = {part: "" if texts.rng.random() < 0.3 else texts.text(("Call Sam", "Payday\nFridays"), max_size=500)
                  for part in PLAN_PARTS}
        what = f"plan {({k: v[:30] for k, v in values.items()})!r}"
        await (await fake.slash("/plan edit", user=alice, guild=guild)).modal()
        handle = await fake.submit_modal("kindred:plan:modal", values, user=alice)
        check_reply(fake, handle, await handle.reply(), what)
        stored = await kindred.services.coping.plan(guild.id, alice.id)
        kept = {part: "".join(c for c in v.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
                              if c == "\n" or c.isprintable()).strip() or None for part, v in values.items()}
        if not any(kept.values()):
            assert stored is None, what
            continue
        assert stored is not None and {p: getattr(stored, p) for p in PLAN_PARTS} == kept, what
        for command in ("/plan show", "/crisis", "/urge"):
            shown = await fake.slash(command, user=alice, guild=guild)
            check_reply(fake, shown, await shown.reply(), f"{command} after {what}")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


# -- the longest states a member can build still fit one message -----------------------------------

async def test_longest_states_fit_every_reply(fake_discord: FakeDiscord, community: Community,
                                              kindred: KindredBot) -> None:
    """Replies that list things (ladder, requests, counters) stay valid however long the lists grow."""
    fake, guild, alice = fake_discord, community.guild, community.alice
    services = kindred.services

    async def ask(command: str, user: User, **options: Any) -> None:
        handle = await fake.slash(command, user=user, guild=guild, options=options)
        check_reply(fake, handle, await handle.reply(), command)

    # A ladder as long as the server may make it, every step with the longest description.
    for days in range(400, 500):
        try:
            await services.recovery.add_milestone(guild.id, days, f"{days} " + "d" * 95)
        except UserFacingError:
            break  # a kind cap on the ladder is a fine answer too
    await ask("/config milestones add", community.mod, days=36500, description="e" * 100)
    await ask("/config show", community.mod)

    # Many members asking the same person to be buddies.
    for n in range(90):  # enough that listing every one would overflow a message
        asker = fake.add_user(f"asker{n}")
        fake.add_member(guild, asker)
        await ask("/buddy request", asker, member=alice)
    await ask("/buddy status", alice)
    await ask("/buddy accept", alice)

    # As many counters as a member may keep, each with the longest name.
    for n in range(12):
        try:
            await services.recovery.start(guild.id, alice.id, "2020-02-29", f"{n:02d} " + "n" * 37)
        except UserFacingError:
            break
    for command in ("/recovery show", "/recovery history", "/recovery slip"):
        await ask(command, alice)


async def test_channel_options_offer_only_channels_kindred_posts_in(fake_discord: FakeDiscord, community: Community,
                                                                   kindred: KindredBot) -> None:
    """A category, voice channel or forum in the picker would be accepted, and every post there refused."""
    text, announcement = 0, 5
    channel_options = {f"{leaf.path} {opt['name']}": opt.get("channel_types")
                       for leaf in leaves(fake_discord.commands()) for opt in leaf.options if opt["type"] == 7}
    assert channel_options, "no channel options were synced"
    # A meeting's channel is where people meet, not where Kindred posts: voice and stage only.
    assert sorted(channel_options.pop("/meeting add channel")) == [2, 13]
    for name, types in channel_options.items():
        assert types and set(types) <= {text, announcement}, f"{name} offers channel types {types}"
    category = fake_discord.add_channel(community.guild, "Support", type=4)
    with pytest.raises(FakeDiscordError, match="accepts channel types"):
        await fake_discord.slash("/config checkins", user=community.mod, guild=community.guild,
                                 channel=category, time="08:00", timezone="UTC")
