"""The closed-DM mark: one per user whatever the server, lifted by use anywhere, expiring, never in crisis."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from bot.config import Config
from bot.db.members import touch_in
from bot.db.outbox import NewOutboxItem
from bot.domain.clock import FakeClock
from bot.domain.crisis.templates import Language
from bot.domain.messages import OutgoingMessage, SendStatus
from bot.services.container import Services
from bot.services.crisis import SeenMessage
from tests.support import RecordingNotifier

G1, G2, ALERTS, GENERAL = 500, 600, 510, 520
U = 7001
TIER3 = "I have the pills ready and I'm going to do it tonight"
_keys = iter(range(1, 10**6))
WEEK = timedelta(days=7)  # how long a refusal holds back further DMs


@pytest.fixture
def config(config: Config) -> Config:
    return dataclasses.replace(config, crisis=dataclasses.replace(config.crisis, detection_intent=True))


async def dm(services: Services, text: str = "hello") -> SendStatus:
    """Queue a DM to U and send it; return what became of it."""
    key = f"test:{next(_keys)}"
    now = services.clock.now()
    await services.outbox_repo.enqueue(NewOutboxItem(key, "test", "dm", U, OutgoingMessage(text), G1),
                                       not_before=now, now=now)
    await services.outbox.dispatch()
    status = await services.outbox_repo.status_of(key)
    return SendStatus.SENT if status == "sent" else SendStatus.DM_CLOSED


async def refuse_once(services: Services, notifier: RecordingNotifier) -> None:
    """U closes their DMs; one DM is refused (which marks them), then they open DMs again."""
    notifier.dm_closed.add(U)
    assert await dm(services) is SendStatus.DM_CLOSED
    notifier.dm_closed.discard(U)


async def test_using_the_bot_in_any_server_lifts_the_mark_everywhere(services: Services,
                                                                     notifier: RecordingNotifier) -> None:
    await services.settings.touch(G1, U)
    await services.settings.touch(G2, U)
    await refuse_once(services, notifier)
    await services.settings.touch(G2, U)  # they use Kindred again, in the other server
    assert await dm(services, "welcome back") is SendStatus.SENT
    assert [m.message.content for m in notifier.dms_to(U)] == ["welcome back"]


async def test_a_server_met_after_the_refusal_shares_the_mark(services: Services,
                                                              notifier: RecordingNotifier) -> None:
    await services.settings.touch(G1, U)
    await refuse_once(services, notifier)
    # Asked to be a buddy in another server (not using the bot): the mark holds there too...
    assert await services.members.get(G2, U) is None
    async with services.db.transaction() as conn:
        passive = await touch_in(conn, G2, U, services.clock.now(), active=False)
    assert passive.dm_closed_at is not None
    # ...and using the bot for the first time there lifts it everywhere.
    await services.settings.touch(G2 + 1, U)
    for guild in (G1, G2, G2 + 1):
        row = await services.members.get(guild, U)
        assert row is not None and row.dm_closed_at is None, guild


async def test_the_mark_expires_after_a_week(services: Services, notifier: RecordingNotifier,
                                             clock: FakeClock) -> None:
    await services.settings.touch(G1, U)
    await refuse_once(services, notifier)
    attempts = len(notifier.sent)
    clock.advance(WEEK - timedelta(minutes=1))
    assert await dm(services) is SendStatus.DM_CLOSED
    assert len(notifier.sent) == attempts, "a DM known to be closed was tried again within the week"
    clock.advance(timedelta(minutes=1))
    assert await dm(services, "a week later") is SendStatus.SENT
    assert [m.message.content for m in notifier.dms_to(U)] == ["a week later"]


async def test_a_refusal_after_expiry_marks_the_member_again(services: Services, notifier: RecordingNotifier,
                                                              clock: FakeClock) -> None:
    await services.settings.touch(G1, U)
    notifier.dm_closed.add(U)
    assert await dm(services) is SendStatus.DM_CLOSED
    clock.advance(WEEK)
    assert await dm(services) is SendStatus.DM_CLOSED  # tried (one request a week), refused again
    assert len(notifier.sent) == 2
    clock.advance(timedelta(days=1))
    assert await dm(services) is SendStatus.DM_CLOSED
    assert len(notifier.sent) == 2, "the new refusal starts a new week"


async def detect_tier3(services: Services) -> None:
    await services.guild_config.set_alerts(G1, channel_id=ALERTS, role_id=None)
    await services.guild_config.set_crisis(G1, detection=True, region="GB")
    seen = SeenMessage(G1, GENERAL, 4242, U, "Recovery Circle", Language.EN)
    await services.crisis.handle_detection(seen, services.crisis.detect(TIER3))


async def test_a_crisis_dm_is_attempted_despite_the_mark(services: Services, notifier: RecordingNotifier) -> None:
    await services.settings.touch(G1, U)
    await refuse_once(services, notifier)  # DMs open again, but the mark says closed
    await detect_tier3(services)
    [crisis_dm] = [m for m in notifier.dms_to(U) if "999" in m.message.content]
    assert crisis_dm.result.ok
    assert notifier.posts_in(GENERAL) == [], "no public nudge when the DM arrived"


async def test_a_refused_crisis_dm_still_falls_back_to_the_public_nudge(services: Services,
                                                                         notifier: RecordingNotifier) -> None:
    await services.settings.touch(G1, U)
    await refuse_once(services, notifier)
    notifier.dm_closed.add(U)
    before = len(notifier.sent)
    await detect_tier3(services)
    tried = [s for s in notifier.sent[before:] if s.target == "dm" and s.target_id == U]
    assert [s.result.status for s in tried] == [SendStatus.DM_CLOSED], "the crisis DM was not even attempted"
    [nudge] = notifier.posts_in(GENERAL)
    assert "/crisis" in nudge.message.content
