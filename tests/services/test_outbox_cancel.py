"""A change that withdraws a queued message wins over a batch already being sent.

The outbox reads due rows in batches and sends them SENDERS at a time; slow sends (Discord
rate-limiting us, a 5xx retry) can hold a batch for seconds. Whatever a member does
meanwhile — delete their data, pause or end buddies, remove a counter or make it private —
must stop a message of that batch that has not gone out yet.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

from bot.db.outbox import NewOutboxItem
from bot.domain.clock import FakeClock
from bot.domain.messages import OutgoingMessage, SendResult
from bot.services.container import Services
from bot.services.outbox import SENDERS
from tests.support import RecordingNotifier

G, ALICE, BOB = 700, 7101, 7102
CELEBRATIONS = 7901
SLOW_CHANNELS = range(7800, 7800 + SENDERS)  # one slow post per sender: the batch in flight holds them all


@dataclass
class SlowChannels:
    """Holds every post to the slow channels until released: the sends in flight while the member acts."""

    started: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    held: int = 0

    def install(self, notifier: RecordingNotifier) -> None:
        original = notifier.send_channel

        async def send_channel(channel_id: int, message: OutgoingMessage, *, nonce: str | None = None) -> SendResult:
            if channel_id in SLOW_CHANNELS:
                self.held += 1
                if self.held == len(SLOW_CHANNELS):
                    self.started.set()
                await self.release.wait()
            return await original(channel_id, message, nonce=nonce)

        notifier.send_channel = send_channel  # type: ignore[method-assign]


async def while_a_batch_is_in_flight(services: Services, notifier: RecordingNotifier,
                                     action: Callable[[], Awaitable[object]]) -> None:
    """Queue slow posts ahead of everything due, start sending, run `action` mid-batch, finish."""
    slow = SlowChannels()
    slow.install(notifier)
    now = services.clock.now()
    for channel in SLOW_CHANNELS:
        await services.outbox_repo.enqueue(NewOutboxItem(f"slow:{channel}", "test", "channel", channel,
                                                         OutgoingMessage("x")),
                                           not_before=now - timedelta(hours=1), now=now)
    dispatch = services.outbox.dispatch
    drain = asyncio.create_task(dispatch())
    await slow.started.wait()

    async def dispatch_after_release() -> int:
        # A feature that sends right after its change (e.g. the kind notice of /buddy end)
        # waits for the batch in flight, so the batch is let go once the change is made.
        slow.release.set()
        return await dispatch()

    services.outbox.dispatch = dispatch_after_release  # type: ignore[method-assign]
    try:
        await action()
    finally:
        slow.release.set()
        del services.outbox.dispatch
    await drain


async def milestone_due(services: Services, clock: FakeClock, *, public: bool = False) -> None:
    """Bob's counter reaches 7 days now; the sweep queues its celebration (not sent yet)."""
    if public:
        await services.guild_config.set_celebrations(G, channel_id=CELEBRATIONS)
        await services.recovery.start(G, BOB, "2026-11-14", visibility="server")
        await services.recovery.update_settings(G, BOB, "recovery", celebrate="channel")
    else:
        await services.recovery.start(G, BOB, "2026-11-14")
    assert await services.recovery.sweep(clock.now()) == 1


async def nudge_waiting(services: Services, clock: FakeClock) -> None:
    """Alice nudges her buddy Bob during his quiet hours; the nudge is due when they end."""
    await services.buddies.request(G, ALICE, BOB)
    await services.buddies.accept(G, BOB, ALICE)
    await services.settings.set_quiet_hours(G, BOB, "09:00", "12:00")
    await services.buddies.nudge(G, ALICE, BOB)
    clock.set(clock.now().replace(hour=12))


def bob_dms(notifier: RecordingNotifier, needle: str) -> list[str]:
    return [m.message.content for m in notifier.dms_to(BOB) if needle in m.message.content]


async def test_privacy_delete_stops_a_dm_of_the_batch_in_flight(services: Services, clock: FakeClock,
                                                                notifier: RecordingNotifier) -> None:
    await milestone_due(services, clock)

    async def delete() -> None:
        await services.privacy.request_delete(G, BOB)
        await services.privacy.confirm_delete(G, BOB)

    await while_a_batch_is_in_flight(services, notifier, delete)
    assert bob_dms(notifier, "7 days") == []
    assert all([m.message.content for m in notifier.posts_in(c)] == ["x"] for c in SLOW_CHANNELS)


async def test_removing_a_counter_stops_its_celebration_in_flight(services: Services, clock: FakeClock,
                                                                  notifier: RecordingNotifier) -> None:
    await milestone_due(services, clock)
    await while_a_batch_is_in_flight(services, notifier, lambda: services.recovery.remove(G, BOB, "recovery"))
    assert bob_dms(notifier, "7 days") == []
    assert await services.db.fetch_value("SELECT status FROM outbox WHERE kind = 'milestone'") == "cancelled"


async def test_making_a_counter_private_stops_its_public_celebration_in_flight(
        services: Services, clock: FakeClock, notifier: RecordingNotifier) -> None:
    await milestone_due(services, clock, public=True)
    await while_a_batch_is_in_flight(
        services, notifier, lambda: services.recovery.update_settings(G, BOB, "recovery", visibility="private"))
    assert notifier.posts_in(CELEBRATIONS) == [], "a counter made private was still celebrated in public"


async def test_a_buddy_pause_stops_a_nudge_in_flight(services: Services, clock: FakeClock,
                                                     notifier: RecordingNotifier) -> None:
    await nudge_waiting(services, clock)
    await while_a_batch_is_in_flight(services, notifier, lambda: services.buddies.pause(G, BOB, 3))
    assert bob_dms(notifier, "is thinking of you") == []


async def test_ending_a_pairing_stops_a_nudge_in_flight(services: Services, clock: FakeClock,
                                                        notifier: RecordingNotifier) -> None:
    await nudge_waiting(services, clock)
    await while_a_batch_is_in_flight(services, notifier, lambda: services.buddies.end(G, ALICE, BOB))
    assert bob_dms(notifier, "is thinking of you") == []
    assert len(bob_dms(notifier, "ended your buddy pairing")) == 1  # the kind notice still arrives
