"""The outbox: send once, retry transient failures, stop on closed DMs, fall back."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.config import Config
from bot.db.database import Database
from bot.db.outbox import NewOutboxItem, cancel_in, enqueue
from bot.domain.clock import FakeClock
from bot.domain.health import outbox_finding
from bot.domain.messages import OutgoingMessage, SendResult, SendStatus
from bot.services.container import Services, build_services
from bot.services.outbox import CLAIM_TTL, MAX_ATTEMPTS, SEND_TIMEOUT, SENDERS, nonce_for
from tests.reliability.support import NONCE_WINDOW, CrashPlan, DiscordLikeNotifier
from tests.support import RecordingNotifier

G, U = 10, 20


async def queue(services: Services, key: str, target: str = "channel", target_id: int = 555,
                message: OutgoingMessage | None = None) -> int | None:
    now = services.clock.now()
    async with services.db.transaction() as conn:
        return await enqueue(conn, NewOutboxItem(key, "test", target, target_id, message or OutgoingMessage("hi")),
                             not_before=now, now=now)


async def test_same_occurrence_is_queued_and_sent_once(services: Services, notifier: RecordingNotifier) -> None:
    assert await queue(services, "prompt:10:2026-11-21") is not None
    assert await queue(services, "prompt:10:2026-11-21") is None
    assert await services.outbox.dispatch() == 1
    assert await services.outbox.dispatch() == 0
    assert len(notifier.posts_in(555)) == 1
    assert notifier.sent[0].nonce == nonce_for("prompt:10:2026-11-21")
    assert len(notifier.sent[0].nonce or "") == 25


async def test_crash_after_send_is_deduplicated_by_nonce(services: Services, notifier: RecordingNotifier,
                                                          config: Config, db: Database) -> None:
    outbox_id = await queue(services, "k1")
    assert outbox_id is not None
    now = services.clock.now()
    item = await services.outbox_repo.claim(outbox_id, services.outbox.token, now, until=now + CLAIM_TTL)
    assert item is not None
    # Simulate: Discord accepted the message, then the process died before marking it sent.
    await notifier.send_channel(item.target_id, item.message, nonce=nonce_for(item.dedupe_key))
    restarted = build_services(config, db, services.clock, notifier)
    await restarted.outbox.dispatch()  # after restart
    assert len(notifier.posts_in(555)) == 1
    assert await restarted.outbox_repo.status_of("k1") == "sent"


async def test_transient_failures_retry_with_backoff(services: Services, notifier: RecordingNotifier,
                                                     clock: FakeClock) -> None:
    notifier.transient_failures = 2
    await queue(services, "k2")
    await services.outbox.dispatch()
    await services.outbox.dispatch()  # not due yet: no tight retry loop
    assert len(notifier.sent) == 1 and not notifier.delivered()
    clock.advance(timedelta(minutes=1))
    await services.outbox.dispatch()
    clock.advance(timedelta(minutes=1))
    await services.outbox.dispatch()
    assert len(notifier.sent) == 2 and not notifier.delivered()
    clock.advance(timedelta(minutes=2))
    await services.outbox.dispatch()
    assert len(notifier.delivered()) == 1


async def test_gives_up_after_max_attempts(services: Services, notifier: RecordingNotifier, clock: FakeClock) -> None:
    notifier.transient_failures = 10**6
    await queue(services, "k3")
    for _ in range(50):
        await services.outbox.dispatch()
        clock.advance(timedelta(hours=1))
    assert len(notifier.sent) == MAX_ATTEMPTS
    assert await services.outbox_repo.status_of("k3") == "undeliverable"


async def test_closed_dm_marks_member_falls_back_and_is_not_retried(services: Services,
                                                                     notifier: RecordingNotifier) -> None:
    await services.settings.touch(G, U)
    notifier.dm_closed.add(U)
    nudge = OutgoingMessage("public nudge")
    await queue(services, "dm1", "dm", U, OutgoingMessage("private", fallback_channel_id=777, fallback=nudge))
    await services.outbox.dispatch()
    assert await services.members.dm_closed(U, services.clock.now())
    assert [s.message.content for s in notifier.posts_in(777)] == ["public nudge"]
    attempts_before = len(notifier.sent)
    await queue(services, "dm2", "dm", U)
    await services.outbox.dispatch()
    assert len(notifier.sent) == attempts_before, "a known-closed DM was tried again"
    assert await services.outbox_repo.status_of("dm2") == "undeliverable"


async def test_deliver_now_reports_the_outcome(services: Services, notifier: RecordingNotifier) -> None:
    notifier.dm_closed.add(U)
    result = await services.outbox.deliver_now(NewOutboxItem("req:1", "buddy.request", "dm", U, OutgoingMessage("hey")))
    assert result.status is SendStatus.DM_CLOSED
    ok = await services.outbox.deliver_now(NewOutboxItem("req:2", "buddy.request", "dm", U + 1, OutgoingMessage("hey")))
    assert ok.ok and ok.message_id is not None


async def test_result_hooks_see_outcomes(services: Services, notifier: RecordingNotifier) -> None:
    seen = []

    async def hook(item: object, result: object) -> None:
        seen.append((item, result))

    services.outbox.on_result("test", hook)
    await queue(services, "k4")
    await services.outbox.dispatch()
    assert len(seen) == 1


async def test_a_finished_message_keeps_only_what_exactly_once_needs(services: Services,
                                                                       notifier: RecordingNotifier) -> None:
    notifier.dm_closed.add(U + 1)
    await queue(services, "body:sent", message=OutgoingMessage("private words"))
    await queue(services, "body:refused", "dm", U + 1, OutgoingMessage("private words"))
    await queue(services, "body:waiting", "dm", U, OutgoingMessage("private words"))
    async with services.db.transaction() as conn:
        await cancel_in(conn, keys=["body:waiting"])
    await services.outbox.dispatch()
    rows = await services.db.fetch_all("SELECT dedupe_key, status, payload, sent_at, message_id FROM outbox "
                                       "ORDER BY outbox_id")
    assert [(r["dedupe_key"], r["status"], r["payload"]) for r in rows] == [
        ("body:sent", "sent", None), ("body:refused", "undeliverable", None), ("body:waiting", "cancelled", None)]
    assert rows[0]["sent_at"] is not None and rows[0]["message_id"] is not None
    assert await queue(services, "body:sent") is None  # the key still makes a second queueing a no-op


def test_outgoing_message_round_trips_through_json() -> None:
    from bot.domain.messages import Button, ButtonStyle

    message = OutgoingMessage("c", buttons=(Button("kindred:pledge", "Pledge", ButtonStyle.SUCCESS, "🤝"),),
                              embed_title="t", mention_role_id=5, react="🎉", fallback_channel_id=9,
                              fallback=OutgoingMessage("f"))
    assert OutgoingMessage.from_json(message.to_json()) == message


async def test_deliver_now_does_not_wait_for_a_running_dispatch(services: Services, notifier: RecordingNotifier) -> None:
    import asyncio

    release = asyncio.Event()
    started = asyncio.Event()
    original = notifier.send_channel

    async def slow_channel(channel_id: int, message: OutgoingMessage, *, nonce: str | None = None) -> object:
        started.set()
        await release.wait()
        return await original(channel_id, message, nonce=nonce)

    notifier.send_channel = slow_channel  # type: ignore[method-assign]
    for n in range(3):
        await queue(services, f"prompt:{n}")
    drain = asyncio.create_task(services.outbox.dispatch())
    await started.wait()
    urgent = await asyncio.wait_for(
        services.outbox.deliver_now(NewOutboxItem("urgent:1", "test.urgent", "dm", U, OutgoingMessage("urgent"))),
        timeout=5)
    assert urgent.ok, "the urgent DM went out while the prompt drain was still sending"
    release.set()
    assert await drain == 3
    assert [s.message.content for s in notifier.sent if s.result.ok] == ["urgent", "hi", "hi", "hi"]


async def test_concurrent_dispatches_never_send_a_row_twice(services: Services, notifier: RecordingNotifier) -> None:
    import asyncio

    for n in range(120):
        await queue(services, f"k:{n}", target_id=1000 + n)
    notifier._by_nonce.clear()
    results = await asyncio.gather(services.outbox.dispatch(), services.outbox.dispatch())
    assert sum(results) == 120
    assert sorted(s.target_id for s in notifier.sent) == list(range(1000, 1120))


# -- claims: each row is claimed in the database just before its send --------------------

async def test_only_the_claimant_records_an_outcome(services: Services, clock: FakeClock) -> None:
    repo = services.outbox_repo
    outbox_id = await queue(services, "claim:1")
    assert outbox_id is not None
    now = clock.now()
    claimed = await repo.claim(outbox_id, "main:a", now, until=now + CLAIM_TTL)
    assert claimed is not None and claimed.message.content == "hi"
    assert await repo.claim(outbox_id, "main:b", now, until=now + CLAIM_TTL) is None  # held
    assert not await repo.mark_sent(outbox_id, "main:b", 1, now)
    assert not await repo.retry_later(outbox_id, "main:b", now, "503")
    assert not await repo.mark_undeliverable(outbox_id, "main:b", "403")
    assert await repo.status_of("claim:1") == "pending"
    assert await repo.mark_sent(outbox_id, "main:a", 1, now)
    assert await repo.status_of("claim:1") == "sent"
    assert await repo.claim(outbox_id, "main:b", now, until=now + CLAIM_TTL) is None  # done


async def test_a_row_claimed_by_a_live_process_waits_for_its_claim_to_expire(
        services: Services, clock: FakeClock, config: Config, db: Database) -> None:
    discord = DiscordLikeNotifier(clock)
    ours = build_services(config, db, clock, discord.for_process(CrashPlan()))
    outbox_id = await queue(ours, "claim:2")
    assert outbox_id is not None
    # Another process (another owner: e.g. another shard's) claims it, sends it, and dies
    # before it can record that Discord accepted it.
    now = clock.now()
    item = await services.outbox_repo.claim(outbox_id, "shard-1:x", now, until=now + CLAIM_TTL)
    assert item is not None
    discord.deliver("channel", item.target_id, item.message, nonce_for(item.dedupe_key))
    clock.advance(CLAIM_TTL - timedelta(seconds=1))
    assert await ours.outbox.dispatch() == 0, "a row another process holds was taken before its claim expired"
    clock.advance(timedelta(seconds=1))
    assert await ours.outbox.dispatch() == 1
    # Retaken within Discord's nonce window: the resend returned the message already posted.
    assert len(discord.delivered) == 1
    assert await ours.outbox_repo.status_of("claim:2") == "sent"


async def test_a_restarted_process_takes_back_the_claims_its_predecessor_died_with(
        services: Services, clock: FakeClock, config: Config, db: Database, notifier: RecordingNotifier) -> None:
    outbox_id = await queue(services, "claim:3")
    assert outbox_id is not None
    now = clock.now()
    # This process claimed the row and died before sending it.
    assert await services.outbox_repo.claim(outbox_id, services.outbox.token, now, until=now + CLAIM_TTL)
    restarted = build_services(config, db, clock, notifier)
    assert await restarted.outbox.dispatch() == 1  # at once: with one process, nobody else holds it
    assert len(notifier.posts_in(555)) == 1


async def test_a_send_that_hangs_is_given_up_before_its_claim_expires(services: Services,
                                                                       notifier: RecordingNotifier) -> None:
    import asyncio

    async def hang(channel_id: int, message: OutgoingMessage, *, nonce: str | None = None) -> object:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    notifier.send_channel = hang  # type: ignore[method-assign]
    services.outbox.send_timeout = 0.01
    await queue(services, "hang:1")
    await services.outbox.dispatch()
    row = await services.db.fetch_one("SELECT status, attempts, last_error, claimed_by FROM outbox")
    assert row is not None
    assert (row["status"], row["attempts"], row["claimed_by"]) == ("pending", 1, None)  # retried later, same nonce
    assert SEND_TIMEOUT + timedelta(seconds=30) < CLAIM_TTL < NONCE_WINDOW - SEND_TIMEOUT - timedelta(seconds=30)


class SlowDiscord(RecordingNotifier):
    """Discord answering each send after `delay` seconds, as a real one does in 50-150 ms."""

    def __init__(self, delay: float = 0.02) -> None:
        super().__init__()
        self.delay = delay
        self.in_flight: set[int] = set()
        self.peak = 0
        self.overlapping_same_target = 0

    async def send_channel(self, channel_id: int, message: OutgoingMessage, *, nonce: str | None = None) -> SendResult:
        if channel_id in self.in_flight:
            self.overlapping_same_target += 1
        self.in_flight.add(channel_id)
        self.peak = max(self.peak, len(self.in_flight))
        try:
            await asyncio.sleep(self.delay)
            return await super().send_channel(channel_id, message, nonce=nonce)
        finally:
            self.in_flight.discard(channel_id)


async def test_a_fan_out_overlaps_sends_to_different_targets_and_keeps_each_targets_order(
        config: Config, db: Database, clock: FakeClock) -> None:
    # Sent one at a time, 500 prompts at Discord's usual 100 ms would take 50 s, not the 10 s the
    # global limit allows: sends to different channels overlap (within the limit, which the
    # notifier keeps), while one channel's messages still go out one after another, in order.
    slow = SlowDiscord()
    services = build_services(config, db, clock, slow)
    for n in range(24):
        await queue(services, f"fan:{n}", target_id=1000 + n)
    for n in range(4):
        await queue(services, f"same:{n}", target_id=7, message=OutgoingMessage(f"#{n}"))
    assert await services.outbox.dispatch() == 28
    assert slow.peak == SENDERS and slow.overlapping_same_target == 0
    assert [s.message.content for s in slow.posts_in(7)] == ["#0", "#1", "#2", "#3"]
    assert len(slow.delivered()) == 28


async def test_a_message_retried_for_half_an_hour_counts_as_late_work(
        services: Services, notifier: RecordingNotifier, clock: FakeClock) -> None:
    # Discord's REST answers 503 for 35 minutes: each retry moves the row's next try forward, and
    # the backlog must still see a prompt that has been due for 35 minutes (status: unhealthy).
    notifier.transient_failures = 10**6
    await queue(services, "prompt:1:today", target_id=555)
    for _ in range(35):
        await services.outbox.dispatch()
        clock.advance(timedelta(minutes=1))
    waiting, oldest = await services.outbox_repo.backlog(clock.now())
    assert waiting == 1 and oldest is not None and clock.now() - oldest >= timedelta(minutes=35)
    finding = outbox_finding(clock.now(), waiting, oldest)
    assert not finding.healthy and "35 min late" in finding.detail
