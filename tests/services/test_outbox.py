"""The outbox: send once, retry transient failures, stop on closed DMs, fall back."""

from __future__ import annotations

from datetime import timedelta

from bot.db.outbox import NewOutboxItem, enqueue
from bot.domain.clock import FakeClock
from bot.domain.messages import OutgoingMessage, SendStatus
from bot.services.container import Services
from bot.services.outbox import MAX_ATTEMPTS, nonce_for
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


async def test_crash_after_send_is_deduplicated_by_nonce(services: Services, notifier: RecordingNotifier) -> None:
    await queue(services, "k1")
    item = (await services.outbox_repo.due(services.clock.now(), 10))[0]
    # Simulate: Discord accepted the message, then the process died before marking it sent.
    await notifier.send_channel(item.target_id, item.message, nonce=nonce_for(item.dedupe_key))
    await services.outbox.dispatch()  # after restart
    assert len(notifier.posts_in(555)) == 1
    assert await services.outbox_repo.status_of("k1") == "sent"


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
