"""Passive detection actions, cooldowns, alert buttons and /alertmods, on the real database with a fake clock."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from datetime import timedelta

import pytest

from bot.config import Config
from bot.db.outbox import NewOutboxItem, enqueue
from bot.domain.clock import FakeClock
from bot.domain.crisis.detection import Detection
from bot.domain.crisis.records import AlertAction, DmStatus
from bot.domain.crisis.templates import Language
from bot.domain.messages import OutgoingMessage, SendResult
from bot.errors import NotFoundError, PermissionDeniedError
from bot.services.container import Services, build_services
from bot.services.crisis import (
    DetectionAction,
    RequestStatus,
    SeenMessage,
    safe_modifiers,
)
from tests.support import RecordingNotifier

G, ALERTS, GENERAL, ROLE = 900, 910, 920, 930
ALICE, BOB, MOD = 7001, 7002, 7003
TIER3 = "I have the pills ready and I'm going to do it tonight"
TIER2 = "honestly I just want to die"
TIER1 = "i feel so hopeless"
_ids = iter(range(10**6, 10**7))


@pytest.fixture
def config(config: Config) -> Config:
    return dataclasses.replace(config, crisis=dataclasses.replace(config.crisis, detection_intent=True))


@dataclasses.dataclass
class Edits:
    """A recording AlertEditor."""

    calls: list[tuple[int, int, OutgoingMessage]] = dataclasses.field(default_factory=list)

    async def __call__(self, channel_id: int, message_id: int, message: OutgoingMessage) -> bool:
        self.calls.append((channel_id, message_id, message))
        return True

    @property
    def last(self) -> OutgoingMessage:
        return self.calls[-1][2]


@pytest.fixture
def edits(services: Services) -> Edits:
    recorder = Edits()
    services.crisis.edit_alert = recorder
    return recorder


async def enable(services: Services, *, role: bool = True, **crisis: object) -> None:
    await services.guild_config.set_alerts(G, channel_id=ALERTS, role_id=ROLE if role else None)
    await services.guild_config.set_crisis(G, detection=True, region="GB", **crisis)  # type: ignore[arg-type]


async def say(services: Services, text: str, user: int = ALICE, channel: int = GENERAL,
              message_id: int | None = None) -> tuple[int, DetectionAction, int | None, DmStatus | None]:
    message_id = message_id or next(_ids)
    seen = SeenMessage(G, channel, message_id, user, "Recovery Circle", Language.EN)
    result = await services.crisis.handle_detection(seen, services.crisis.detect(text))
    return message_id, result.action, result.alert_id, result.dm_status


def posts(notifier: RecordingNotifier, channel: int = ALERTS) -> list[OutgoingMessage]:
    return [s.message for s in notifier.posts_in(channel)]


def dms(notifier: RecordingNotifier, user: int = ALICE) -> list[OutgoingMessage]:
    return [s.message for s in notifier.dms_to(user)]


async def test_tier3_alerts_with_a_ping_and_dms_emergency_first(services: Services, notifier: RecordingNotifier,
                                                                edits: Edits) -> None:
    await enable(services)
    message_id, action, alert_id, dm_status = await say(services, TIER3)
    assert (action, dm_status) == (DetectionAction.ALERTED, DmStatus.PENDING)
    [alert] = posts(notifier)
    assert alert.mention_role_id == ROLE and alert.content.startswith(f"<@&{ROLE}>")
    assert [b.custom_id for b in alert.buttons] == [f"kindred:alert:{a}:{alert_id}" for a in ("ack", "resolve", "false")]
    assert f"https://discord.com/channels/{G}/{GENERAL}/{message_id}" in (alert.embed_description or "")
    detection = services.crisis.detect(TIER3)
    assert detection.rule_id and detection.rule_id in (alert.embed_description or "")
    # Moderators see which concepts made the rule fire (names from the rule file).
    assert "concepts " + " + ".join(detection.concepts) in (alert.embed_description or "")
    [dm] = dms(notifier)
    block = dm.content.split("\n\n")[1]
    assert block.splitlines()[0].startswith("**In immediate danger") and "999" in block.splitlines()[0]
    assert "Samaritans" in block
    # The DM went out after the alert, and the alert was updated to say so.
    assert "Resources sent by DM" in (edits.last.embed_description or "")
    alert_row = await services.crisis.repo.get(alert_id or 0)
    assert alert_row is not None and alert_row.dm_status is DmStatus.SENT and alert_row.alert_message_id is not None


@pytest.mark.parametrize(("text", "pinged", "dm_key"), [
    (TIER3, True, "in danger right now"),
    ("my brother took too many pills and i can't wake him up", True, "may have taken too much"),
    (TIER2, False, "sounded really heavy"),
    ("my friend said she wants to kill herself", False, "worried about someone"),
    ("kys nobody wants you here", False, None),
    (TIER1, False, None),  # tier 1: alert only, unless the server turned tier-1 replies on
])
async def test_actions_by_tier_and_path(services: Services, notifier: RecordingNotifier, text: str, pinged: bool,
                                        dm_key: str | None) -> None:
    await enable(services)
    _, action, _, _ = await say(services, text)
    assert action is DetectionAction.ALERTED
    [alert] = posts(notifier)
    assert (alert.mention_role_id == ROLE) is pinged
    sent = dms(notifier)
    if dm_key is None:
        assert sent == []
    else:
        assert len(sent) == 1 and dm_key in sent[0].content and "automated" in sent[0].content


async def test_tier1_replies_and_relapse_support(services: Services, notifier: RecordingNotifier) -> None:
    await enable(services, tier1_replies=True)
    await say(services, "i relapsed last night and i want to drink so bad")
    [dm] = dms(notifier)
    assert "cravings or a slip" in dm.content
    first_resource = dm.content.split("\n\n")[1].splitlines()[0]
    assert first_resource.startswith("**Alcohol and drugs") and "FRANK" in first_resource  # not a suicide script


async def test_opt_out_stops_dms_not_alerts(services: Services, notifier: RecordingNotifier) -> None:
    await enable(services)
    await services.settings.set_crisis_replies(G, ALICE, False)
    _, _, _, dm_status = await say(services, TIER3)
    assert dm_status is DmStatus.OPTED_OUT
    [alert] = posts(notifier)
    assert alert.mention_role_id == ROLE and "Member turned crisis replies off" in (alert.embed_description or "")
    assert dms(notifier) == []


async def test_nothing_without_detection_an_alert_channel_or_in_the_alert_channel(
        services: Services, notifier: RecordingNotifier) -> None:
    assert not await services.crisis.watches(G)
    assert (await say(services, TIER3))[1] is DetectionAction.NONE
    await services.guild_config.set_crisis(G, detection=True)
    assert await services.crisis.watches(G)  # the cache follows /config crisis
    assert (await say(services, TIER3))[1] is DetectionAction.NO_ALERT_CHANNEL
    await services.guild_config.set_alerts(G, channel_id=ALERTS, role_id=None)
    assert (await say(services, TIER3, channel=ALERTS))[1] is DetectionAction.NONE  # moderators discussing it
    assert (await say(services, "this boss is killing me lol"))[1] is DetectionAction.NONE
    assert notifier.sent == []
    assert await services.db.fetch_value("SELECT count(*) FROM crisis_alerts") == 0
    await services.guild_config.set_crisis(G, detection=False)
    assert not await services.crisis.watches(G)


async def test_a_replayed_message_is_handled_once_even_after_a_restart(
        services: Services, notifier: RecordingNotifier, config: Config, clock: FakeClock) -> None:
    await enable(services)
    message_id, action, _, _ = await say(services, TIER3)
    assert (await say(services, TIER3, message_id=message_id))[1] is DetectionAction.DUPLICATE
    restarted = build_services(config, services.db, clock, notifier)
    seen = SeenMessage(G, GENERAL, message_id, ALICE, "Recovery Circle")
    result = await restarted.crisis.handle_detection(seen, restarted.crisis.detect(TIER3))
    assert result.action is DetectionAction.DUPLICATE
    assert len(posts(notifier)) == 1 and len(dms(notifier)) == 1


async def test_dm_cooldowns_and_burst_merging(services: Services, notifier: RecordingNotifier, clock: FakeClock,
                                              edits: Edits) -> None:
    await enable(services)
    _, action, first, status = await say(services, TIER2)
    assert (action, status) == (DetectionAction.ALERTED, DmStatus.PENDING)
    clock.advance(timedelta(minutes=30))
    _, action, merged, _ = await say(services, TIER2)
    assert (action, merged) == (DetectionAction.MERGED, first)
    assert "More matching messages since:** 1" in (edits.last.embed_description or "")
    clock.advance(timedelta(minutes=45))  # past the hour: a new alert, but no second DM within 6 hours
    _, action, second, status = await say(services, TIER2)
    assert action is DetectionAction.ALERTED and second != first and status is DmStatus.COOLDOWN
    assert "Prior alerts (7 days):** 1" in (posts(notifier)[-1].embed_description or "")
    _, _, third, status = await say(services, TIER3)  # tier 3 is never suppressed by the 6-hour cooldown
    assert status is DmStatus.PENDING
    clock.advance(timedelta(minutes=9))
    _, action, merged, _ = await say(services, TIER3)  # ...but a second one within 10 minutes is folded in
    assert (action, merged) == (DetectionAction.MERGED, third)
    clock.advance(timedelta(minutes=2))  # 11 minutes: a new tier-3 alert and DM
    _, action, _, status = await say(services, TIER3)
    assert (action, status) == (DetectionAction.ALERTED, DmStatus.PENDING)
    clock.advance(timedelta(hours=6))
    _, _, _, status = await say(services, TIER2)
    assert status is DmStatus.PENDING
    assert len(dms(notifier)) == 4 and len(posts(notifier)) == 5


async def test_a_higher_tier_or_another_path_is_not_folded_into_a_recent_alert(
        services: Services, notifier: RecordingNotifier) -> None:
    await enable(services)
    await say(services, TIER1)
    assert (await say(services, TIER3))[1] is DetectionAction.ALERTED
    assert (await say(services, "my friend said she wants to kill herself"))[1] is DetectionAction.ALERTED
    assert (await say(services, TIER1))[1] is DetectionAction.MERGED  # lower tier: folded into the tier-3 alert
    assert len(posts(notifier)) == 3


async def test_closed_dms_post_one_public_nudge_per_channel_per_half_hour(
        services: Services, notifier: RecordingNotifier, clock: FakeClock) -> None:
    await enable(services)
    notifier.dm_closed.update({ALICE, BOB})
    _, _, first, _ = await say(services, TIER3)
    [nudge] = posts(notifier, GENERAL)
    assert "/crisis" in nudge.content and str(ALICE) not in nudge.content
    assert (await services.crisis.repo.get(first or 0)).dm_status is DmStatus.NUDGED  # type: ignore[union-attr]
    clock.advance(timedelta(minutes=5))
    _, _, second, _ = await say(services, TIER3, user=BOB)
    assert len(posts(notifier, GENERAL)) == 1  # spaced: the channel is not pointed at again
    assert (await services.crisis.repo.get(second or 0)).dm_status is DmStatus.UNDELIVERABLE  # type: ignore[union-attr]
    clock.advance(timedelta(minutes=40))
    refused_before = len([s for s in notifier.sent if s.target == "dm"])
    await say(services, TIER3)  # alice's DMs are known closed, but crisis help is always tried: refused, the nudge again
    assert len([s for s in notifier.sent if s.target == "dm"]) == refused_before + 1
    assert len(posts(notifier, GENERAL)) == 2


async def test_no_public_nudge_when_the_server_turned_them_off(
        services: Services, notifier: RecordingNotifier) -> None:
    await enable(services, public_nudge=False)
    notifier.dm_closed.add(ALICE)
    _, _, alert_id, _ = await say(services, TIER3)
    assert posts(notifier, GENERAL) == []
    assert (await services.crisis.repo.get(alert_id or 0)).dm_status is DmStatus.UNDELIVERABLE  # type: ignore[union-attr]


async def test_alert_and_dm_are_queued_together_and_sent_once_after_a_crash(
        services: Services, notifier: RecordingNotifier, clock: FakeClock, monkeypatch: pytest.MonkeyPatch,
        edits: Edits) -> None:
    await enable(services)

    async def crash(keys: object) -> int:
        raise RuntimeError("process died after commit, before sending")

    monkeypatch.setattr(services.outbox, "send_now", crash)
    with pytest.raises(RuntimeError):
        await say(services, TIER3)
    assert notifier.sent == []
    monkeypatch.undo()
    notifier.transient_failures = 1  # the first try after restart hits a 503
    await services.scheduler.run_all_once()
    assert len(posts(notifier)) == 0 and len(dms(notifier)) == 1  # the alert waits to retry
    clock.advance(timedelta(minutes=2))
    await services.scheduler.run_all_once()
    await services.scheduler.run_all_once()
    assert len(posts(notifier)) == 1 and len(dms(notifier)) == 1
    [alert] = posts(notifier)
    assert "Sending resources by DM" in (alert.embed_description or "")  # rendered before the DM went out...
    assert "Resources sent by DM" in (edits.last.embed_description or "")  # ...and updated once it was posted
    await services.scheduler.run_all_once()
    assert len(posts(notifier)) == 1 and len(dms(notifier)) == 1


async def test_a_refused_alert_channel_does_not_stop_the_dm(services: Services, notifier: RecordingNotifier,
                                                            edits: Edits) -> None:
    await enable(services)
    notifier.failing.add(ALERTS)  # the bot lost access to the alert channel: a 403 is not retried
    _, _, alert_id, _ = await say(services, TIER3)
    assert posts(notifier) == [] and len(dms(notifier)) == 1
    alert = await services.crisis.repo.get(alert_id or 0)
    assert alert is not None and alert.dm_status is DmStatus.SENT and alert.alert_message_id is None
    assert edits.calls == []  # nothing posted, nothing to edit


async def test_transient_dm_failure_keeps_the_alert_sending_then_updates_it(
        services: Services, notifier: RecordingNotifier, clock: FakeClock, edits: Edits) -> None:
    await enable(services)
    original = notifier.send_dm
    calls = 0

    async def flaky_dm(user_id: int, message: OutgoingMessage, *, nonce: str | None = None):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls == 1:
            notifier.transient_failures = 1
        return await original(user_id, message, nonce=nonce)

    notifier.send_dm = flaky_dm  # type: ignore[method-assign]
    _, _, alert_id, _ = await say(services, TIER3)
    assert "Sending resources by DM" in (posts(notifier)[0].embed_description or "")
    assert (await services.crisis.repo.get(alert_id or 0)).dm_status is DmStatus.PENDING  # type: ignore[union-attr]
    clock.advance(timedelta(minutes=2))
    await services.scheduler.run_all_once()
    assert len(dms(notifier)) == 1
    assert "Resources sent by DM" in (edits.last.embed_description or "")


async def test_buttons_record_who_did_what_and_only_for_moderators(services: Services, notifier: RecordingNotifier,
                                                                   clock: FakeClock) -> None:
    await enable(services)
    _, _, alert_id, _ = await say(services, TIER3)
    assert alert_id is not None
    with pytest.raises(PermissionDeniedError):
        await services.crisis.act(G, alert_id, BOB, AlertAction.ACK, manage_guild=False, role_ids=[12345])
    with pytest.raises(NotFoundError):
        await services.crisis.act(G + 1, alert_id, MOD, AlertAction.ACK, manage_guild=True, role_ids=[])
    acked = await services.crisis.act(G, alert_id, BOB, AlertAction.ACK, manage_guild=False, role_ids=[ROLE])
    assert acked.changed and f"Acknowledged by <@{BOB}>" in (acked.message.embed_description or "")
    assert [b.custom_id.split(":")[2] for b in acked.message.buttons] == ["resolve", "false"]
    again = await services.crisis.act(G, alert_id, MOD, AlertAction.ACK, manage_guild=True, role_ids=[])
    assert not again.changed and again.alert.acknowledged_by == BOB
    clock.advance(timedelta(minutes=3))
    resolved = await services.crisis.act(G, alert_id, MOD, AlertAction.RESOLVE, manage_guild=True, role_ids=[])
    assert resolved.changed and resolved.message.buttons == ()
    assert (resolved.alert.status.value, resolved.alert.acknowledged_by, resolved.alert.resolved_by) == (
        "resolved", BOB, MOD)
    late = await services.crisis.act(G, alert_id, MOD, AlertAction.FALSE, manage_guild=True, role_ids=[])
    assert not late.changed and late.alert.status.value == "resolved"


@dataclasses.dataclass
class PostedAlert:
    """The posted alert as Discord holds it: each edit lands when its request completes."""

    shown: list[OutgoingMessage] = dataclasses.field(default_factory=list)
    hold_next: bool = False
    held: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    release: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    another_edit: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)

    async def __call__(self, channel_id: int, message_id: int, message: OutgoingMessage) -> bool:
        if self.hold_next:  # e.g. waiting out a 429: the rendering was read before the wait
            self.hold_next = False
            self.held.set()
            await self.release.wait()
        else:
            self.another_edit.set()
        self.shown.append(message)
        return True


async def test_a_slow_refresh_never_overwrites_a_moderators_resolution(services: Services) -> None:
    await enable(services)
    _, _, alert_id, _ = await say(services, TIER3)
    assert alert_id is not None
    posted = PostedAlert(hold_next=True)
    services.crisis.edit_alert = posted
    # A burst folds into the alert; its refresh reads the alert (still open) and is held up.
    burst = asyncio.create_task(say(services, TIER3))
    await posted.held.wait()
    # Meanwhile a moderator resolves it, and the resolution is to be shown.
    resolved = await services.crisis.act(G, alert_id, MOD, AlertAction.RESOLVE, manage_guild=True, role_ids=[])
    assert resolved.changed
    shown_resolution = asyncio.create_task(services.crisis.refresh_alert(alert_id))
    # Let the resolution's edit go out if nothing makes it wait its turn (a bounded wait: a
    # correct service holds it back until the older edit is done, so this always times out).
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(posted.another_edit.wait(), timeout=0.5)
    posted.release.set()
    await asyncio.gather(burst, shown_resolution)
    final = posted.shown[-1]
    assert f"Resolved by <@{MOD}>" in (final.embed_description or ""), "an older rendering replaced the resolution"
    assert final.buttons == ()


async def test_an_alert_is_edited_only_when_there_is_something_newer_to_show(services: Services,
                                                                             edits: Edits) -> None:
    await enable(services)
    _, _, alert_id, _ = await say(services, TIER3)
    assert alert_id is not None
    shown = len(edits.calls)  # posted, then edited once to show the DM went out
    await services.crisis.refresh_alert(alert_id)
    assert len(edits.calls) == shown  # nothing changed: no request
    await services.crisis.act(G, alert_id, MOD, AlertAction.ACK, manage_guild=True, role_ids=[])
    pressed = Edits()
    assert await services.crisis.show_alert(alert_id, pressed)  # the button press's own edit
    assert f"Acknowledged by <@{MOD}>" in (pressed.last.embed_description or "")
    await services.crisis.refresh_alert(alert_id)
    assert len(edits.calls) == shown
    stored = await services.crisis.repo.get(alert_id)
    assert stored is not None and stored.shown_version == stored.version


async def test_a_press_shows_its_change_even_if_the_posted_message_id_was_never_stored(services: Services,
                                                                                      edits: Edits) -> None:
    await enable(services)
    _, _, alert_id, _ = await say(services, TIER3)
    assert alert_id is not None
    # The process stopped right after Discord accepted the alert, before its id was stored.
    await services.db.execute("UPDATE crisis_alerts SET alert_message_id = NULL, shown_version = 1")
    await services.crisis.act(G, alert_id, MOD, AlertAction.RESOLVE, manage_guild=True, role_ids=[])
    pressed = Edits()
    assert await services.crisis.show_alert(alert_id, pressed, posted=(ALERTS, 4242))
    assert pressed.calls[0][:2] == (ALERTS, 4242) and pressed.last.buttons == ()
    stored = await services.crisis.repo.get(alert_id)
    assert stored is not None and stored.alert_message_id == 4242 and stored.shown_version == stored.version


async def test_a_deleted_moderator_is_cleared_from_alerts(services: Services, notifier: RecordingNotifier) -> None:
    await enable(services)
    _, _, alert_id, _ = await say(services, TIER3)
    await services.settings.touch(G, MOD)
    await services.crisis.act(G, alert_id or 0, MOD, AlertAction.ACK, manage_guild=True, role_ids=[])
    await services.privacy.request_delete(G, MOD)
    await services.privacy.confirm_delete(G, MOD)
    alert = await services.crisis.repo.get(alert_id or 0)
    assert alert is not None and alert.acknowledged_by is None and alert.status.value == "acknowledged"
    await services.privacy.request_delete(G, ALICE)
    await services.privacy.confirm_delete(G, ALICE)
    assert await services.crisis.repo.get(alert_id or 0) is None  # the alert about alice went with her


def test_safe_modifiers_keep_names_never_words(services: Services) -> None:
    detection: Detection = services.crisis.detect("kms lol, quokka")
    assert any("lol" in m for m in detection.modifiers)
    assert safe_modifiers(detection.modifiers, detection.concepts) == ("concepts wish", "humour -1")
    assert safe_modifiers(["idiom.boss suppressed 'this boss is killing me'", "humour -1 ('quokka')",
                           "third-party report -> path other", "past-thought frame -> dropped"],
                          ["means_ready", "timing", "not a name!"]) == (
        "concepts means_ready + timing", "humour -1", "third-party report -> path other")


# -- /alertmods ------------------------------------------------------------------------------


async def test_alertmods_without_a_channel_sends_nothing(services: Services, notifier: RecordingNotifier) -> None:
    result = await services.crisis.alert_moderators(G, GENERAL, ALICE, "help")
    assert result.status is RequestStatus.NO_CHANNEL and notifier.sent == []


async def test_alertmods_posts_once_per_few_minutes_and_stores_no_note(
        services: Services, notifier: RecordingNotifier, clock: FakeClock) -> None:
    await services.guild_config.set_alerts(G, channel_id=ALERTS, role_id=ROLE)
    note = "canary-note-55 please check on me"
    assert (await services.crisis.alert_moderators(G, GENERAL, ALICE, note)).status is RequestStatus.SENT
    [alert] = posts(notifier)
    assert note in alert.content and alert.mention_role_id is None  # names the member, pings no one
    assert f"<@{ALICE}>" in (alert.embed_description or "")
    assert f"https://discord.com/channels/{G}/{GENERAL})" in (alert.embed_description or "")
    too_soon = await services.crisis.alert_moderators(G, GENERAL, ALICE, None)
    assert too_soon.status is RequestStatus.TOO_SOON and too_soon.last_at == clock.now()
    clock.advance(timedelta(minutes=5))
    assert (await services.crisis.alert_moderators(G, GENERAL, ALICE, None)).status is RequestStatus.SENT
    assert len(posts(notifier)) == 2
    for table in ("crisis_alerts", "outbox", "members"):
        for row in await services.db.fetch_all(f"SELECT * FROM {table}"):  # noqa: S608
            assert "canary-note-55" not in " ".join(map(str, tuple(row)))


async def test_a_double_tap_of_alertmods_alerts_once(services: Services, notifier: RecordingNotifier) -> None:
    await services.guild_config.set_alerts(G, channel_id=ALERTS, role_id=None)
    first, second = await asyncio.gather(services.crisis.alert_moderators(G, GENERAL, ALICE, "help"),
                                         services.crisis.alert_moderators(G, GENERAL, ALICE, "help"))
    assert sorted(r.status.value for r in (first, second)) == [RequestStatus.SENT.value, RequestStatus.TOO_SOON.value]
    assert len(posts(notifier)) == 1, "two quick taps posted two alerts"
    assert await services.db.fetch_value("SELECT count(*) FROM crisis_alerts") == 1


async def test_a_long_note_still_fits_in_one_message(services: Services, notifier: RecordingNotifier) -> None:
    await services.guild_config.set_alerts(G, channel_id=ALERTS, role_id=None)
    note = "\n".join("a" for _ in range(500))  # 999 characters, 500 lines
    assert (await services.crisis.alert_moderators(G, GENERAL, ALICE, note)).status is RequestStatus.SENT
    [alert] = posts(notifier)
    assert len(alert.content) <= 2000 and alert.content.count("> a") == 20


async def test_alertmods_that_cannot_be_posted_leaves_no_alert(services: Services,
                                                               notifier: RecordingNotifier) -> None:
    await services.guild_config.set_alerts(G, channel_id=ALERTS, role_id=None)
    notifier.failing.add(ALERTS)
    result = await services.crisis.alert_moderators(G, GENERAL, ALICE, None)
    assert result.status is RequestStatus.UNDELIVERED
    assert await services.db.fetch_value("SELECT count(*) FROM crisis_alerts") == 0
    notifier.failing.clear()
    assert (await services.crisis.alert_moderators(G, GENERAL, ALICE, None)).status is RequestStatus.SENT


async def test_a_crisis_alert_and_dm_go_out_at_once_ahead_of_a_fan_out_being_sent(services: Services) -> None:
    # A member in crisis a moment after the minute's prompts began to go out: their alert and DM
    # must not wait behind hundreds of prompts (or thousands of reminders). Discord holds the
    # prompts after the first ten (every sender is busy with one) until the crisis is handled;
    # an alert or DM queued behind the prompts would never leave, and the wait below would fail.
    held = asyncio.Event()

    class BusyDiscord(RecordingNotifier):
        async def send_channel(self, channel_id: int, message: OutgoingMessage, *, nonce: str | None = None) -> SendResult:
            if channel_id >= 50_000 and len(self.sent) >= 10:
                await held.wait()
            return await super().send_channel(channel_id, message, nonce=nonce)

    busy = BusyDiscord()
    services.outbox.notifier = busy
    services.crisis.notifier = busy
    await enable(services)
    now = services.clock.now()
    async with services.db.transaction() as conn:
        for n in range(300):
            await enqueue(conn, NewOutboxItem(f"prompt:{n}", "checkin.prompt", "channel", 50_000 + n,
                                              OutgoingMessage("prompt")), not_before=now, now=now)
    drain = asyncio.create_task(services.outbox.dispatch())
    while len(busy.sent) < 10:
        await asyncio.sleep(0.001)
    _, action, _, dm_status = await asyncio.wait_for(say(services, TIER3), 30)
    sent_while_busy = [s.target_id for s in busy.sent]
    held.set()
    await drain
    assert sent_while_busy[10:] == [ALERTS, ALICE], (action, dm_status, sent_while_busy[10:])
    assert len(busy.sent) == 302 and sum(s.target_id >= 50_000 for s in busy.sent) == 300
