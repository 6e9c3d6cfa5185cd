"""BuddyService on a real database with a fake clock, a recording notifier and fake check-ins."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import pytest

from bot.db.buddies import BuddyRepository
from bot.db.database import SQLITE
from bot.db.members import MemberRepository
from bot.db.outbox import OutboxItem
from bot.domain.clock import FakeClock
from bot.domain.keys import RowRef
from bot.domain.localtime import local_date, occurrence_on, zone
from bot.domain.messages import OutgoingMessage, SendResult, SendStatus
from bot.errors import (
    ConflictError,
    InvalidInputError,
    NotConfiguredError,
    NotFoundError,
    PermissionDeniedError,
)
from bot.services.buddies import BuddyService, Delivery, MembershipCheck
from bot.services.container import Services
from tests.support import RecordingNotifier

GUILD = 900_000_000_000_000_001
A, B, C, D = (100_000_000_000_000_000 + i for i in range(1, 5))
REQUEST_TEXT = "would like to be your accountability buddy"
NUDGE_TEXT = "hasn't checked in"
MANUAL_TEXT = "is thinking of you"


@dataclass(frozen=True, slots=True)
class Summary:
    last_local_date: date | None
    current_streak: int
    longest_streak: int


class FakeCheckIns:
    """Implements the two check-in calls buddies use, from days a test sets."""

    def __init__(self, members: MemberRepository) -> None:
        self.members = members
        self.last: dict[int, date] = {}
        self.streak: dict[int, int] = {}
        self.asked: list[Sequence[int]] = []

    async def mark(self, user_id: int, day: date, streak: int = 1) -> None:
        member = await self.members.get(GUILD, user_id)
        assert member is not None
        self.last[member.member_id] = day
        self.streak[member.member_id] = streak

    async def last_checkin_dates(self, member_ids: Sequence[int]) -> dict[int, date]:
        self.asked.append(list(member_ids))
        return {m: self.last[m] for m in member_ids if m in self.last}

    async def summary(self, guild_id: int, user_id: int) -> Summary:
        member = await self.members.get(guild_id, user_id)
        if member is None or member.member_id not in self.last:
            return Summary(None, 0, 0)
        return Summary(self.last[member.member_id], self.streak[member.member_id], 9)


@pytest.fixture
def checkins(services: Services) -> FakeCheckIns:
    return FakeCheckIns(services.members)


@pytest.fixture
def buddies(services: Services, checkins: FakeCheckIns) -> BuddyService:
    service = BuddyService(services.db, BuddyRepository(services.db), services.members, services.guild_config,
                           services.outbox, checkins, checkins, services.clock, services.config)
    service.register_delivery_hooks()
    service.guild_name = lambda guild_id: "Recovery Circle" if guild_id == GUILD else None
    return service


def texts(notifier: RecordingNotifier, user_id: int, needle: str = "") -> list[str]:
    return [m.message.content for m in notifier.dms_to(user_id) if needle in m.message.content]


async def pair(buddies: BuddyService, a: int, b: int) -> None:
    await buddies.request(GUILD, a, b)
    await buddies.accept(GUILD, b, a)


async def outbox_rows(services: Services, kind: str) -> list[tuple[str, str, str]]:
    rows = await services.db.fetch_all(
        "SELECT dedupe_key, status, not_before FROM outbox WHERE kind = ? ORDER BY outbox_id", (kind,))
    return [(r["dedupe_key"], r["status"], r["not_before"]) for r in rows]


# -- requests ----------------------------------------------------------------------------

async def test_request_reaches_the_target_by_dm_with_buttons(buddies: BuddyService,
                                                            notifier: RecordingNotifier) -> None:
    outcome = await buddies.request(GUILD, A, B)
    assert outcome.delivery is Delivery.SENT and not outcome.paired
    [dm] = notifier.dms_to(B)
    assert REQUEST_TEXT in dm.message.content and f"<@{A}>" in dm.message.content
    assert "Recovery Circle" in dm.message.content
    assert [b.custom_id for b in dm.message.buttons] == [
        f"kindred:buddy:accept:{outcome.ref}", f"kindred:buddy:decline:{outcome.ref}"]
    assert dm.nonce is not None  # sent through the outbox


@pytest.mark.parametrize(("target", "bot", "error"), [(A, False, InvalidInputError), (B, True, InvalidInputError)])
async def test_no_self_or_bot_requests(buddies: BuddyService, notifier: RecordingNotifier, services: Services,
                                       target: int, bot: bool, error: type[Exception]) -> None:
    with pytest.raises(error):
        await buddies.request(GUILD, A, target, target_is_bot=bot)
    assert notifier.sent == []
    assert await services.db.fetch_value("SELECT count(*) FROM buddy_requests") == 0


async def test_duplicate_request_is_refused_and_sends_nothing(buddies: BuddyService,
                                                             notifier: RecordingNotifier) -> None:
    await buddies.request(GUILD, A, B)
    with pytest.raises(ConflictError, match="already asked"):
        await buddies.request(GUILD, A, B)
    assert len(notifier.dms_to(B)) == 1


async def test_requests_are_capped_and_a_no_is_respected(
        buddies: BuddyService, clock: FakeClock, notifier: RecordingNotifier) -> None:
    others = [200_000_000_000_000_000 + i for i in range(6)]
    for other in others[:5]:
        await buddies.request(GUILD, A, other)
    with pytest.raises(ConflictError, match="5 requests waiting"):
        await buddies.request(GUILD, A, others[5])
    await buddies.decline(GUILD, others[0], A)
    await buddies.request(GUILD, A, others[5])  # room again
    with pytest.raises(ConflictError, match="won't ask them again just yet"):
        await buddies.request(GUILD, A, others[0])
    assert len(notifier.dms_to(others[0])) == 1
    clock.advance(timedelta(days=31))
    await buddies.request(GUILD, A, others[0])
    assert len(notifier.dms_to(others[0])) == 2


async def test_accept_pairs_and_tells_the_requester(buddies: BuddyService, notifier: RecordingNotifier) -> None:
    outcome = await buddies.request(GUILD, A, B)
    assert outcome.request_id is not None
    answer = await buddies.answer_by_button(outcome.ref, B, accept=True)
    assert answer.accepted and answer.asker_user == A
    assert await buddies.are_buddies(GUILD, A, B) and await buddies.are_buddies(GUILD, B, A)
    assert not await buddies.are_buddies(GUILD, A, C)
    [told] = texts(notifier, A)
    assert "said yes" in told and f"<@{B}>" in told
    with pytest.raises(ConflictError):  # a second click changes nothing
        await buddies.answer_by_button(outcome.ref, B, accept=True)
    assert len(texts(notifier, A)) == 1


async def test_only_the_addressed_member_can_answer(buddies: BuddyService, services: Services) -> None:
    outcome = await buddies.request(GUILD, A, B)
    assert outcome.request_id is not None
    with pytest.raises(PermissionDeniedError, match="someone else"):
        await buddies.answer_by_button(outcome.ref, C, accept=True)
    with pytest.raises(PermissionDeniedError):
        await buddies.answer_by_button(outcome.ref, A, accept=True)
    assert not await buddies.are_buddies(GUILD, A, B)
    assert await services.db.fetch_value("SELECT status FROM buddy_requests") == "pending"


async def test_closed_dms_tell_the_requester_and_the_request_waits(
        buddies: BuddyService, notifier: RecordingNotifier, services: Services) -> None:
    notifier.dm_closed.add(B)
    outcome = await buddies.request(GUILD, A, B)
    assert outcome.delivery is Delivery.DM_CLOSED
    assert notifier.dms_to(B) == []
    # B opens their DMs and answers with the command instead of the button.
    notifier.dm_closed.discard(B)
    answer = await buddies.accept(GUILD, B)
    assert answer.asker_user == A
    assert await buddies.are_buddies(GUILD, A, B)
    member = await services.members.get(GUILD, B)
    assert member is not None and member.dm_closed_at is None  # using the bot lifted the mark


async def test_asking_back_is_a_yes(buddies: BuddyService, notifier: RecordingNotifier) -> None:
    await buddies.request(GUILD, A, B)
    outcome = await buddies.request(GUILD, B, A)
    assert outcome.paired
    assert await buddies.are_buddies(GUILD, A, B)
    assert len(texts(notifier, A, "said yes")) == 1


async def test_accept_and_decline_pick_the_right_request(buddies: BuddyService, notifier: RecordingNotifier) -> None:
    with pytest.raises(NotFoundError):
        await buddies.accept(GUILD, C)
    await buddies.request(GUILD, A, C)
    await buddies.request(GUILD, B, C)
    with pytest.raises(InvalidInputError, match="Which one"):
        await buddies.accept(GUILD, C)
    with pytest.raises(NotFoundError):
        await buddies.decline(GUILD, C, D)
    await buddies.decline(GUILD, C, A)
    assert "isn't able to be buddies right now" in texts(notifier, A)[0]
    await buddies.accept(GUILD, C)  # only B's is left
    assert await buddies.are_buddies(GUILD, B, C) and not await buddies.are_buddies(GUILD, A, C)


async def test_max_buddies_is_enforced_on_both_sides_at_accept(
        buddies: BuddyService, services: Services) -> None:
    await services.guild_config.set_buddies(GUILD, max_buddies=1)
    await buddies.request(GUILD, C, A)   # C asks A while both are free
    await buddies.request(GUILD, A, D)   # A asks D
    await pair(buddies, A, B)            # now A is full
    with pytest.raises(ConflictError, match="most this server allows"):
        await buddies.accept(GUILD, A, C)
    with pytest.raises(ConflictError, match="reached this server's buddy limit"):
        await buddies.accept(GUILD, D, A)
    with pytest.raises(ConflictError, match="most this server allows"):
        await buddies.request(GUILD, A, C)
    assert not await buddies.are_buddies(GUILD, A, C) and not await buddies.are_buddies(GUILD, A, D)
    # The requests stay open: when A makes room, D can still say yes.
    await buddies.end(GUILD, A, B)
    await buddies.accept(GUILD, D, A)
    assert await buddies.are_buddies(GUILD, A, D)


async def test_requests_expire_after_14_days_once(buddies: BuddyService, clock: FakeClock,
                                                  notifier: RecordingNotifier) -> None:
    outcome = await buddies.request(GUILD, A, B)
    assert outcome.request_id is not None
    clock.advance(timedelta(days=14, minutes=1))
    await buddies.matching_sweep(clock.now())
    await buddies.matching_sweep(clock.now())
    await buddies.outbox.dispatch()
    assert len(texts(notifier, A, "closed after 14 days")) == 1
    with pytest.raises(ConflictError, match="expired"):
        await buddies.answer_by_button(outcome.ref, B, accept=True)
    with pytest.raises(NotFoundError):
        await buddies.accept(GUILD, B)
    # A fresh request is possible again.
    assert (await buddies.request(GUILD, A, B)).request_id != outcome.request_id


# -- status -------------------------------------------------------------------------------

async def test_status_shows_only_what_each_buddy_shares(
        buddies: BuddyService, services: Services, checkins: FakeCheckIns) -> None:
    await pair(buddies, A, B)
    await pair(buddies, A, C)
    await services.settings.set_share_checkins(GUILD, B, "buddies")
    await checkins.mark(B, date(2026, 11, 20), streak=4)
    await checkins.mark(C, date(2026, 11, 21), streak=12)  # C shares nothing
    await buddies.request(GUILD, D, A)
    status = await buddies.status(GUILD, A)
    by_user = {b.user_id: b for b in status.buddies}
    assert by_user[B].shares_checkins and by_user[B].last_checkin == date(2026, 11, 20) and by_user[B].streak == 4
    assert not by_user[C].shares_checkins and by_user[C].last_checkin is None and by_user[C].streak is None
    assert [r.requester_user for r in status.incoming] == [D]
    assert status.max_buddies == 3 and status.in_pool_since is None and status.paused_until is None


# -- manual nudges, pause, end ----------------------------------------------------------------

async def test_manual_nudge_once_per_pair_per_day_either_way(
        buddies: BuddyService, notifier: RecordingNotifier, clock: FakeClock) -> None:
    await pair(buddies, A, B)
    outcome = await buddies.nudge(GUILD, A, B)
    assert outcome.delivery is Delivery.SENT
    [dm] = texts(notifier, B, MANUAL_TEXT)
    assert f"<@{A}>" in dm
    with pytest.raises(ConflictError, match="already shared a nudge today"):
        await buddies.nudge(GUILD, A, B)
    with pytest.raises(ConflictError, match="already shared a nudge today"):
        await buddies.nudge(GUILD, B, A)
    clock.set(datetime(2026, 11, 22, 0, 5, tzinfo=UTC))  # the next UTC day
    assert (await buddies.nudge(GUILD, B, A)).delivery is Delivery.SENT
    with pytest.raises(NotFoundError):
        await buddies.nudge(GUILD, A, C)
    assert len(texts(notifier, B, MANUAL_TEXT)) == 1


async def test_manual_nudge_day_is_the_senders_local_day(
        buddies: BuddyService, services: Services, clock: FakeClock, notifier: RecordingNotifier) -> None:
    await services.settings.set_timezone(GUILD, A, "Asia/Tokyo")
    await pair(buddies, A, B)
    clock.set(datetime(2026, 11, 21, 14, 30, tzinfo=UTC))   # 23:30 in Tokyo
    await buddies.nudge(GUILD, A, B)
    clock.set(datetime(2026, 11, 21, 15, 10, tzinfo=UTC))   # 00:10 the next day in Tokyo
    await buddies.nudge(GUILD, A, B)
    assert len(texts(notifier, B, MANUAL_TEXT)) == 2
    # B's day is UTC: a nudge back within B's day that already held A's nudge is refused.
    with pytest.raises(ConflictError):
        await buddies.nudge(GUILD, B, A)


async def test_manual_nudge_waits_for_the_recipients_quiet_hours(
        buddies: BuddyService, services: Services, clock: FakeClock, notifier: RecordingNotifier) -> None:
    await services.settings.set_timezone(GUILD, B, "America/New_York")
    await services.settings.set_quiet_hours(GUILD, B, "22:00", "07:30")
    await pair(buddies, A, B)
    clock.set(datetime(2026, 11, 21, 4, 0, tzinfo=UTC))  # 23:00 in New York
    outcome = await buddies.nudge(GUILD, A, B)
    assert outcome.delivery is Delivery.DEFERRED
    assert outcome.deliver_at == datetime(2026, 11, 21, 12, 30, tzinfo=UTC)  # 07:30 New York
    await services.outbox.dispatch()
    assert texts(notifier, B, MANUAL_TEXT) == []
    clock.set(datetime(2026, 11, 21, 12, 30, tzinfo=UTC))
    await services.outbox.dispatch()
    assert len(texts(notifier, B, MANUAL_TEXT)) == 1


async def test_pause_blocks_nudges_and_cancels_a_waiting_one(
        buddies: BuddyService, services: Services, clock: FakeClock, notifier: RecordingNotifier) -> None:
    await services.settings.set_quiet_hours(GUILD, B, "09:00", "12:00")
    await pair(buddies, A, B)
    assert (await buddies.nudge(GUILD, A, B)).delivery is Delivery.DEFERRED  # 10:00 UTC, B is quiet
    with pytest.raises(InvalidInputError):
        await buddies.pause(GUILD, B, 0)
    with pytest.raises(InvalidInputError):
        await buddies.pause(GUILD, B, 31)
    until = await buddies.pause(GUILD, B, 3)
    assert until == clock.now() + timedelta(days=3)
    clock.advance(timedelta(hours=3))
    await services.outbox.dispatch()
    assert texts(notifier, B, MANUAL_TEXT) == []
    assert [s for _, s, _ in await outbox_rows(services, "buddy.nudge")] == ["cancelled"]
    clock.advance(timedelta(days=1))
    with pytest.raises(ConflictError, match="taking a break"):
        await buddies.nudge(GUILD, A, B)
    assert (await buddies.status(GUILD, B)).paused_until == until
    clock.set(until + timedelta(hours=3))  # after the pause, and after B's quiet 09:00–12:00
    assert (await buddies.nudge(GUILD, A, B)).delivery is Delivery.SENT


async def test_end_tells_the_other_kindly_and_stops_everything(
        buddies: BuddyService, services: Services, clock: FakeClock, notifier: RecordingNotifier) -> None:
    await services.settings.set_quiet_hours(GUILD, A, "09:00", "11:00")
    await pair(buddies, A, B)
    assert (await buddies.nudge(GUILD, B, A)).delivery is Delivery.DEFERRED
    assert await buddies.end(GUILD, B, A) == A
    assert not await buddies.are_buddies(GUILD, A, B)
    with pytest.raises(NotFoundError):
        await buddies.end(GUILD, B, A)
    statuses = {k.split(":")[1]: s for k, s, _ in await outbox_rows(services, "buddy.nudge")}
    assert statuses == {"nudge": "cancelled"}
    # The ending notice waits out A's quiet hours too, then arrives once.
    assert texts(notifier, A, "ended your buddy pairing") == []
    clock.advance(timedelta(hours=1))
    await services.outbox.dispatch()
    [told] = texts(notifier, A, "ended your buddy pairing")
    assert "No blame" in told and "failed" not in told


async def test_forget_member_ends_pairs_kindly_and_cancels_requests(
        buddies: BuddyService, services: Services, notifier: RecordingNotifier) -> None:
    await pair(buddies, A, B)
    await buddies.request(GUILD, A, C)
    await buddies.request(GUILD, D, A)
    await buddies.toggle_pool(GUILD, A)
    await buddies.forget_member(GUILD, A)
    await services.outbox.dispatch()
    assert not await buddies.are_buddies(GUILD, A, B)
    assert len(texts(notifier, B, "stepped away")) == 1
    assert await services.db.fetch_value("SELECT count(*) FROM buddy_requests WHERE status = 'pending'") == 0
    assert await services.db.fetch_value("SELECT count(*) FROM buddy_pool") == 0
    # Deleting the member row afterwards leaves the partner's notice intact.
    await services.db.execute("DELETE FROM members WHERE guild_id = ? AND user_id = ?", (GUILD, A))
    assert await services.db.fetch_value("SELECT count(*) FROM buddy_pairs") == 0
    assert await services.db.fetch_value("SELECT count(*) FROM outbox WHERE dedupe_key LIKE 'buddy:left:%'") == 1


async def test_an_account_discord_no_longer_knows_leaves_buddies(
        buddies: BuddyService, services: Services, notifier: RecordingNotifier) -> None:
    await pair(buddies, A, B)
    member = await services.members.get(GUILD, B)
    assert member is not None
    item = OutboxItem(1, "x", "buddy.nudge", GUILD, member.member_id, "dm", B, OutgoingMessage("hi"), 0,
                      services.clock.now())
    await buddies.on_delivery(item, SendResult(SendStatus.DM_CLOSED))
    assert await buddies.are_buddies(GUILD, A, B)  # closed DMs alone end nothing
    await buddies.on_delivery(item, SendResult(SendStatus.NOT_FOUND))
    await services.outbox.dispatch()
    assert not await buddies.are_buddies(GUILD, A, B)
    assert len(texts(notifier, A, "can no longer reach")) == 1


def members_except(*gone: int) -> MembershipCheck:
    async def check(guild_id: int, user_id: int) -> bool | None:
        return user_id not in gone
    return check


async def test_a_closed_dm_from_someone_who_left_the_server_ends_their_pairs(
        buddies: BuddyService, services: Services, clock: FakeClock, notifier: RecordingNotifier) -> None:
    await pair(buddies, A, B)
    await buddies.request(GUILD, B, C)
    buddies.membership = members_except()
    notifier.dm_closed.add(B)
    assert (await buddies.nudge(GUILD, A, B)).delivery is Delivery.DM_CLOSED
    assert await buddies.are_buddies(GUILD, A, B)  # still a member: closed DMs end nothing
    buddies.membership = members_except(B)
    await services.members.touch(GUILD, B, services.clock.now())  # lift the mark so a DM is tried
    clock.advance(timedelta(days=1))
    assert (await buddies.nudge(GUILD, A, B)).delivery is Delivery.GONE
    await services.outbox.dispatch()
    assert not await buddies.are_buddies(GUILD, A, B)
    [told] = texts(notifier, A, "no longer a member")
    assert "Recovery Circle" in told
    assert await services.db.fetch_value("SELECT count(*) FROM buddy_requests WHERE status = 'pending'") == 0


async def test_a_request_to_someone_who_has_left_is_closed(
        buddies: BuddyService, services: Services, notifier: RecordingNotifier) -> None:
    buddies.membership = members_except(B)
    notifier.dm_closed.add(B)
    outcome = await buddies.request(GUILD, A, B)
    assert outcome.delivery is Delivery.GONE
    assert await services.db.fetch_value("SELECT status FROM buddy_requests") == "cancelled"


async def test_membership_trouble_ends_nothing(buddies: BuddyService, notifier: RecordingNotifier) -> None:
    async def unknown(guild_id: int, user_id: int) -> bool | None:
        return None

    async def broken(guild_id: int, user_id: int) -> bool | None:
        raise OSError("network down")

    await pair(buddies, A, B)
    notifier.dm_closed.add(B)
    buddies.membership = unknown
    assert (await buddies.nudge(GUILD, A, B)).delivery is Delivery.DM_CLOSED
    assert await buddies.are_buddies(GUILD, A, B)
    buddies.membership = broken
    outcome = await buddies.request(GUILD, C, B)  # the hook's failure is logged, not raised
    assert outcome.delivery is Delivery.DM_CLOSED
    assert await buddies.are_buddies(GUILD, A, B)


# -- automatic nudges ---------------------------------------------------------------------------

async def run_hourly(buddies: BuddyService, clock: FakeClock, until: datetime) -> list[datetime]:
    """Run the nudge sweep (and send) every hour until `until`; return when nudges were claimed."""
    claimed_at = []
    while clock.now() <= until:
        if await buddies.nudge_sweep(clock.now()):
            claimed_at.append(clock.now())
        await buddies.outbox.dispatch()
        clock.advance(timedelta(hours=1))
    return claimed_at


async def test_automatic_nudge_after_n_whole_days_exactly_once(
        buddies: BuddyService, services: Services, clock: FakeClock, checkins: FakeCheckIns,
        notifier: RecordingNotifier) -> None:
    await pair(buddies, A, B)
    await services.settings.set_share_checkins(GUILD, A, "buddies")
    await checkins.mark(A, date(2026, 11, 21))
    times = await run_hourly(buddies, clock, datetime(2026, 11, 27, 9, 0, tzinfo=UTC))
    # 22nd and 23rd pass without a check-in: the nudge comes on the 24th, at 08:00 (B's morning).
    assert times == [datetime(2026, 11, 24, 8, 0, tzinfo=UTC)]
    [dm] = texts(notifier, B, NUDGE_TEXT)
    assert f"<@{A}>" in dm and "2 days" in dm and "Recovery Circle" in dm
    assert texts(notifier, A, NUDGE_TEXT) == []  # B shares nothing: their absence stays private
    # A checks in again, then is away again: a new stretch brings one new nudge.
    await checkins.mark(A, date(2026, 11, 27))
    times = await run_hourly(buddies, clock, datetime(2026, 12, 3, 0, 0, tzinfo=UTC))
    assert times == [datetime(2026, 11, 30, 8, 0, tzinfo=UTC)]
    assert len(texts(notifier, B, NUDGE_TEXT)) == 2
    keys = [k for k, _, _ in await outbox_rows(services, "buddy.nudge")]
    assert keys[0].startswith("buddy:nudge:auto:") and keys[0].endswith(":2026-11-24")


async def test_automatic_nudges_use_the_servers_setting(
        buddies: BuddyService, services: Services, clock: FakeClock, checkins: FakeCheckIns) -> None:
    await services.guild_config.set_buddies(GUILD, nudge_after_days=1)
    await pair(buddies, A, B)
    await services.settings.set_share_checkins(GUILD, A, "buddies")
    await checkins.mark(A, date(2026, 11, 21))
    assert await run_hourly(buddies, clock, datetime(2026, 11, 24, 0, 0, tzinfo=UTC)) == [
        datetime(2026, 11, 23, 8, 0, tzinfo=UTC)]


async def test_absence_counts_in_the_absent_zone_and_nudge_waits_for_recipient_quiet_hours(
        buddies: BuddyService, services: Services, clock: FakeClock, checkins: FakeCheckIns) -> None:
    # A lives in Auckland (UTC+13), B in Kolkata (UTC+5:30) with afternoon quiet hours.
    await services.settings.set_timezone(GUILD, A, "Pacific/Auckland")
    await services.settings.set_timezone(GUILD, B, "Asia/Kolkata")
    await services.settings.set_quiet_hours(GUILD, B, "13:00", "20:00")
    await pair(buddies, A, B)
    await services.settings.set_share_checkins(GUILD, A, "buddies")
    await checkins.mark(A, date(2026, 11, 22))  # A's local day (it is already the 22nd in Auckland)
    times = await run_hourly(buddies, clock, datetime(2026, 11, 28, 0, 0, tzinfo=UTC))
    # Auckland's 25th starts at 11:00 UTC on the 24th (23rd and 24th passed there), but it
    # is 16:30 in Kolkata, quiet until 20:00 IST (14:30 UTC): the 15:00 UTC sweep nudges.
    assert times == [datetime(2026, 11, 24, 15, 0, tzinfo=UTC)]


@pytest.mark.parametrize("tz", ["Pacific/Kiritimati", "Pacific/Pago_Pago", "Pacific/Chatham", "America/St_Johns",
                                "Australia/Lord_Howe", "Asia/Kathmandu"])
async def test_automatic_nudge_comes_on_the_due_local_morning_in_far_zones(
        buddies: BuddyService, services: Services, clock: FakeClock, checkins: FakeCheckIns, tz: str) -> None:
    # The sweep's cheap UTC-date bound must never hide a nudge that is due somewhere on Earth.
    for user in (A, B):
        await services.settings.set_timezone(GUILD, user, tz)
    await pair(buddies, A, B)
    await services.settings.set_share_checkins(GUILD, A, "buddies")
    today = local_date(clock.now(), zone(tz))
    await checkins.mark(A, today)
    due_day = today + timedelta(days=3)  # two whole days pass, the nudge comes on the third
    morning = occurrence_on(due_day, time(8, 0), zone(tz))
    first_sweep_after = morning + (-(morning - clock.now()) % timedelta(hours=1))
    times = await run_hourly(buddies, clock, morning + timedelta(days=2))
    assert times == [first_sweep_after]


async def test_automatic_nudge_is_exactly_once_across_a_dst_night(
        buddies: BuddyService, services: Services, clock: FakeClock, checkins: FakeCheckIns) -> None:
    clock.set(datetime(2026, 10, 28, 15, 0, tzinfo=UTC))
    for user in (A, B):
        await services.settings.set_timezone(GUILD, user, "America/New_York")
    await pair(buddies, A, B)
    await services.settings.set_share_checkins(GUILD, A, "buddies")
    await checkins.mark(A, date(2026, 10, 29))
    times = await run_hourly(buddies, clock, datetime(2026, 11, 3, 0, 0, tzinfo=UTC))
    # 30th and 31st pass; on 1 November clocks fall back, and 08:00 EST is 13:00 UTC.
    assert times == [datetime(2026, 11, 1, 13, 0, tzinfo=UTC)]


async def test_no_automatic_nudges_during_a_pause_and_counting_restarts_after(
        buddies: BuddyService, services: Services, clock: FakeClock, checkins: FakeCheckIns,
        notifier: RecordingNotifier) -> None:
    await pair(buddies, A, B)
    await services.settings.set_share_checkins(GUILD, A, "buddies")
    await services.settings.set_share_checkins(GUILD, B, "buddies")
    await checkins.mark(A, date(2026, 11, 21))
    await checkins.mark(B, date(2026, 11, 21))
    await buddies.pause(GUILD, A, 5)  # until 26 Nov 10:00 UTC: nothing to or about A
    times = await run_hourly(buddies, clock, datetime(2026, 12, 1, 0, 0, tzinfo=UTC))
    # The pause ends on the 26th; counting restarts from that day for both directions
    # (A is not greeted with a nudge about B the moment the break ends), so the 29th is first.
    assert times == [datetime(2026, 11, 29, 8, 0, tzinfo=UTC)]
    assert len(texts(notifier, A, NUDGE_TEXT)) == 1 and len(texts(notifier, B, NUDGE_TEXT)) == 1


async def test_no_automatic_nudge_to_closed_dms_until_the_member_returns(
        buddies: BuddyService, services: Services, clock: FakeClock, checkins: FakeCheckIns,
        notifier: RecordingNotifier) -> None:
    await pair(buddies, A, B)
    await services.settings.set_share_checkins(GUILD, A, "buddies")
    await checkins.mark(A, date(2026, 11, 21))
    await services.members.mark_dm_closed(B, clock.now())
    assert await run_hourly(buddies, clock, datetime(2026, 11, 26, 0, 0, tzinfo=UTC)) == []
    assert texts(notifier, B, NUDGE_TEXT) == []
    assert await outbox_rows(services, "buddy.nudge") == []  # not even queued: no 4xx to Discord
    await services.settings.touch(GUILD, B)  # B uses the bot again
    assert await run_hourly(buddies, clock, datetime(2026, 11, 26, 12, 0, tzinfo=UTC)) == [
        datetime(2026, 11, 26, 8, 0, tzinfo=UTC)]


async def test_automatic_nudges_resume_a_week_after_a_refusal(
        buddies: BuddyService, services: Services, clock: FakeClock, checkins: FakeCheckIns,
        notifier: RecordingNotifier) -> None:
    await pair(buddies, A, B)
    await services.settings.set_share_checkins(GUILD, A, "buddies")
    await checkins.mark(A, date(2026, 11, 21))
    await services.members.mark_dm_closed(B, clock.now())  # 21 Nov 10:00; B never uses the bot again
    assert await run_hourly(buddies, clock, datetime(2026, 11, 28, 9, 0, tzinfo=UTC)) == []
    assert await run_hourly(buddies, clock, datetime(2026, 11, 28, 11, 0, tzinfo=UTC)) == [
        datetime(2026, 11, 28, 10, 0, tzinfo=UTC)]


async def test_no_automatic_nudge_about_a_buddy_who_left_the_server(
        buddies: BuddyService, services: Services, clock: FakeClock, notifier: RecordingNotifier) -> None:
    await pair(buddies, A, B)
    await services.settings.set_share_checkins(GUILD, A, "buddies")
    buddies.membership = members_except(A)
    assert await run_hourly(buddies, clock, datetime(2026, 11, 26, 0, 0, tzinfo=UTC)) == []
    assert texts(notifier, B, NUDGE_TEXT) == []
    assert not await buddies.are_buddies(GUILD, A, B)
    assert len(texts(notifier, B, "no longer a member")) == 1


async def test_a_buddy_who_stops_sharing_while_the_sweep_decides_is_not_told_about(
        buddies: BuddyService, services: Services, clock: FakeClock, checkins: FakeCheckIns,
        notifier: RecordingNotifier) -> None:
    await pair(buddies, A, B)
    await services.settings.set_share_checkins(GUILD, A, "buddies")
    await checkins.mark(A, date(2026, 11, 21))
    clock.set(datetime(2026, 11, 24, 9, 0, tzinfo=UTC))
    first_read = buddies._due_auto_nudges

    async def read_then_member_acts(now: datetime, pair_ids: Sequence[int]) -> list:  # type: ignore[type-arg]
        due = await first_read(now, pair_ids)
        buddies._due_auto_nudges = first_read  # type: ignore[method-assign]
        assert due  # the sweep saw a nudge due; A's /settings share-checkins commits now
        await services.settings.set_share_checkins(GUILD, A, "nobody")
        return due

    buddies._due_auto_nudges = read_then_member_acts  # type: ignore[method-assign]
    assert await buddies.nudge_sweep(clock.now()) == 0
    await services.outbox.dispatch()
    assert texts(notifier, B, NUDGE_TEXT) == []


async def test_nudge_sweep_is_idempotent_and_survives_a_lost_send(
        buddies: BuddyService, services: Services, clock: FakeClock, checkins: FakeCheckIns,
        notifier: RecordingNotifier) -> None:
    await pair(buddies, A, B)
    await services.settings.set_share_checkins(GUILD, A, "buddies")
    await checkins.mark(A, date(2026, 11, 21))
    clock.set(datetime(2026, 11, 24, 9, 0, tzinfo=UTC))
    notifier.transient_failures = 1
    assert await buddies.nudge_sweep(clock.now()) == 1
    assert await buddies.nudge_sweep(clock.now()) == 0
    await services.outbox.dispatch()                 # Discord hiccups: retried later
    assert texts(notifier, B, NUDGE_TEXT) == []
    clock.advance(timedelta(minutes=5))
    assert await buddies.nudge_sweep(clock.now()) == 0
    await services.outbox.dispatch()
    assert len(texts(notifier, B, NUDGE_TEXT)) == 1


# -- the matching pool ---------------------------------------------------------------------------

async def test_find_toggles_the_pool_and_respects_the_servers_settings(
        buddies: BuddyService, services: Services) -> None:
    joined = await buddies.toggle_pool(GUILD, A)
    assert joined.joined and joined.next_round == datetime(2026, 11, 21, 18, 0, tzinfo=UTC)
    assert not (await buddies.toggle_pool(GUILD, A)).joined
    await services.guild_config.set_buddies(GUILD, matching=False)
    with pytest.raises(NotConfiguredError):
        await buddies.toggle_pool(GUILD, A)
    await services.guild_config.set_buddies(GUILD, matching=True, max_buddies=1)
    await pair(buddies, A, B)
    with pytest.raises(ConflictError, match="matching pool"):
        await buddies.toggle_pool(GUILD, A)


async def test_matching_round_pairs_by_overlap_tells_both_and_the_odd_one_once(
        buddies: BuddyService, services: Services, clock: FakeClock, notifier: RecordingNotifier) -> None:
    zones = {A: "Europe/London", B: "Asia/Tokyo", C: "Europe/Paris", D: "Asia/Seoul"}
    for user in (A, B, C):
        await services.settings.set_timezone(GUILD, user, zones[user])
        await buddies.toggle_pool(GUILD, user)
        clock.advance(timedelta(minutes=1))
    clock.set(datetime(2026, 11, 21, 17, 59, tzinfo=UTC))
    assert await buddies.matching_sweep(clock.now()) == 0
    clock.set(datetime(2026, 11, 21, 18, 0, tzinfo=UTC))
    assert await buddies.matching_sweep(clock.now()) == 1
    assert await buddies.matching_sweep(clock.now()) == 0
    await services.outbox.dispatch()
    assert await buddies.are_buddies(GUILD, A, C)  # London and Paris overlap most
    assert f"<@{C}>" in texts(notifier, A, "matched")[0] and f"<@{A}>" in texts(notifier, C, "matched")[0]
    assert "overlap by about 13 hours" in texts(notifier, A, "matched")[0]
    # Tokyo is asleep (03:00): B's news waits for 08:00 Tokyo, and comes once.
    assert texts(notifier, B) == []
    clock.set(datetime(2026, 11, 21, 23, 0, tzinfo=UTC))
    await services.outbox.dispatch()
    [waiting] = texts(notifier, B, "No buddy match")
    assert f"<t:{int(datetime(2026, 11, 22, 18, 0, tzinfo=UTC).timestamp())}:F>" in waiting
    # Next day a newcomer arrives; B, who waited longest, is paired; B is not told "waiting" again.
    await services.settings.set_timezone(GUILD, D, zones[D])
    await buddies.toggle_pool(GUILD, D)
    clock.set(datetime(2026, 11, 22, 18, 30, tzinfo=UTC))
    assert await buddies.matching_sweep(clock.now()) == 1
    assert await buddies.are_buddies(GUILD, B, D)
    assert await services.db.fetch_value("SELECT count(*) FROM buddy_pool") == 0
    assert len(texts(notifier, B, "No buddy match")) == 1


async def test_matching_avoids_recent_pairs_and_honours_matching_off(
        buddies: BuddyService, services: Services, clock: FakeClock) -> None:
    await pair(buddies, A, B)
    await buddies.end(GUILD, A, B)
    await buddies.toggle_pool(GUILD, A)
    await buddies.toggle_pool(GUILD, B)
    clock.set(datetime(2026, 11, 21, 18, 0, tzinfo=UTC))
    assert await buddies.matching_sweep(clock.now()) == 0
    assert not await buddies.are_buddies(GUILD, A, B)
    # 91 days later the same two may be matched again — unless the server turned matching off.
    await services.guild_config.set_buddies(GUILD, matching=False)
    clock.set(datetime(2027, 2, 21, 18, 0, tzinfo=UTC))
    assert await buddies.matching_sweep(clock.now()) == 0
    await services.guild_config.set_buddies(GUILD, matching=True)
    assert await buddies.matching_sweep(clock.now()) == 1
    assert await buddies.are_buddies(GUILD, A, B)


# -- an id used again after a deletion ---------------------------------------------------------
# SQLite gives a new row the id of the newest row if that one was deleted, and the outbox keeps a
# sent message's key for weeks (exactly-once). A key naming only the row id would match the
# earlier row's message, and the new message would be dropped as "already sent".

async def test_a_request_after_the_newest_request_was_deleted_reaches_its_target(
        buddies: BuddyService, services: Services, notifier: RecordingNotifier) -> None:
    await buddies.request(GUILD, A, B)
    assert await services.privacy.forget(GUILD, A)  # A's request goes with A's data
    outcome = await buddies.request(GUILD, C, D)
    assert outcome.delivery is Delivery.SENT
    assert len(texts(notifier, D, REQUEST_TEXT)) == 1


async def test_a_yes_after_the_newest_request_was_deleted_is_told(
        buddies: BuddyService, services: Services, notifier: RecordingNotifier) -> None:
    await pair(buddies, A, B)
    assert await services.privacy.forget(GUILD, B)  # the answered request goes with B's data
    await pair(buddies, A, C)
    assert len(texts(notifier, A, "said yes")) == 2


async def test_an_ending_after_the_newest_pair_was_deleted_is_told(
        buddies: BuddyService, services: Services, notifier: RecordingNotifier) -> None:
    await pair(buddies, A, B)
    await buddies.end(GUILD, B, A)
    assert await services.privacy.forget(GUILD, B)  # the ended pair goes with B's data
    await pair(buddies, A, C)
    await buddies.end(GUILD, C, A)
    assert len(texts(notifier, A, "ended your buddy pairing")) == 2


async def test_a_match_after_the_newest_pair_was_deleted_is_announced(
        buddies: BuddyService, services: Services, clock: FakeClock, notifier: RecordingNotifier) -> None:
    for user in (A, B):
        await buddies.toggle_pool(GUILD, user)
    clock.set(datetime(2026, 11, 21, 18, 0, tzinfo=UTC))
    assert await buddies.matching_sweep(clock.now()) == 1
    await services.outbox.dispatch()
    assert await services.privacy.forget(GUILD, B)
    for user in (A, C):
        await buddies.toggle_pool(GUILD, user)
    clock.set(datetime(2026, 11, 22, 18, 0, tzinfo=UTC))
    assert await buddies.matching_sweep(clock.now()) == 1
    await services.outbox.dispatch()
    assert [f"<@{C}>" in text for text in texts(notifier, A, "matched")] == [False, True]


# -- review: request buttons name the request's incarnation ---------------------------------------

async def test_an_old_dm_button_does_not_answer_a_new_request_that_reused_its_id(
        buddies: BuddyService, services: Services, notifier: RecordingNotifier) -> None:
    """A's request DM keeps its buttons; A deletes their data; C asks the same member and gets A's row id."""
    a = await buddies.request(GUILD, A, B)
    assert await services.privacy.forget(GUILD, A)  # /privacy delete: A's request row goes (cascade)
    c = await buddies.request(GUILD, C, B)
    if services.db.dialect == SQLITE:  # PostgreSQL's identities never give an id again
        assert c.request_id == a.request_id, "precondition: SQLite reused the id"
    for accept in (True, False):
        with pytest.raises(NotFoundError, match="no longer open"):
            await buddies.answer_by_button(a.ref, B, accept=accept)
    assert not await buddies.are_buddies(GUILD, B, C)
    assert [r.requester_user for r in (await buddies.status(GUILD, B)).incoming] == [C]
    assert texts(notifier, C) == [], "C heard nothing about an answer B never gave"
    await buddies.answer_by_button(c.ref, B, accept=True)
    assert await buddies.are_buddies(GUILD, B, C)


async def test_a_button_from_before_incarnations_changes_nothing(
        buddies: BuddyService, services: Services, notifier: RecordingNotifier) -> None:
    """`kindred:buddy:accept:<id>` (no incarnation) could name an earlier request with that id: refused kindly."""
    outcome = await buddies.request(GUILD, A, B)
    assert outcome.request_id is not None
    for accept in (True, False):
        with pytest.raises(ConflictError, match="no longer open.*`/buddy accept`"):
            await buddies.answer_by_button(RowRef.parse(str(outcome.request_id)), B, accept=accept)
    assert not await buddies.are_buddies(GUILD, A, B)
    assert [r.requester_user for r in (await buddies.status(GUILD, B)).incoming] == [A]
    assert texts(notifier, A) == []
    assert await services.db.fetch_value("SELECT status FROM buddy_requests") == "pending"
