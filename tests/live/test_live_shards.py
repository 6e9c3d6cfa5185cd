"""Two shard processes sharing one PostgreSQL, on one live clock: every prompt, reminder and
celebration exactly once, each sent by the process whose shards hold its server, and still
exactly once (none lost) when one process is SIGKILLed in the middle of a fan-out and restarted.

200 servers on 4 shards; process A runs shards 0-1, process B shards 2-3. Both are real
`python -m bot run` processes under libfaketime, reading one timestamp file, against the
loopback Discord (which sends each shard's connection only that shard's servers).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bot.config import Config
from bot.db.database import database_for
from bot.domain.clock import FakeClock
from bot.domain.shards import Shards
from bot.fakediscord import FakeDiscord, Guild, User
from bot.services.container import build_services
from tests.e2e.helpers import BotProcess, Community, bot_env, run_cli
from tests.live.support import APPROACH_RATE, LiveClock, LiveKindred, pace_heartbeats
from tests.support import RecordingNotifier

SERVERS = 200
COUNT = 4
A, B = "0-1", "2-3"
DAY0 = date(2027, 2, 1)


def at(day: int, hh: int, mm: int = 0) -> datetime:
    d = DAY0 + timedelta(days=day)
    return datetime(d.year, d.month, d.day, hh, mm, tzinfo=UTC)


@dataclasses.dataclass
class Server:
    guild: Guild
    member: User

    @property
    def shard(self) -> int:
        return Shards.of(self.guild.id, COUNT)


class ShardedLive(LiveKindred):
    """Both processes: the bot's time is the slower process's, and waiting covers both."""

    def bot_time(self) -> datetime | None:
        rows = self.query("SELECT scope, last_finished_at FROM sweep_health WHERE name = 'checkin-prompts'")
        if len(rows) < 2 or any(r[1] is None for r in rows):
            return None
        return min(datetime.fromisoformat(r[1]) for r in rows)


@pytest.fixture
async def shard_pair(fake_discord: FakeDiscord, community: Community, tmp_path: Path, libfaketime: Path,
                     database_url: str | None) -> AsyncIterator[tuple[ShardedLive, list[Server], dict[str, dict[str, str]]]]:
    """The servers, the database set up as their moderators and members would have, and A and B running."""
    if database_url is None:
        pytest.skip("several processes share PostgreSQL only (SQLite serves one process)")
    fake = fake_discord
    fake.shard_count = COUNT
    servers = []
    for n in range(SERVERS):
        guild = fake.add_guild(f"Circle {n}", channels=["check-ins"], shard=(n % COUNT, COUNT))
        member = fake.add_user(f"member{n}")
        fake.add_member(guild, member)
        servers.append(Server(guild, member))
    await seed(dataclasses.replace(Config(), database_url=database_url), servers)

    clock = LiveClock(tmp_path / "faketime.rc", libfaketime, at(0, 8, 0), APPROACH_RATE)
    fake.clock = clock.now
    pace_heartbeats(fake, APPROACH_RATE)
    envs = {ids: {**bot_env(fake, tmp_path / "unused.sqlite3", KINDRED_DATABASE_URL=database_url,
                            KINDRED_SHARD_COUNT=str(COUNT), KINDRED_SHARD_IDS=ids), **clock.env()}
            for ids in (A, B)}
    code, output = await run_cli("sync", env=envs[A])
    assert code == 0, output
    started = [BotProcess(fake, envs[ids]) for ids in (A, B)]
    for proc in started:
        await proc.start()
    for proc in started:
        await proc.wait_ready()
    pair = ShardedLive(fake, community, started[0], clock, tmp_path / "unused.sqlite3", database_url, processes=started)
    try:
        yield pair, servers, envs
    finally:
        pair.close()
        for proc in pair.processes:
            await proc.stop()
    for proc in pair.processes:
        first = next((i for i, line in enumerate(proc.lines) if " ERROR " in line or "Traceback" in line), None)
        assert first is None, "a bot process logged errors:\n" + "".join(proc.lines[first:first + 80])


async def seed(config: Config, servers: list[Server]) -> None:
    """Each server's daily prompt at 09:00 UTC; its member's reminder at 20:00 and a counter started on day 0."""
    db = database_for(config)
    await db.open()
    try:
        await db.migrate()
        services = build_services(config, db, FakeClock(at(0, 7, 0)), RecordingNotifier())
        for s in servers:
            await services.guild_config.set_checkins(s.guild.id, channel_id=s.guild.channel("check-ins").id,
                                                     time="09:00", timezone="UTC")
            await services.checkins.set_reminder(s.guild.id, s.member.id, "20:00")
            await services.recovery.start(s.guild.id, s.member.id, DAY0.isoformat())
    finally:
        await db.close()


def prompts(fake: FakeDiscord, s: Server) -> int:
    return len(fake.messages_in(s.guild.channel("check-ins")))


def dms(fake: FakeDiscord, s: Server) -> int:
    return len(fake.dms_to(s.member))


async def all_sent(kindred: ShardedLive, servers: list[Server], *, prompts_each: int, dms_each: int, what: str) -> None:
    fake = kindred.fake
    await kindred.wait_for(lambda: all(prompts(fake, s) >= prompts_each and dms(fake, s) >= dms_each for s in servers),
                           timeout=60, what=what)


async def test_two_shard_processes_send_everything_once_each_its_own_servers_even_across_a_sigkill(
        shard_pair: tuple[ShardedLive, list[Server], dict[str, dict[str, str]]], backend: str) -> None:
    kindred, servers, envs = shard_pair
    fake = kindred.fake
    # Each process connected its own shards and was given their servers only.
    identified = Counter(tuple(r.data["shard"]) for r in fake.gateway.received(2))
    assert identified == Counter({(i, COUNT): 1 for i in range(COUNT)})
    # The token's global limit, as Discord keeps it: the processes' shares together stay under it.
    # 50 a second of the bots' clock, which runs APPROACH_RATE times faster than the fake's while
    # anything is sent (their pacing follows their clock).
    fake.faults.global_rate_limit(50 * APPROACH_RATE, burst=50)

    # Days 0-2: the 09:00 prompt, the day-1 celebration at 10:00, the 20:00 reminder.
    dms_due = 0
    for day in range(3):
        await kindred.approach(at(day, 9))
        await all_sent(kindred, servers, prompts_each=day + 1, dms_each=dms_due, what=f"day {day}'s prompts")
        if day == 1:
            await kindred.approach(at(day, 10))
            dms_due += 1
            await all_sent(kindred, servers, prompts_each=day + 1, dms_each=dms_due, what="the day-1 celebrations")
        await kindred.approach(at(day, 20))
        dms_due += 1
        await all_sent(kindred, servers, prompts_each=day + 1, dms_each=dms_due, what=f"day {day}'s reminders")

    # Day 3, 09:00: process A is killed while it is posting its servers' prompts, and restarted.
    fake.latency = 0.02  # Discord's answers take a moment: the fan-out lasts a few real seconds
    a_servers = [s for s in servers if s.shard in (0, 1)]
    await kindred.approach(at(3, 9))
    await kindred.wait_for(lambda: sum(prompts(fake, s) == 4 for s in a_servers) >= 10, timeout=30,
                           what="process A's fan-out to be under way")
    victim = kindred.processes[0]
    code = await victim.kill()
    assert code != 0
    posted_when_killed = sum(prompts(fake, s) == 4 for s in a_servers)
    assert posted_when_killed < len(a_servers), "the fan-out was over before the kill: nothing tested"
    restarted = BotProcess(fake, envs[A])
    kindred.processes.append(restarted)
    await restarted.start()
    await restarted.wait_ready()
    await all_sent(kindred, servers, prompts_each=4, dms_each=dms_due, what="day 3's prompts after the restart")
    # Day 3, 10:00: the day-3 celebrations (the ladder is 1, 3, 7 … days); then nothing more.
    await kindred.approach(at(3, 10))
    await all_sent(kindred, servers, prompts_each=4, dms_each=dms_due + 1, what="the day-3 celebrations")
    await kindred.jump(at(3, 10, 3))
    await kindred.ticks_past(at(3, 10, 5))

    # Exactly once at Discord: every server 4 prompts; every member 3 reminders and the celebrations due.
    rows = kindred.query("SELECT guild_id, kind, sent_by FROM outbox WHERE status = 'sent'")
    kinds = Counter((r[0], r[1]) for r in rows)
    celebrations = {s.guild.id: kinds[(s.guild.id, "milestone")] for s in servers}
    assert set(celebrations.values()) == {2}, "day 1 and day 3 are milestones"
    assert [prompts(fake, s) for s in servers] == [4] * SERVERS
    assert [dms(fake, s) for s in servers] == [3 + 2] * SERVERS
    assert Counter(r[1] for r in rows) == Counter({"checkin.prompt": 4 * SERVERS, "checkin.reminder": 3 * SERVERS,
                                                    "milestone": 2 * SERVERS})
    # Each message was sent by the process whose shards hold its server.
    owner = {0: f"shards-{A}-of-{COUNT}", 1: f"shards-{A}-of-{COUNT}", 2: f"shards-{B}-of-{COUNT}",
             3: f"shards-{B}-of-{COUNT}"}
    wrong = [(g, k, by) for g, k, by in rows if by is None or by.split(":")[0] != owner[Shards.of(g, COUNT)]]
    assert wrong == [], f"{len(wrong)} message(s) sent by another shard's process, e.g. {wrong[:3]}"
    assert not kindred.query("SELECT 1 FROM outbox WHERE status != 'sent'")
    assert fake.faults.injected == [], "the processes together went over the token's global limit"
