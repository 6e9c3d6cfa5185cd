"""Exactly once across restarts: the process dies at seeded random points around due times.

A week of prompts, reminders, milestone celebrations and buddy nudges (with the European
fall-back night in it) is walked twice over one seeded list of instants: once by a single
process that never fails (the reference), and once by processes that restart at random
instants and die at random commits and sends — before a claim commits, right after it,
before Discord sees a message, and after Discord accepted it but before the outbox marked
it sent. "Discord" deduplicates nonces for five minutes, as the real one does, and the
restarted process runs at once, as a supervisor would restart it. Both runs must deliver
the same messages at the same instants, and the reference must match what the SPEC says
is due. Process death is modelled as an exception no handler in the bot catches, which
rolls back the open transaction (what SQLite does for a process that died before COMMIT).
"""

from __future__ import annotations

import dataclasses
import random
import re
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest

from bot.config import Config
from bot.discord_notifier import DiscordNotifier
from bot.domain.clock import FakeClock
from bot.domain.localtime import local_date, occurrence_on, zone
from bot.domain.messages import OutgoingMessage, SendResult
from bot.fakediscord import FakeDiscord, User
from bot.services.container import Services, build_services
from tests.e2e.helpers import Community, running_kindred
from tests.reliability.support import (
    Crash,
    CrashingDatabase,
    CrashPlan,
    CrashPoint,
    Delivered,
    DiscordLikeNotifier,
    day_name,
    prompt_day,
)

SEED = 20261025
START = datetime(2026, 10, 22, 12, 0, tzinfo=UTC)
END = datetime(2026, 10, 29, 0, 0, tzinfo=UTC)  # Europe falls back on 25 October at 01:00 UTC

G1, G2, G3 = 910_000_000_000_000_001, 910_000_000_000_000_002, 910_000_000_000_000_003
CHECKINS = {G1: 920_000_000_000_000_001, G2: 920_000_000_000_000_002, G3: 920_000_000_000_000_003}
CELEBRATIONS = 930_000_000_000_000_001
# The server's zone and prompt time; London's 01:30 happens twice on the fall-back night.
PROMPTS = {G1: ("Europe/London", time(1, 30)), G2: ("Asia/Kolkata", time(9, 0)),
           G3: ("America/St_Johns", time(20, 0))}
REMINDED_QUIET, SOBER_DM, SOBER_PUBLIC, BUDDY_A, BUDDY_B = (940_000_000_000_000_000 + i for i in range(1, 6))
REMINDED_BERLIN = [950_000_000_000_000_000 + i for i in range(1, 5)]  # several sends due at once

Action = Callable[[Services], Awaitable[object]]


async def buddy_a_checks_in(services: Services) -> None:
    await services.checkins.check_in(G1, BUDDY_A, mood=4)


# What members do during the week (the same in both runs, never interrupted by a crash).
ACTIONS: dict[datetime, Action] = {datetime(2026, 10, 25, 12, 0, tzinfo=UTC): buddy_a_checks_in}


def walk(rng: random.Random) -> tuple[list[datetime], set[datetime]]:
    """Random instants over the week, with every daily due time and a moment before and after it."""
    instants = {START, END, *ACTIONS}
    due_instants = set()
    t = START
    while t < END:
        t += timedelta(minutes=rng.randint(5, 60), seconds=rng.randint(0, 59))
        instants.add(min(t, END))
    due_times = [*PROMPTS.values(), ("Europe/Berlin", time(20, 0)), ("Asia/Kolkata", time(8, 0)),
                 ("Europe/London", time(10, 0)), ("Europe/London", time(8, 0))]
    day = START.date() - timedelta(days=1)
    while day <= END.date():
        for tz, at in due_times:
            due = occurrence_on(day, at, zone(tz))
            due_instants.add(due)
            for offset in (-rng.randint(1, 300), 0, rng.randint(1, 300)):
                instant = due + timedelta(seconds=offset)
                if START < instant < END:
                    instants.add(instant)
        day += timedelta(days=1)
    return sorted(instants), due_instants


async def setup_world(services: Services) -> None:
    """Three servers, two reminders, two counters, one buddy pair, as members would set them up."""
    for guild_id, (tz, at) in PROMPTS.items():
        await services.guild_config.set_checkins(guild_id, channel_id=CHECKINS[guild_id], time=at.strftime("%H:%M"),
                                                 timezone=tz)
    await services.guild_config.set_celebrations(G1, channel_id=CELEBRATIONS)
    await services.guild_config.set_buddies(G1, nudge_after_days=1)
    for user_id in REMINDED_BERLIN:
        await services.settings.set_timezone(G1, user_id, "Europe/Berlin")
        await services.checkins.set_reminder(G1, user_id, "20:00")
    await services.settings.set_quiet_hours(G2, REMINDED_QUIET, "22:00", "08:00")
    await services.checkins.set_reminder(G2, REMINDED_QUIET, "07:30")  # inside quiet hours: sent at 08:00
    await services.recovery.start(G1, SOBER_DM, "2026-10-20")  # 3 days on the 23rd, a week on the 27th
    await services.recovery.start(G1, SOBER_PUBLIC, "2026-10-19", visibility="server")
    await services.recovery.update_settings(G1, SOBER_PUBLIC, "recovery", celebrate="channel")
    await services.buddies.request(G1, BUDDY_A, BUDDY_B)
    await services.buddies.accept(G1, BUDDY_B, BUDDY_A)
    await services.settings.set_share_checkins(G1, BUDDY_A, "buddies")
    await services.checkins.check_in(G1, BUDDY_A, mood=3)


@dataclass
class Run:
    """One pass over the walk: its clock, its "Discord", and how the processes fared."""

    config: Config
    clock: FakeClock = field(default_factory=lambda: FakeClock(START))
    discord: DiscordLikeNotifier = field(init=False)
    restarts: int = 0
    crashes: Counter[CrashPoint] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.discord = DiscordLikeNotifier(self.clock)

    async def start_process(self, plan: CrashPlan) -> tuple[CrashingDatabase, Services]:
        db = CrashingDatabase(self.config.database_path, plan)
        await db.open()
        await db.migrate()
        return db, build_services(self.config, db, self.clock, self.discord.for_process(plan))

    async def go(self, instants: list[datetime], due: set[datetime], rng: random.Random | None) -> None:
        """Walk the instants; with `rng`, restart at random (mostly at due times) and die at random points."""
        plan = CrashPlan()
        db, services = await self.start_process(plan)
        try:
            await setup_world(services)
            for instant in instants:
                self.clock.set(instant)
                if rng is not None and rng.random() < (0.8 if instant in due else 0.2):
                    await db.close()
                    plan = CrashPlan.random(rng, send_share=0.75 if instant in due else 0.25)
                    db, services = await self.start_process(plan)
                    self.restarts += 1
                if instant in ACTIONS:
                    with plan.disarmed():
                        await ACTIONS[instant](services)
                while True:
                    try:
                        await services.scheduler.run_all_once()
                        break
                    except Crash:
                        assert rng is not None and plan.point is not None
                        self.crashes[plan.point] += 1
                        await db.close()  # the process is gone; what it committed is all that remains
                        plan = CrashPlan.random(rng)
                        db, services = await self.start_process(plan)
                        self.restarts += 1
            assert await db.fetch_value("SELECT count(*) FROM outbox WHERE status != 'sent'") == 0
        finally:
            await db.close()


def by_local_date(delivered: list[Delivered], tz: str) -> Counter[date]:
    return Counter(local_date(d.at, zone(tz)) for d in delivered)


def expected_days(tz: str, at: time, first: datetime, last: datetime) -> Counter[date]:
    """Local dates whose `at` falls in (first, last], once each."""
    days: Counter[date] = Counter()
    day = local_date(first, zone(tz)) - timedelta(days=1)
    while day <= local_date(last, zone(tz)):
        if first < occurrence_on(day, at, zone(tz)) <= last:
            days[day] = 1
        day += timedelta(days=1)
    return days


def assert_reference_is_what_is_due(delivered: list[Delivered]) -> None:
    """The reference run against the SPEC: each prompt, reminder, celebration and nudge once, on time."""
    for guild_id, (tz, at) in PROMPTS.items():
        prompts = [d for d in delivered if d.target == "channel" and d.target_id == CHECKINS[guild_id]]
        assert by_local_date(prompts, tz) == expected_days(tz, at, START, END), guild_id
        for prompt in prompts:  # sent on the day it names, at or after its local time
            day = local_date(prompt.at, zone(tz))
            assert prompt_day(prompt.content) == day_name(day)
            assert prompt.at >= occurrence_on(day, at, zone(tz))

    def dms(user_id: int, needle: str) -> list[Delivered]:
        return [d for d in delivered if d.target == "dm" and d.target_id == user_id and needle in d.content]

    for user_id in REMINDED_BERLIN:
        berlin = dms(user_id, "check-in reminder")
        assert by_local_date(berlin, "Europe/Berlin") == expected_days("Europe/Berlin", time(20, 0), START, END)
    quiet = dms(REMINDED_QUIET, "check-in reminder")
    assert by_local_date(quiet, "Asia/Kolkata") == expected_days("Asia/Kolkata", time(8, 0), START, END)

    celebrated = sorted((d.target, local_date(d.at, zone("Europe/London")), re.findall(r"\*\*(\d+ days)\*\*", d.content))
                        for d in delivered if "reached" in d.content)
    assert celebrated == [  # the public counter started on the 19th, the private one on the 20th
        ("channel", date(2026, 10, 22), ["3 days"]), ("channel", date(2026, 10, 26), ["7 days"]),
        ("dm", date(2026, 10, 23), ["3 days"]), ("dm", date(2026, 10, 27), ["7 days"])]

    # A checked in on the 22nd and the 25th: after one whole day away (the 23rd, the 26th), B is
    # nudged the next London morning, once; A is never nudged (B shares nothing).
    nudges = dms(BUDDY_B, "hasn't checked in")
    assert [d.at for d in nudges] == [occurrence_on(date(2026, 10, 24), time(8, 0), zone("Europe/London")),
                                      occurrence_on(date(2026, 10, 27), time(8, 0), zone("Europe/London"))]
    assert dms(BUDDY_A, "hasn't checked in") == []


async def test_random_restarts_and_crashes_deliver_each_due_message_exactly_once(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    instants, due = walk(rng)
    reference = Run(dataclasses.replace(Config(), database_path=tmp_path / "reference.sqlite3"))
    await reference.go(instants, due, None)
    assert_reference_is_what_is_due(reference.discord.delivered)

    crashing = Run(dataclasses.replace(Config(), database_path=tmp_path / "crashing.sqlite3"))
    await crashing.go(instants, due, rng)
    assert crashing.restarts >= 50
    assert all(crashing.crashes[point] >= 5 for point in CrashPoint), crashing.crashes

    def sent(run: Run) -> Counter[tuple[str, int, str, datetime]]:
        return Counter((d.target, d.target_id, d.content, d.at) for d in run.discord.delivered)

    assert sent(crashing) == sent(reference)
    nonces = Counter(d.nonce for d in crashing.discord.delivered)
    assert max(nonces.values()) == 1


# -- the same promise through the real bot, discord.py and the loopback Discord ----------------

def crashing_notifier(process: list[CrashPlan]) -> type[DiscordNotifier]:
    """DiscordNotifier that consults the current process's plan before and after each send."""

    class CrashingNotifier(DiscordNotifier):
        async def send_dm(self, user_id: int, message: OutgoingMessage, *, nonce: str | None = None) -> SendResult:
            process[-1].reached(CrashPoint.BEFORE_SEND)
            result = await super().send_dm(user_id, message, nonce=nonce)
            process[-1].reached(CrashPoint.AFTER_SEND)
            return result

        async def send_channel(self, channel_id: int, message: OutgoingMessage, *,
                               nonce: str | None = None) -> SendResult:
            process[-1].reached(CrashPoint.BEFORE_SEND)
            result = await super().send_channel(channel_id, message, nonce=nonce)
            process[-1].reached(CrashPoint.AFTER_SEND)
            return result

    return CrashingNotifier


def e2e_walk(rng: random.Random, start: datetime, end: datetime) -> tuple[list[datetime], set[datetime]]:
    """Each London due time (08:00 nudge, 09:00 prompt, 10:00 celebration, 20:00 reminder) and moments around it."""
    due = {occurrence_on(start.date() + timedelta(days=d), at, zone("Europe/London"))
           for d in range((end - start).days + 1) for at in (time(8), time(9), time(10), time(20))}
    due = {t for t in due if start < t <= end}
    instants = set(due) | {start, end}
    for t in due:
        instants.update((t - timedelta(seconds=rng.randint(1, 600)), t + timedelta(seconds=rng.randint(1, 600))))
    return sorted(instants), due


@pytest.mark.slow
async def test_restarts_of_the_real_bot_send_each_due_message_once(
        fake_discord: FakeDiscord, community: Community, kindred_config: Config, clock: FakeClock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(SEED)
    start, end = datetime(2026, 11, 21, 7, 30, tzinfo=UTC), datetime(2026, 11, 23, 21, 0, tzinfo=UTC)
    instants, due = e2e_walk(rng, start, end)
    process = [CrashPlan()]
    monkeypatch.setattr("bot.app.Database", lambda path: CrashingDatabase(path, process[-1]))
    monkeypatch.setattr("bot.app.DiscordNotifier", crashing_notifier(process))
    fake, guild, alice, bob, mod = fake_discord, community.guild, community.alice, community.bob, community.mod
    reminded = [alice]
    for name in ("carol", "dan", "erin"):  # several reminders due at once: crashes between their sends
        reminded.append(fake.add_user(name))
        fake.add_member(guild, reminded[-1])

    async def run(command: str, user: User, **options: object) -> None:
        assert (await (await fake.slash(command, user=user, guild=guild, options=options)).reply()).ephemeral

    clock.set(start)
    async with running_kindred(fake, kindred_config, clock=clock):
        await run("/config checkins", mod, channel=community.checkins, time="09:00", timezone="Europe/London")
        await run("/config celebrations", mod, channel=community.celebrations)
        await run("/config buddies", mod, nudge_after_days=1)
        await run("/recovery start", alice, date="2026-11-18", visibility="server")  # 3 days on the 21st
        await run("/recovery settings", alice, name="recovery", celebrate="channel")
        await run("/recovery start", bob, date="2026-11-20")  # 1 day on the 21st, 3 days on the 23rd, by DM
        for user in reminded:
            await run("/reminder set", user, time="20:00")
        await run("/buddy request", alice, member=bob)
        await run("/buddy accept", bob, member=alice)
        await run("/settings share-checkins", alice, **{"with": "buddies"})
        await run("/checkin", alice, mood=3)  # then away: Bob is nudged on the 23rd

    restarts = 0
    crashes: Counter[CrashPoint] = Counter()
    for instant in instants:
        clock.set(instant)
        # At a due time the first process dies around its first send; then anything goes.
        first = CrashPlan(rng.choice((CrashPoint.BEFORE_SEND, CrashPoint.AFTER_SEND))) if instant in due else None
        while True:
            restarts += 1
            plan = first or CrashPlan.random(rng, clean_share=0.4, send_share=0.3, max_commits=4)
            first = None
            process.append(plan)
            async with running_kindred(fake, kindred_config, clock=clock, sync=False) as bot:
                try:
                    with plan.scope():  # the sweeps and their sends, not start-up or gateway events
                        await bot.run_sweeps_once()
                    break
                except Crash:
                    crashes[plan.point] += 1  # type: ignore[index]

    assert restarts >= 50 and all(crashes[point] >= 3 for point in CrashPoint), (restarts, crashes)
    prompts = fake.messages_in(community.checkins)
    assert [prompt_day(p.content) for p in prompts] == [
        "21 November", "22 November", "23 November"]
    assert [m.content for m in fake.messages_in(community.celebrations)] == [
        f"🎉 <@{alice.id}> has reached **3 days** — *recovery*! Every day counts. 💚"]
    assert fake.messages_in(community.celebrations)[0].reactions == ["🎉"]

    def dms(user: User, needle: str) -> int:
        return sum(needle in m.content for m in fake.dms_to(user))

    assert dms(alice, "check-in reminder") == 2  # the 22nd and 23rd (she checked in on the 21st)
    assert [dms(user, "check-in reminder") for user in reminded[1:]] == [3, 3, 3]
    assert (dms(bob, "reached **1 day**"), dms(bob, "reached **3 days**"), dms(bob, "hasn't checked in")) == (1, 1, 1)
    nonces = Counter(m.nonce for m in fake.world.messages.values() if m.nonce is not None)
    assert max(nonces.values()) == 1
