"""Several processes on one database: each due item decided and sent by exactly one of them.

A second process here is a second `Database` (its own connections: a second SQLite
connection pair on the same file, or a second PostgreSQL pool) with its own services, scope
and "Discord". Both engines run these; on PostgreSQL the processes really do run side by side.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import socket
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from bot.config import Config
from bot.db.checkins import CheckInRepository
from bot.db.database import POSTGRESQL, Database, database_for
from bot.db.outbox import NewOutboxItem
from bot.domain.clock import FakeClock
from bot.domain.messages import OutgoingMessage
from bot.domain.shards import Shards
from bot.errors import OperatorError
from bot.services.container import Services, build_services
from bot.services.outbox import CLAIM_TTL, nonce_for
from tests.support import (
    RecordingEvents,
    RecordingNotifier,
    end_shard_session,
    take_back_only_after,
    until,
)

CHANNEL = 990_000_000_000_000_555
SHARD_0_OF_2 = Shards(2, frozenset({0}))  # the shard-lock tests' process (and its rival)


@dataclass
class Process:
    """One bot process: its database connections, services and what it sent."""

    db: Database
    services: Services
    sent: RecordingNotifier


ProcessFactory = Callable[..., Awaitable[Process]]


@pytest.fixture
async def start_process(config: Config, db: Database, clock: FakeClock) -> AsyncIterator[ProcessFactory]:
    """Factory: ``await start_process(scope)`` starts another process on the test's (migrated) database."""
    started: list[Process] = []

    async def start(scope: str | None = None, shards: Shards | None = None, *, hold: bool = False) -> Process:
        """With `hold`, start as `python -m bot run` does: holding the shards (refused if another process has them)."""
        own = dataclasses.replace(config, shards=shards)
        db = database_for(own)
        await db.open()
        if hold:
            try:
                await db.hold_shards()
            except BaseException:
                await db.close()
                raise
        notifier = RecordingNotifier()
        process = Process(db, build_services(own, db, clock, notifier, events=RecordingEvents(), scope=scope), notifier)
        started.append(process)
        return process

    yield start
    for process in started:
        await process.db.close()


async def queue(services: Services, count: int) -> list[str]:
    now = services.clock.now()
    keys = [f"test:{n}" for n in range(count)]
    for key in keys:
        await services.outbox_repo.enqueue(NewOutboxItem(key, "test", "channel", CHANNEL, OutgoingMessage(key)),
                                           not_before=now, now=now)
    return keys


def nonces(*processes: Process) -> Counter[str | None]:
    return Counter(m.nonce for p in processes for m in p.sent.sent)


async def test_two_processes_draining_together_send_each_message_once(start_process: ProcessFactory) -> None:
    a, b = await start_process("shards-0-1"), await start_process("shards-2-3")
    keys = await queue(a.services, 120)
    await asyncio.gather(a.services.outbox.dispatch(), b.services.outbox.dispatch(),
                         a.services.outbox.dispatch(), b.services.outbox.dispatch())
    assert nonces(a, b) == Counter({nonce_for(k): 1 for k in keys})
    assert await a.db.fetch_value("SELECT count(*) FROM outbox WHERE status = 'sent'") == 120


async def test_a_dead_process_s_claims_lapse_and_another_process_sends_them_once(
        start_process: ProcessFactory, clock: FakeClock) -> None:
    dead, alive = await start_process("shards-0-1"), await start_process("shards-2-3")
    [key] = await queue(dead.services, 1)
    outbox_id = await dead.db.fetch_value("SELECT outbox_id FROM outbox")
    now = clock.now()
    # The first process claims the row and dies before it sends (or before it records the send).
    assert await dead.services.outbox_repo.claim(outbox_id, dead.services.outbox.token, now,
                                                 until=now + CLAIM_TTL) is not None
    await alive.services.outbox.dispatch()
    assert alive.sent.sent == [], "a row another process holds was taken before its claim lapsed"
    clock.advance(CLAIM_TTL)
    await alive.services.outbox.dispatch()
    await alive.services.outbox.dispatch()
    assert nonces(alive) == Counter({nonce_for(key): 1})
    # The dead process's outcome, had it come back, is not stored over the new holder's.
    assert not await dead.services.outbox_repo.mark_sent(outbox_id, dead.services.outbox.token, 1, clock.now())
    assert await alive.db.fetch_value("SELECT status FROM outbox") == "sent"


async def test_a_restart_takes_back_its_predecessor_s_claims_at_once_but_not_another_process_s(
        start_process: ProcessFactory, clock: FakeClock) -> None:
    first, other = await start_process("shards-0-1"), await start_process("shards-2-3")
    mine, theirs = await queue(first.services, 2)
    ids = {r["dedupe_key"]: r["outbox_id"] for r in await first.db.fetch_all("SELECT dedupe_key, outbox_id FROM outbox")}
    now = clock.now()
    await first.services.outbox_repo.claim(ids[mine], first.services.outbox.token, now, until=now + CLAIM_TTL)
    await other.services.outbox_repo.claim(ids[theirs], other.services.outbox.token, now, until=now + CLAIM_TTL)
    await first.db.close()  # the first process dies; the same shards start again at once

    restarted = await start_process("shards-0-1")
    await restarted.services.outbox.dispatch()
    assert nonces(restarted) == Counter({nonce_for(mine): 1}), "a live process's claim was taken back"
    assert await restarted.db.fetch_value("SELECT claimed_by FROM outbox WHERE dedupe_key = ?", (theirs,)) == (
        other.services.outbox.token)


async def test_claims_name_the_process_that_holds_them(start_process: ProcessFactory) -> None:
    process = await start_process("shards-0-1")
    owner, host, pid, start = process.services.outbox.token.split(":")
    assert (owner, host, pid) == ("shards-0-1", socket.gethostname(), str(os.getpid()))
    assert start and start != (await start_process("shards-0-1")).services.outbox.token.split(":")[3]
    assert (await start_process("")).services.outbox.owner == "main"


async def test_two_processes_sweeping_together_decide_each_prompt_once(
        start_process: ProcessFactory, clock: FakeClock) -> None:
    a, b = await start_process("shards-0-1"), await start_process("shards-2-3")
    guilds = range(880_000_000_000_000_000, 880_000_000_000_000_060)
    for guild_id in guilds:
        await a.services.guild_config.set_checkins(guild_id, channel_id=guild_id + 1, time="11:00",
                                                   timezone="Europe/London")
    a.services.checkins.batch = b.services.checkins.batch = 7  # many small transactions, interleaved
    clock.advance(timedelta(hours=1, minutes=1))
    now = clock.now()
    queued = await asyncio.gather(a.services.checkins.sweep_prompts(now), b.services.checkins.sweep_prompts(now))
    assert sum(queued) == len(guilds)
    assert await a.db.fetch_value("SELECT count(*) FROM checkin_prompts") == len(guilds)
    await asyncio.gather(a.services.outbox.dispatch(), b.services.outbox.dispatch())
    delivered = Counter(m.target_id for p in (a, b) for m in p.sent.sent)
    assert delivered == Counter({guild_id + 1: 1 for guild_id in guilds})
    # A later sweep by either finds nothing more to do.
    assert await a.services.checkins.sweep_prompts(now) == await b.services.checkins.sweep_prompts(now) == 0


async def test_each_process_records_its_sweeps_under_its_own_scope(start_process: ProcessFactory) -> None:
    a, b = await start_process("shards-0-1"), await start_process("shards-2-3")
    await a.services.scheduler.run_all_once()
    await b.services.scheduler.run_all_once()
    rows = await a.db.fetch_all("SELECT scope, count(*) AS sweeps FROM sweep_health GROUP BY scope ORDER BY scope")
    assert [(r["scope"], r["sweeps"]) for r in rows] == [("shards-0-1", len(a.services.scheduler.sweeps)),
                                                          ("shards-2-3", len(b.services.scheduler.sweeps))]


async def test_a_process_skips_the_due_rows_another_is_deciding_instead_of_waiting_for_them(
        start_process: ProcessFactory, clock: FakeClock, backend: str) -> None:
    if backend != POSTGRESQL:
        pytest.skip("SQLite has one writer at a time: the second process waits for the whole file")
    a, b = await start_process("shards-0-1"), await start_process("shards-2-3")
    guilds = range(880_000_000_000_000_000, 880_000_000_000_000_020)
    for guild_id in guilds:
        await a.services.guild_config.set_checkins(guild_id, channel_id=guild_id + 1, time="11:00",
                                                   timezone="Europe/London")
    clock.advance(timedelta(hours=1, minutes=1))
    now = clock.now()
    deciding, done = asyncio.Event(), asyncio.Event()

    async def a_is_slow() -> list[int]:
        async with a.db.transaction() as conn:
            held = await CheckInRepository.due_prompts(conn, now, 5)  # the first five, locked
            deciding.set()
            await done.wait()
        return [g.guild_id for g in held]

    slow = asyncio.create_task(a_is_slow())
    await deciding.wait()
    assert await asyncio.wait_for(b.services.checkins.sweep_prompts(now), 5) == len(guilds) - 5
    done.set()
    held = await slow
    assert len(set(held)) == 5
    assert await a.services.checkins.sweep_prompts(now) == 5  # then A decides the five it held


async def test_a_process_that_sees_its_own_shards_marks_only_their_servers_left(
        start_process: ProcessFactory, clock: FakeClock) -> None:
    # READY lists the servers of this process's shards only: a server of another shard is not
    # one the bot left. Discord's rule: a server's shard is (guild_id >> 22) % shard count.
    a, b = await start_process("shards-0"), await start_process("shards-1")
    guilds = [(n << 22) + 7 for n in range(1, 9)]  # shards 1, 0, 1, 0, ... of 2
    mine_a = Shards(2, frozenset({0}))
    mine_b = Shards(2, frozenset({1}))
    assert {mine_a.owns(g) for g in guilds} == {True, False}
    now = clock.now()
    await a.services.guilds.mark_present(guilds, now)
    await a.services.guilds.reconcile([g for g in guilds if mine_a.owns(g)], now, shards=mine_a)
    await b.services.guilds.reconcile([g for g in guilds if mine_b.owns(g)][1:], now, shards=mine_b)
    left = [r["guild_id"] for r in await a.db.fetch_all("SELECT guild_id FROM guilds WHERE left_at IS NOT NULL")]
    assert left == [[g for g in guilds if mine_b.owns(g)][0]]


# -- shards: each process does the scheduled work of its own shards' servers ------------------

FOUR = 4
A_SHARDS, B_SHARDS = Shards(FOUR, frozenset({0, 1})), Shards(FOUR, frozenset({2, 3}))
# Two servers on each of the four shards (Discord's rule: (guild_id >> 22) % 4).
SHARDED_GUILDS = [((880_000_000 + n) << 22) + 5 for n in range(8)]
MEMBER = 770_000_000_000_000_001


async def sharded_community(a: Process, b: Process) -> None:
    """Every server has a daily prompt, and a member with a reminder, a counter and an urge check-back.

    Set up through the process whose shard the server is on, as its commands would arrive.
    """
    for guild_id in SHARDED_GUILDS:
        services = a.services if A_SHARDS.owns(guild_id) else b.services
        await services.guild_config.set_checkins(guild_id, channel_id=guild_id + 1, time="11:00",
                                                 timezone="Europe/London")
        await services.checkins.set_reminder(guild_id, MEMBER, "12:00")
        await services.recovery.start(guild_id, MEMBER, services.clock.now().date().isoformat())
        await services.coping.start_urge(guild_id, MEMBER, strength=6, minutes=20)


async def sent_guilds(db: Database, kind_prefix: str = "") -> Counter[int]:
    rows = await db.fetch_all("SELECT guild_id FROM outbox WHERE status = 'sent' AND kind LIKE ?",
                              (kind_prefix + "%",))
    return Counter(r["guild_id"] for r in rows)


async def test_a_shard_process_does_the_scheduled_work_of_its_own_shards_servers_only(
        start_process: ProcessFactory, clock: FakeClock) -> None:
    assert {Shards.of(g, FOUR) for g in SHARDED_GUILDS} == {0, 1, 2, 3}
    a = await start_process(shards=A_SHARDS)
    b = await start_process(shards=B_SHARDS)
    await sharded_community(a, b)
    theirs = {g for g in SHARDED_GUILDS if B_SHARDS.owns(g)}
    # Past the check-back (10:20), the prompt (11:00), the reminder (12:00), the day-1 milestone.
    for step in (timedelta(minutes=65), timedelta(minutes=60), timedelta(days=1)):
        clock.advance(step)
        await a.services.scheduler.run_all_once()
        rows = await a.db.fetch_all("SELECT dedupe_key, guild_id, kind FROM outbox")
        by_nonce = {nonce_for(r["dedupe_key"]): (r["guild_id"], r["kind"]) for r in rows}
        assert [by_nonce[m.nonce] for m in a.sent.sent if by_nonce[m.nonce][0] in theirs] == [], (
            "A sent messages of B's shards' servers")
        await b.services.scheduler.run_all_once()
    kinds = Counter((r["guild_id"], r["kind"]) for r in await a.db.fetch_all(
        "SELECT guild_id, kind FROM outbox WHERE status = 'sent'"))
    # Two days of prompts and reminders, the first milestone, the one check-back.
    expected = {"checkin.prompt": 2, "checkin.reminder": 2, "milestone": 1, "urge.checkback": 1}
    assert kinds == Counter({(g, k): n for g in SHARDED_GUILDS for k, n in expected.items()})
    assert nonces(a, b) == Counter({n: 1 for n in nonces(a, b)})  # nothing sent twice
    rows = await a.db.fetch_all("SELECT dedupe_key, guild_id FROM outbox")
    guild_of = {nonce_for(r["dedupe_key"]): r["guild_id"] for r in rows}
    assert {guild_of[m.nonce] for m in b.sent.sent} == theirs


async def test_a_shard_process_sends_the_queued_messages_of_its_own_shards_servers(
        start_process: ProcessFactory) -> None:
    a = await start_process(shards=A_SHARDS)
    b = await start_process(shards=B_SHARDS)
    now = a.services.clock.now()
    await a.services.guilds.mark_present(SHARDED_GUILDS, now)
    for guild_id in SHARDED_GUILDS:
        await a.services.outbox_repo.enqueue(
            NewOutboxItem(f"test:{guild_id}", "test", "channel", guild_id + 1, OutgoingMessage("hi"), guild_id=guild_id),
            not_before=now, now=now)
    # A message of no server (none is queued by a feature today) is anyone's: the claim keeps it to one sender.
    await a.services.outbox_repo.enqueue(NewOutboxItem("test:none", "test", "channel", CHANNEL, OutgoingMessage("hi")),
                                         not_before=now, now=now)
    await a.services.outbox.dispatch()
    assert {m.target_id for m in a.sent.sent} == {g + 1 for g in SHARDED_GUILDS if A_SHARDS.owns(g)} | {CHANNEL}
    await b.services.outbox.dispatch()
    assert {m.target_id for m in b.sent.sent} == {g + 1 for g in SHARDED_GUILDS if B_SHARDS.owns(g)}
    assert await a.db.fetch_value("SELECT count(*) FROM outbox WHERE status = 'pending'") == 0
    # A sent row names the process that sent it (for the operator: the claim itself is cleared).
    senders = {r["dedupe_key"]: r["sent_by"] for r in await a.db.fetch_all("SELECT dedupe_key, sent_by FROM outbox")}
    assert senders == {**{f"test:{g}": (a if A_SHARDS.owns(g) else b).services.outbox.token for g in SHARDED_GUILDS},
                       "test:none": a.services.outbox.token}


# -- singleton jobs: one process at a time -----------------------------------------------------

def sweep_named(process: Process, name: str) -> Callable[..., Awaitable[int]]:
    [sweep] = [s for s in process.services.scheduler.sweeps if s.name == name]
    return sweep.run


async def test_retention_runs_in_one_process_at_a_time_and_another_takes_over_when_it_is_gone(
        start_process: ProcessFactory, clock: FakeClock, backend: str) -> None:
    if backend != POSTGRESQL:
        pytest.skip("SQLite serves one process: its retention always runs")
    a = await start_process(shards=A_SHARDS)
    b = await start_process(shards=B_SHARDS)
    gone = SHARDED_GUILDS[0]
    await a.services.guilds.mark_present([gone], clock.now())
    await a.services.guilds.mark_left(gone, clock.now())
    clock.advance(timedelta(days=a.services.config.privacy.left_guild_days + 1))
    purge = sweep_named(b, "retention-purge")

    # A is purging (it holds the job) while B's purge comes due: B does nothing.
    async with a.db.only_one_process("retention-purge") as running:
        assert running
        assert await purge(clock.now()) == 0
        assert await b.db.fetch_value("SELECT count(*) FROM guilds WHERE guild_id = ?", (gone,)) == 1
    # A finished: the next run anywhere does the work.
    async with a.db.only_one_process("retention-purge") as running:
        assert running
    # A dies holding the job (its connections go with it): B takes over at its next run.
    async with a.db.only_one_process("retention-purge") as running:
        assert running
        a.db.terminate()  # type: ignore[attr-defined] - the process is killed: its connections drop
        # The server ends a dropped session a moment later, and the lock with it.
        for _ in range(300):
            if not await b.db.fetch_value("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'", ()):
                break
            await asyncio.sleep(0.01)
        assert await purge(clock.now()) == 1
    assert await b.db.fetch_value("SELECT count(*) FROM guilds WHERE guild_id = ?", (gone,)) == 0


async def test_a_single_process_always_runs_its_singleton_jobs(db: Database) -> None:
    async with db.only_one_process("retention-purge") as first, db.only_one_process("other") as second:
        assert first and second


async def test_buddy_mentor_and_meeting_sweeps_do_only_their_own_shards_servers(
        start_process: ProcessFactory, clock: FakeClock) -> None:
    guild = SHARDED_GUILDS[2]
    room = guild + 9
    own = Shards(FOUR, frozenset({Shards.of(guild, FOUR)}))
    other = Shards(FOUR, frozenset(range(FOUR)) - own.ids)
    a, b = await start_process(shards=own), await start_process(shards=other)
    alice, bob, mentor, mentee = (770_000_000_000_000_010 + i for i in range(4))
    s = a.services
    await s.buddies.request(guild, alice, bob)  # never answered: it expires after 14 days
    await s.recovery.start(guild, mentor, "2026-06-01", "alcohol", visibility="server")
    await s.mentors.offer(guild, mentor)
    await s.mentors.request(guild, mentee, mentor)  # expires too
    await s.meetings.add(guild, name="Tuesday group", weekday="tuesday", time_text="19:00", timezone="UTC",
                         duration=90, channel_id=room, channel_type="voice")
    await s.meetings.remind(guild, alice, "Tuesday group", 30)
    pending = "SELECT (SELECT count(*) FROM buddy_requests WHERE status = 'pending'), " \
              "(SELECT count(*) FROM mentor_requests WHERE status = 'pending')"
    assert [tuple(r) for r in await a.db.fetch_all(pending)] == [(1, 1)]

    for _ in range(15 * 8):  # three hours at a time (10:00, 13:00, 16:00, 19:00 …): reminders come while they help
        clock.advance(timedelta(hours=3))
        before = await b.db.fetch_all(pending)
        queued = await b.db.fetch_value("SELECT count(*) FROM outbox")
        await b.services.scheduler.run_all_once()
        assert b.sent.sent == [], "another shard's process sent this server's messages"
        assert await b.db.fetch_all(pending) == before, "another shard's process expired this server's requests"
        assert await b.db.fetch_value("SELECT count(*) FROM outbox") == queued, (
            "another shard's process decided this server's messages")
        await a.services.scheduler.run_all_once()
    assert [tuple(r) for r in await a.db.fetch_all(pending)] == [(0, 0)]
    kinds = Counter(r["kind"] for r in await a.db.fetch_all("SELECT kind FROM outbox WHERE status = 'sent'"))
    assert kinds["meeting.reminder"] >= 2, kinds
    assert any(k.startswith("buddy") for k in kinds) and any(k.startswith("mentor") for k in kinds), kinds


async def test_a_shard_is_run_by_one_process_at_a_time(start_process: ProcessFactory, backend: str) -> None:
    if backend != POSTGRESQL:
        pytest.skip("SQLite serves one process")
    a = await start_process(shards=Shards(4, frozenset({0, 1})))
    await a.db.hold_shards()
    # Overlapping shards, or the same bot split another way, would answer members twice.
    overlapping = await start_process(shards=Shards(4, frozenset({1, 2})))
    with pytest.raises(OperatorError, match=r"shard 1 of 4 .*KINDRED_SHARD_IDS"):
        await overlapping.db.hold_shards()
    other_count = await start_process(shards=Shards(2, frozenset({1})))
    with pytest.raises(OperatorError, match=r"KINDRED_SHARD_COUNT=4.*KINDRED_SHARD_COUNT=2"):
        await other_count.db.hold_shards()
    everything = await start_process(shards=None)
    with pytest.raises(OperatorError, match="KINDRED_SHARD_COUNT"):
        await everything.db.hold_shards()
    # The rest of the shards start beside A; A's restart takes its own back once A is gone.
    b = await start_process(shards=Shards(4, frozenset({2, 3})))
    await b.db.hold_shards()
    await a.db.close()
    restart = await start_process(shards=Shards(4, frozenset({0, 1})))
    await restart.db.hold_shards()
    await restart.db.hold_shards()  # holding again changes nothing


async def test_a_dead_process_s_shards_can_be_run_again(start_process: ProcessFactory, backend: str) -> None:
    if backend != POSTGRESQL:
        pytest.skip("SQLite serves one process")
    a = await start_process(shards=SHARD_0_OF_2)
    await a.db.hold_shards()
    a.db.terminate()  # type: ignore[attr-defined] - SIGKILL: the server ends its sessions
    restart = await start_process(shards=SHARD_0_OF_2)
    await restart.db.hold_shards(wait=30)


async def test_a_process_whose_shard_session_ends_takes_its_shards_back(
        start_process: ProcessFactory, backend: str) -> None:
    # PostgreSQL restarted (or the session was killed): A's locks went with the session. A
    # second process for the same shards must still be refused, so A takes them back itself.
    if backend != POSTGRESQL:
        pytest.skip("SQLite serves one process")
    a = await start_process(shards=SHARD_0_OF_2)
    await a.db.hold_shards()
    old = a.db._shard_holder  # type: ignore[attr-defined]
    await end_shard_session(a.db)
    await until(lambda: a.db._shard_holder not in (None, old))  # type: ignore[attr-defined]
    second = await start_process(shards=SHARD_0_OF_2)
    with pytest.raises(OperatorError, match=r"shard 0 of 2 is already run"):
        await second.db.hold_shards()


async def test_a_process_whose_shards_were_taken_meanwhile_is_told_to_stop(
        start_process: ProcessFactory, backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if backend != POSTGRESQL:
        pytest.skip("SQLite serves one process")
    import bot.db.postgres

    monkeypatch.setattr(bot.db.postgres, "SHARD_WAIT", 0.5)  # how long A asks before giving up
    a = await start_process(shards=SHARD_0_OF_2)
    stopped: list[OperatorError] = []
    a.db.on_shards_lost = stopped.append
    await a.db.hold_shards()
    taker_in = take_back_only_after(a.db)  # the second process gets in first
    taker = await start_process(shards=SHARD_0_OF_2)
    await end_shard_session(a.db)
    await taker.db.hold_shards(wait=30)
    taker_in.set()
    await until(lambda: bool(stopped))
    assert "shard 0 of 2 is already run by another Kindred process" in str(stopped[0])


async def test_only_the_process_with_shard_0_tells_the_ops_channel_about_the_deployment_s_crisis_data(
        config: Config, db: Database, clock: FakeClock) -> None:
    told = {}
    clock.advance(timedelta(days=3 * 365))  # the crisis numbers are long past their check
    for shards in (Shards(4, frozenset({0, 1})), Shards(4, frozenset({2, 3})), None):
        own = dataclasses.replace(config, shards=shards, bot=dataclasses.replace(config.bot, ops_channel_id=CHANNEL))
        notifier = RecordingNotifier()
        services = build_services(own, db, clock, notifier, events=RecordingEvents())
        ops = services.scheduler.ops
        assert ops is not None
        await ops.observe(clock.now(), [], {}, {}, database_ok=True)
        told[shards.describe() if shards else "all"] = [p.message.content for p in notifier.posts_in(CHANNEL)]
    assert told["2-3"] == []
    assert len(told["0-1"]) == 1 and told["0-1"][0].startswith("⚠️ Kindred (shards 0-1 of 4): crisis data")
    assert len(told["all"]) == 1 and told["all"][0].startswith("⚠️ Kindred: crisis data")


# -- review of issue 16: the deployment's health, not one process's ----------------------------

async def test_status_from_one_shard_process_s_host_tells_that_another_has_died(
        start_process: ProcessFactory, clock: FakeClock) -> None:
    # B (shards 2-3) dies and is not restarted: its servers get no prompt, reminder or celebration.
    # A keeps running; its ops notices and `python -m bot status` (run with A's environment, the
    # only one an operator has on A's host) judge A's scope and A's shards' due rows only, so
    # nobody is told that half the servers have been unserved for two hours.
    from bot.services.health import health_report

    a = await start_process(shards=A_SHARDS)
    b = await start_process(shards=B_SHARDS)
    for process in (a, b):
        process.services.scheduler.gateway_probe = lambda: True
    await sharded_community(a, b)
    for process in (a, b):
        await process.services.scheduler.run_all_once()
        await process.services.scheduler.record_gateway()
    # B is SIGKILLed here. Two hours on, A has done its work every minute.
    for _ in range(120):
        clock.advance(timedelta(minutes=1))
        await a.services.scheduler.record_gateway()
    await a.services.scheduler.run_all_once()
    overdue = await b.db.fetch_value("SELECT count(*) FROM checkin_prompt_schedule WHERE next_due_at <= ?",
                                     (clock.now().strftime("%Y-%m-%dT%H:%M:%S"),))
    assert overdue, "B's servers' prompts are owed"
    report = await health_report(a.services)
    assert not report.healthy, [f"{f.subject}: {f.detail}" for f in report.findings]


async def test_status_without_shard_variables_on_a_running_sharded_deployment_does_not_say_nothing_runs(
        start_process: ProcessFactory, config: Config, db: Database, clock: FakeClock) -> None:
    # An operator's `python -m bot status` with only KINDRED_DATABASE_URL (the status command
    # does not need to connect a shard) reads the "" scope, which no shard process writes.
    from bot.services.health import health_report
    from bot.services.ports import NoSending

    a = await start_process(shards=A_SHARDS)
    b = await start_process(shards=B_SHARDS)
    for process in (a, b):
        process.services.scheduler.gateway_probe = lambda: True
        await process.services.scheduler.run_all_once()
        await process.services.scheduler.record_gateway()
    report = await health_report(build_services(config, db, clock, NoSending()))
    assert report.healthy, [f"{f.subject}: {f.detail}" for f in report.findings if not f.healthy]


async def test_the_ops_channel_hears_of_old_crisis_numbers_once_per_deployment_not_once_per_process(
        start_process: ProcessFactory, config: Config, clock: FakeClock) -> None:
    # The crisis numbers' age is the deployment's, not a process's: with four shard processes the
    # operators' channel gets the same warning four times (and again four times after each restart;
    # likewise "database unreachable" when PostgreSQL is down), and no notice says which process it is.
    from bot.services.crisis import load_crisis_data

    checked = load_crisis_data(config).directory.last_checked
    clock.advance(datetime_of(checked) + timedelta(days=120) - clock.now())
    ops_config = dataclasses.replace(config, bot=dataclasses.replace(config.bot, ops_channel_id=CHANNEL))
    processes = []
    for shards in (A_SHARDS, B_SHARDS):
        own = dataclasses.replace(ops_config, shards=shards)
        p = await start_process(shards=shards)
        services = build_services(own, p.db, clock, p.sent, events=RecordingEvents())
        assert services.scheduler.ops is not None
        await services.scheduler.ops.observe(clock.now(), [], {}, {}, database_ok=True)
        processes.append(p)
    notices = [m.message.content for p in processes for m in p.sent.sent if "crisis" in m.message.content.lower()]
    assert len(notices) == 1, notices


def datetime_of(day: object) -> datetime:
    from datetime import UTC, date, time
    assert isinstance(day, date)
    return datetime.combine(day, time(12, 0), UTC)


async def test_processes_that_disagree_on_the_shard_count_are_refused_or_serve_every_server(
        start_process: ProcessFactory, clock: FakeClock, backend: str) -> None:
    # Re-sharding from 4 to 8: the operator restarts one process with KINDRED_SHARD_COUNT=8 and
    # KINDRED_SHARD_IDS=4-7 while the other still runs 0-1 of 4. Servers on shards 2 and 3 of 8
    # belong to neither: no prompt, reminder, celebration or check-back, and nothing says so
    # (each process's status and ops notices judge their own shards' due rows only). Nothing
    # records the deployment's shard count, so nothing can refuse the mismatch.
    if backend != POSTGRESQL:
        pytest.skip("a subset of shards on SQLite is refused by the configuration")
    servers = [((880_000_000 + n) << 22) + 5 for n in range(8)]  # shards 0..7 of 8
    old = Shards(4, frozenset({0, 1}))
    new = Shards(8, frozenset({4, 5, 6, 7}))
    a = await start_process(shards=old, hold=True)
    try:
        b = await start_process(shards=new, hold=True)
        await b.services.scheduler.run_all_once()
    except OperatorError:  # refused at start, in one line naming both counts
        return
    for guild_id in servers:
        await a.services.guild_config.set_checkins(guild_id, channel_id=guild_id + 1, time="11:00",
                                                   timezone="Europe/London")
    clock.advance(timedelta(hours=1, minutes=1))
    for process in (a, b):
        await process.services.scheduler.run_all_once()
    unserved = [g for g in servers if not (await sent_guilds(a.db, "checkin.prompt"))[g]]
    assert unserved == [], f"{len(unserved)} server(s) on shards no process runs got no prompt"


async def test_a_second_process_of_the_same_shards_does_not_take_the_first_s_live_claims(
        start_process: ProcessFactory, clock: FakeClock, backend: str) -> None:
    # A rolling deploy (systemd/Kubernetes start the new process before the old one stops), or the
    # same KINDRED_SHARD_IDS given twice: the newcomer's first drain "takes back its predecessor's
    # claims", though the predecessor is alive and sending them. Only Discord's nonce (if the old
    # send went through within its ~5 minutes) stands between the member and the same message twice;
    # the loopback notifier, like a Discord that has forgotten the nonce, shows it.
    if backend != POSTGRESQL:
        pytest.skip("one process per SQLite file")
    first = await start_process(shards=A_SHARDS, hold=True)
    [key] = await queue(first.services, 1)
    outbox_id = await first.db.fetch_value("SELECT outbox_id FROM outbox")
    now = clock.now()
    assert await first.services.outbox_repo.claim(outbox_id, first.services.outbox.token, now,
                                                  until=now + CLAIM_TTL) is not None  # sending it now
    # The newcomer cannot start while the first process runs: it never drains, never takes the claim.
    try:
        second = await start_process(shards=A_SHARDS, hold=True)
    except OperatorError:
        return
    await second.services.outbox.dispatch()
    assert second.sent.sent == [], "the newcomer sent a message the live process holds"


async def test_a_process_keeps_taking_its_shards_back_when_the_server_goes_again_mid_take(
        start_process: ProcessFactory, backend: str) -> None:
    # The session that takes the shards back can end too (the server restarted twice in a row, a
    # failover, a killed backend) while it waits for a lock a dying session still holds. The
    # process must go on taking them back, or they stay unheld and a second process is let in.
    if backend != POSTGRESQL:
        pytest.skip("SQLite serves one process")
    import asyncpg

    from bot.db.postgres import SHARD_LOCK

    a = await start_process(shards=SHARD_0_OF_2)
    await a.db.hold_shards()
    url = a.db.url  # type: ignore[attr-defined]
    other = await asyncpg.connect(url)  # a session that still holds shard 0 for a moment
    try:
        waiting = asyncio.ensure_future(other.fetchval("SELECT pg_advisory_lock($1, 0)", SHARD_LOCK))
        for _ in range(200):  # until its request waits behind A's lock
            if await a.db.fetch_all("SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"):
                break
            await asyncio.sleep(0.05)
        old = a.db._shard_holder  # type: ignore[attr-defined]
        await end_shard_session(a.db)
        await waiting  # it has shard 0 now; A's take-back waits for it
        taker: list[int] = []

        async def find_taker() -> bool:
            rows = await other.fetch("SELECT pid FROM pg_stat_activity WHERE application_name = 'kindred'"
                                     " AND query LIKE '%pg_try_advisory_lock%' AND pid <> $1",
                                     old.get_server_pid())
            taker[:] = [row["pid"] for row in rows]
            return bool(taker)

        for _ in range(200):
            if await find_taker():
                break
            await asyncio.sleep(0.05)
        assert taker, "A never started taking its shards back"
        await other.execute("SELECT pg_terminate_backend($1)", taker[0])  # the take-back's session ends too
        await asyncio.sleep(0.5)
        await other.execute("SELECT pg_advisory_unlock($1, 0)", SHARD_LOCK)
    finally:
        await other.close()
    take_back = a.db._take_back  # type: ignore[attr-defined]
    try:
        await until(lambda: a.db._shard_holder is not None)  # type: ignore[attr-defined]
    except AssertionError:
        died = take_back.exception() if take_back is not None and take_back.done() else None
        raise AssertionError(f"A's shards were never taken back; its take-back ended with {died!r}") from None
    second = await start_process(shards=SHARD_0_OF_2)
    with pytest.raises(OperatorError, match=r"shard 0 of 2 is already run"):
        await second.db.hold_shards()


class _RebootingProxy:
    """A unix-socket hop to the server whose `reboot()` ends every session as a crashed database host does.

    The server sees its sessions end (their locks go); a client hears nothing until it sends, and is
    then cut off (a rebooted host answers an unknown connection with a reset). New connections pass.
    """

    def __init__(self, folder: str, target: str) -> None:
        self.folder, self.target = folder, target
        self._pairs: list[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = []
        self._rebooted: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_unix_server(self._serve, path=f"{self.folder}/.s.PGSQL.5432")

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_unix_connection(f"{self.target}/.s.PGSQL.5432")
        self._pairs.append((writer, up_writer))

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, client: asyncio.StreamWriter) -> None:
            while data := await src.read(65536):
                if client in self._rebooted:
                    if dst is not client:  # the client spoke to the rebooted host: reset
                        client.close()
                    return
                dst.write(data)
            if client not in self._rebooted:
                dst.close()

        await asyncio.gather(pump(reader, up_writer, writer), pump(up_reader, writer, writer),
                             return_exceptions=True)

    def reboot(self) -> None:
        for client, upstream in self._pairs:
            self._rebooted.add(client)
            upstream.close()

    async def stop(self) -> None:
        self._server.close()
        for client, upstream in self._pairs:
            client.close()
            upstream.close()


@pytest.mark.parametrize("reads", [True, False], ids=["a-read-finds-it", "the-ping-finds-it"])
async def test_a_process_notices_its_shard_session_ended_even_if_the_socket_stays_quiet(
        start_process: ProcessFactory, backend: str, tmp_path: os.PathLike[str], reads: bool,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A database host that crashes (or a failover to a new primary at the same address) sends no
    # FIN: the shard holder, which never speaks, keeps an open socket and is never told, while the
    # server has no lock any more and lets a second process run the same shards beside it.
    if backend != POSTGRESQL:
        pytest.skip("SQLite serves one process")
    import re

    import bot.db.postgres

    # Without reads, only the holder's own periodic question can find it (every 30 s in a real
    # process; sooner here).
    monkeypatch.setattr(bot.db.postgres, "HOLDER_PING_EVERY", 30.0 if reads else 0.5)
    probe = await start_process()
    direct = probe.db.url  # type: ignore[attr-defined]
    real_folder = re.search(r"host=([^&]+)", direct)
    assert real_folder is not None
    proxy = _RebootingProxy(str(tmp_path), real_folder.group(1))
    await proxy.start()
    try:
        a = await start_process(shards=SHARD_0_OF_2)
        await a.db.close()
        a.db.url = direct.replace(real_folder.group(1), str(tmp_path))  # type: ignore[attr-defined]
        await a.db.open()
        await a.db.hold_shards()
        proxy.reboot()
        if reads:
            assert [row["one"] for row in await a.db.fetch_all("SELECT 1 AS one")] == [1]  # A reconnects, carries on
        second = await start_process(shards=SHARD_0_OF_2)
        refused = False
        for _ in range(150):  # 15 s: A's holder was lost; A must notice and hold its shards again
            try:
                await second.db.hold_shards()
            except OperatorError:
                refused = True
                break
            await second.db.close()
            await second.db.open()
            await asyncio.sleep(0.1)
        assert refused, "a second process took shard 0 while A still runs it (A never noticed its session ended)"
    finally:
        await proxy.stop()
