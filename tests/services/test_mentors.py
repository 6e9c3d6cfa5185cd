"""MentorService on a real database with a fake clock and a recording notifier."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.db.database import SQLITE
from bot.domain.clock import FakeClock
from bot.domain.keys import RowRef
from bot.domain.plaintext import escape_markup
from bot.errors import (
    ConflictError,
    InvalidInputError,
    NotConfiguredError,
    NotFoundError,
    PermissionDeniedError,
)
from bot.services.buddies import Delivery
from bot.services.container import Services
from tests.support import RecordingNotifier, count_write_transactions

G = 910
MENTOR, MENTEE, OTHER, THIRD = 9201, 9202, 9203, 9204
ROLE = 5555
LONDON = ZoneInfo("Europe/London")
REQUEST_TEXT = "would like you to be their mentor"
NUDGE_TEXT = "hasn't checked in"


def london(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON).astimezone(UTC)


async def mentoring(services: Services, mentor: int = MENTOR, mentee: int = MENTEE, **offer: object) -> None:
    """Make `mentor` offer and `mentee` their mentee (accepted by the service, as a button would)."""
    await services.mentors.offer(G, mentor, **offer)  # type: ignore[arg-type]
    outcome = await services.mentors.request(G, mentee, mentor, "hello")
    await services.mentors.answer_by_button(outcome.ref, mentor, accept=True)


async def everyone_in_london(services: Services, *users: int) -> None:
    for user in users or (MENTOR, MENTEE, OTHER, THIRD):
        await services.settings.set_timezone(G, user, "Europe/London")


def texts(notifier: RecordingNotifier, user: int, needle: str = "") -> list[str]:
    return [s.message.content for s in notifier.dms_to(user) if needle in s.message.content]


# -- offering -------------------------------------------------------------------------------------

async def test_offer_then_find_shows_only_focus_and_daytime_overlap(services: Services) -> None:
    await everyone_in_london(services)
    await services.settings.set_timezone(G, OTHER, "Asia/Tokyo")
    await services.mentors.offer(G, MENTOR, focus="alcohol,  early recovery", capacity=3)
    await services.mentors.offer(G, OTHER, focus="gambling")
    found = await services.mentors.find(G, MENTEE)
    assert [(m.user_id, m.focus) for m in found.mentors] == [(MENTOR, "alcohol, early recovery"), (OTHER, "gambling")]
    assert found.mentors[0].overlap_minutes == 14 * 60 and found.mentors[1].overlap_minutes < 14 * 60
    assert set(type(found.mentors[0]).__slots__) == {"user_id", "focus", "overlap_minutes"}, "nothing else about them"
    assert [m.user_id for m in (await services.mentors.find(G, MENTEE, "Alcohol")).mentors] == [MENTOR]
    assert (await services.mentors.find(G, MENTEE, "cocaine")).mentors == ()
    assert MENTOR not in [m.user_id for m in (await services.mentors.find(G, MENTOR)).mentors], "not yourself"


async def test_offer_again_updates_and_keeps_what_it_leaves_out(services: Services) -> None:
    first = await services.mentors.offer(G, MENTOR, focus="alcohol", capacity=4)
    again = await services.mentors.offer(G, MENTOR, capacity=1)
    assert (first.capacity, again.capacity, again.focus) == (4, 1, "alcohol")
    assert (await services.mentors.offer(G, MENTOR)).capacity == 1


@pytest.mark.parametrize(("kwargs", "words"), [({"capacity": 6}, "1 to 5"), ({"focus": "f" * 61}, "60 characters")])
async def test_bad_offers_are_refused(services: Services, kwargs: dict[str, object], words: str) -> None:
    with pytest.raises(InvalidInputError, match=words):
        await services.mentors.offer(G, MENTOR, **kwargs)  # type: ignore[arg-type]
    assert await services.db.fetch_value("SELECT count(*) FROM mentor_offers") == 0


async def test_a_server_can_turn_mentoring_off(services: Services) -> None:
    await services.mentors.offer(G, MENTOR)
    await services.guild_config.set_mentors(G, enabled=False)
    with pytest.raises(NotConfiguredError):
        await services.mentors.offer(G, OTHER)
    with pytest.raises(NotConfiguredError):
        await services.mentors.find(G, MENTEE)
    with pytest.raises(NotConfiguredError):
        await services.mentors.request(G, MENTEE, MENTOR)


async def test_a_server_can_require_a_role_to_offer(services: Services) -> None:
    await services.mentors.offer(G, OTHER)  # offered before the rule
    await services.guild_config.set_mentors(G, role_id=ROLE)
    with pytest.raises(PermissionDeniedError, match=f"<@&{ROLE}>"):
        await services.mentors.offer(G, MENTOR, role_ids=[1, 2])
    await services.mentors.offer(G, MENTOR, role_ids=[ROLE])
    assert [m.user_id for m in (await services.mentors.find(G, MENTEE)).mentors] == [MENTOR], \
        "an offer made before the rule is not listed until its member offers again with the role"
    view = await services.guild_config.set_mentors(G, role_id=G)  # @everyone: no role needed
    assert view.mentor_role_id is None


async def test_the_role_is_asked_of_discord_again_when_someone_asks(services: Services) -> None:
    await services.guild_config.set_mentors(G, role_id=ROLE)
    await services.mentors.offer(G, MENTOR, role_ids=[ROLE])
    roles: dict[int, set[int]] = {MENTOR: set()}

    async def lookup(guild_id: int, user_id: int) -> set[int] | None:
        return roles.get(user_id)
    services.mentors.roles = lookup
    with pytest.raises(NotFoundError, match="isn't offering"):
        await services.mentors.request(G, MENTEE, MENTOR)
    roles[MENTOR] = {ROLE}
    assert (await services.mentors.request(G, MENTEE, MENTOR)).delivery is Delivery.SENT


async def test_a_server_can_require_days_on_a_counter_shared_with_the_server(services: Services) -> None:
    await services.guild_config.set_mentors(G, min_days=90)
    await services.recovery.start(G, MENTOR, "2026-06-01", "alcohol", visibility="private")
    with pytest.raises(PermissionDeniedError, match="at least \\*\\*90\\*\\* days"):
        await services.mentors.offer(G, MENTOR)
    await services.recovery.update_settings(G, MENTOR, "alcohol", visibility="server")
    await services.mentors.offer(G, MENTOR)
    await services.recovery.slip(G, MENTOR, "alcohol")
    assert (await services.mentors.find(G, MENTEE)).mentors == (), "checked again whenever they are listed"


# -- requests and answers ------------------------------------------------------------------------

async def test_a_request_reaches_the_mentor_by_dm_with_buttons_and_the_message(services: Services,
                                                                             notifier: RecordingNotifier) -> None:
    await services.mentors.offer(G, MENTOR)
    outcome = await services.mentors.request(G, MENTEE, MENTOR, "  I'm  90 days in and wobbly ")
    assert outcome.delivery is Delivery.SENT
    [dm] = notifier.dms_to(MENTOR)
    assert REQUEST_TEXT in dm.message.content and f"<@{MENTEE}>" in dm.message.content
    assert "> I'm 90 days in and wobbly" in dm.message.content
    assert [b.custom_id for b in dm.message.buttons] == [f"kindred:mentor:accept:{outcome.ref}",
                                                         f"kindred:mentor:decline:{outcome.ref}"]
    status = await services.mentors.status(G, MENTOR)
    assert [r.message for r in status.incoming] == ["I'm 90 days in and wobbly"]


@pytest.mark.parametrize("answer", ["accept", "decline", "expire", "stop", "withdraw"])
async def test_the_message_is_kept_only_while_the_request_is_open(services: Services, clock: FakeClock,
                                                                   answer: str) -> None:
    await services.mentors.offer(G, MENTOR)
    outcome = await services.mentors.request(G, MENTEE, MENTOR, "please")
    if answer in ("accept", "decline"):
        await services.mentors.answer_by_button(outcome.ref, MENTOR, accept=answer == "accept")
    elif answer == "expire":
        clock.advance(timedelta(days=14))
        await services.scheduler.run_all_once()
    elif answer == "stop":
        await services.mentors.stop(G, MENTOR)
    else:
        await services.mentors.end(G, MENTEE, MENTOR)
    rows = await services.db.fetch_all("SELECT status, message FROM mentor_requests")
    assert [(r["status"] != "pending", r["message"]) for r in rows] == [(True, None)]
    assert not [r for r in await services.db.fetch_all("SELECT payload FROM outbox WHERE payload IS NOT NULL")
                if "please" in r["payload"]]


async def test_the_message_never_reaches_the_logs(services: Services, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await services.mentors.offer(G, MENTOR, focus="sober curious")
    outcome = await services.mentors.request(G, MENTEE, MENTOR, "canary-5b1 my secret")
    await services.mentors.answer_by_button(outcome.ref, MENTOR, accept=True)
    assert "canary-5b1" not in caplog.text and "sober curious" not in caplog.text


async def test_accept_by_button_only_counts_for_the_mentor(services: Services, notifier: RecordingNotifier) -> None:
    await services.mentors.offer(G, MENTOR)
    outcome = await services.mentors.request(G, MENTEE, MENTOR)
    for stranger in (MENTEE, OTHER):
        with pytest.raises(PermissionDeniedError, match="addressed to someone else"):
            await services.mentors.answer_by_button(outcome.ref, stranger, accept=True)
    answer = await services.mentors.answer_by_button(outcome.ref, MENTOR, accept=True)
    assert answer.accepted and answer.asker_user == MENTEE
    [told] = texts(notifier, MENTEE, "said yes")
    assert "/mentor share" in told and "nothing about you" in told
    with pytest.raises(ConflictError, match="no longer open"):
        await services.mentors.answer_by_button(outcome.ref, MENTOR, accept=False)


async def test_decline_tells_the_mentee_kindly_and_asking_again_waits(services: Services,
                                                                      notifier: RecordingNotifier) -> None:
    await services.mentors.offer(G, MENTOR)
    await services.mentors.request(G, MENTEE, MENTOR)
    await services.mentors.decline(G, MENTOR)
    [told] = texts(notifier, MENTEE, "isn't able to take on a mentee")
    assert "not about you" in told
    with pytest.raises(ConflictError, match="not right now a little while ago"):
        await services.mentors.request(G, MENTEE, MENTOR)


async def test_closed_dms_leave_the_request_for_mentor_accept_in_the_server(services: Services,
                                                                           notifier: RecordingNotifier) -> None:
    await services.mentors.offer(G, MENTOR)
    notifier.dm_closed.add(MENTOR)
    outcome = await services.mentors.request(G, MENTEE, MENTOR)
    assert outcome.delivery is Delivery.DM_CLOSED
    answer = await services.mentors.accept(G, MENTOR)
    assert answer.accepted and (await services.mentors.status(G, MENTEE)).mentor is not None


@pytest.mark.parametrize(("who", "words", "error"), [
    (MENTEE, "your own mentor", InvalidInputError), (OTHER, "isn't offering", NotFoundError),
])
async def test_requests_to_yourself_or_to_someone_not_offering_are_refused(services: Services, who: int, words: str,
                                                                          error: type[Exception]) -> None:
    await services.mentors.offer(G, MENTEE)
    with pytest.raises(error, match=words):
        await services.mentors.request(G, MENTEE, who)


async def test_a_bot_cannot_be_asked(services: Services) -> None:
    with pytest.raises(InvalidInputError, match="Bots"):
        await services.mentors.request(G, MENTEE, OTHER, mentor_is_bot=True)


async def test_capacity_is_enforced_when_asking_and_when_accepting(services: Services) -> None:
    await services.mentors.offer(G, MENTOR, capacity=1)
    first = await services.mentors.request(G, MENTEE, MENTOR)
    second = await services.mentors.request(G, OTHER, MENTOR)  # room while nobody has been accepted
    await services.mentors.answer_by_button(first.ref, MENTOR, accept=True)
    with pytest.raises(ConflictError, match="capacity of 1 mentee"):
        await services.mentors.answer_by_button(second.ref, MENTOR, accept=True)
    with pytest.raises(ConflictError, match="no room"):
        await services.mentors.request(G, THIRD, MENTOR)
    assert [m.user_id for m in (await services.mentors.find(G, THIRD)).mentors] == [], "full mentors are not listed"


async def test_one_mentor_and_one_open_request_at_a_time(services: Services) -> None:
    await services.mentors.offer(G, MENTOR)
    await services.mentors.offer(G, OTHER)
    await services.mentors.request(G, MENTEE, MENTOR)
    with pytest.raises(ConflictError, match="already asked"):
        await services.mentors.request(G, MENTEE, OTHER)
    await services.mentors.accept(G, MENTOR)
    with pytest.raises(ConflictError, match="already have a mentor"):
        await services.mentors.request(G, MENTEE, OTHER)
    with pytest.raises(ConflictError, match="already your mentor"):
        await services.mentors.request(G, MENTEE, MENTOR)


async def test_a_request_whose_mentee_found_a_mentor_meanwhile_is_closed(services: Services) -> None:
    await services.mentors.offer(G, MENTOR)
    await services.mentors.offer(G, OTHER)
    first = await services.mentors.request(G, MENTEE, MENTOR)
    await services.mentors.end(G, MENTEE, MENTOR)  # withdrawn
    second = await services.mentors.request(G, MENTEE, OTHER)
    await services.mentors.answer_by_button(second.ref, OTHER, accept=True)
    with pytest.raises(ConflictError, match="no longer open"):
        await services.mentors.answer_by_button(first.ref, MENTOR, accept=True)


async def test_unanswered_requests_close_after_fourteen_days(services: Services, clock: FakeClock,
                                                             notifier: RecordingNotifier) -> None:
    await everyone_in_london(services)
    clock.set(london(2027, 1, 11, 10, 0))
    await services.mentors.offer(G, MENTOR)
    await services.mentors.request(G, MENTEE, MENTOR)
    clock.set(london(2027, 1, 25, 9, 59))
    await services.scheduler.run_all_once()
    assert texts(notifier, MENTEE, "has closed after 14 days") == []
    clock.set(london(2027, 1, 25, 10, 0))
    await services.scheduler.run_all_once()
    assert len(texts(notifier, MENTEE, "has closed after 14 days")) == 1


# -- stopping, ending ---------------------------------------------------------------------------------

async def test_stop_keeps_mentees_closes_waiting_requests_and_leaves_find(services: Services,
                                                                          notifier: RecordingNotifier) -> None:
    await mentoring(services, capacity=3)
    await services.mentors.request(G, OTHER, MENTOR)
    stopped = await services.mentors.stop(G, MENTOR)
    assert (stopped.mentees, stopped.closed_requests) == (1, 1)
    assert len(texts(notifier, OTHER, "paused taking on new mentees")) == 1
    assert (await services.mentors.find(G, THIRD)).mentors == ()
    with pytest.raises(NotFoundError):
        await services.mentors.request(G, THIRD, MENTOR)
    assert [m.user_id for m in (await services.mentors.status(G, MENTOR)).mentees] == [MENTEE]
    resumed = await services.mentors.offer(G, MENTOR)
    assert resumed.resumed and resumed.capacity == 3 and (await services.mentors.find(G, THIRD)).mentors


async def test_either_side_ends_kindly(services: Services, notifier: RecordingNotifier) -> None:
    await mentoring(services)
    ended = await services.mentors.end(G, MENTEE, MENTOR)
    assert not ended.withdrawn
    [told] = texts(notifier, MENTOR, "has ended your mentorship")
    assert "Thank you for being there" in told
    await services.mentors.request(G, MENTEE, MENTOR)
    await services.mentors.accept(G, MENTOR)
    await services.mentors.end(G, MENTOR, MENTEE)
    assert len(texts(notifier, MENTEE, "has ended your mentorship")) == 1
    with pytest.raises(NotFoundError):
        await services.mentors.end(G, MENTOR, MENTEE)


async def test_a_request_after_the_newest_request_was_deleted_reaches_its_mentor(
        services: Services, notifier: RecordingNotifier) -> None:
    # SQLite gives the next request the deleted one's id; its DM must not pass for the old one.
    await services.mentors.offer(G, MENTOR)
    await services.mentors.offer(G, THIRD)
    first = await services.mentors.request(G, MENTEE, MENTOR, "hi")
    await services.privacy.forget(G, MENTEE)
    second = await services.mentors.request(G, OTHER, THIRD, "hello")
    if services.db.dialect == SQLITE:  # the id was reused (PostgreSQL's identities never give one again)
        assert second.request_id == first.request_id
    assert second.delivery is Delivery.SENT and len(texts(notifier, THIRD, REQUEST_TEXT)) == 1


async def test_an_ending_after_the_newest_mentorship_was_deleted_is_told(
        services: Services, notifier: RecordingNotifier) -> None:
    await mentoring(services)
    await services.mentors.end(G, MENTEE, MENTOR)  # the mentor is told, under the mentorship's key
    await services.privacy.forget(G, MENTEE)        # the mentorship row goes with the mentee
    await mentoring(services, MENTOR, OTHER)        # the next mentorship takes its id
    await services.mentors.end(G, OTHER, MENTOR)
    assert len(texts(notifier, MENTOR, "has ended your mentorship")) == 2


async def test_end_withdraws_your_own_request_and_points_to_decline_for_theirs(services: Services) -> None:
    await services.mentors.offer(G, MENTOR)
    await services.mentors.request(G, MENTEE, MENTOR)
    with pytest.raises(ConflictError, match="/mentor decline"):
        await services.mentors.end(G, MENTOR, MENTEE)
    assert (await services.mentors.end(G, MENTEE, MENTOR)).withdrawn


# -- sharing and status -----------------------------------------------------------------------------

async def test_a_mentor_sees_nothing_until_the_mentee_chooses(services: Services, clock: FakeClock) -> None:
    await mentoring(services)
    await services.checkins.check_in(G, MENTEE, mood=2, note="private words")
    await services.recovery.start(G, MENTEE, "2026-10-01", "alcohol", visibility="buddies")
    [link] = (await services.mentors.status(G, MENTOR)).mentees
    assert link.shared.checkins is False and link.shared.last_checkin is None and link.shared.counters is None
    sharing = await services.mentors.share(G, MENTEE, checkins=True)
    assert (sharing.checkins, sharing.counters, sharing.changed) == (True, False, True)
    [link] = (await services.mentors.status(G, MENTOR)).mentees
    assert link.shared.last_checkin == clock.now().date() and link.shared.streak == 1 and link.shared.counters is None
    await services.mentors.share(G, MENTEE, counters=True)
    [link] = (await services.mentors.status(G, MENTOR)).mentees
    assert link.shared.counters == (("alcohol", 51),)
    assert (await services.mentors.share(G, MENTEE)).changed is False
    with pytest.raises(NotFoundError, match="don't have a mentor"):
        await services.mentors.share(G, OTHER, checkins=True)


# -- the nudge ------------------------------------------------------------------------------------

async def test_a_quiet_mentee_who_shares_brings_one_gentle_dm_outside_quiet_hours(services: Services, clock: FakeClock,
                                                                                 notifier: RecordingNotifier) -> None:
    await everyone_in_london(services)
    clock.set(london(2027, 1, 11, 9, 0))  # Monday
    await mentoring(services)
    await services.mentors.share(G, MENTEE, checkins=True)
    await services.checkins.check_in(G, MENTEE, mood=3)
    for hours in range(1, 24 * 4):
        clock.set(london(2027, 1, 11, 9, 0) + timedelta(hours=hours))
        await services.mentors.nudge_sweep(clock.now())
        await services.outbox.dispatch()
    [dm] = texts(notifier, MENTOR, NUDGE_TEXT)
    assert f"<@{MENTEE}>" in dm and "2 days" in dm
    [sent] = [s for s in notifier.dms_to(MENTOR) if NUDGE_TEXT in s.message.content]
    row = await services.db.fetch_one("SELECT local_date, created_at FROM mentor_nudges")
    assert row is not None and row["local_date"] == "2027-01-14" and row["created_at"].startswith("2027-01-14T08:00")
    assert sent.message.content.count(NUDGE_TEXT) == 1 and texts(notifier, MENTEE, NUDGE_TEXT) == []


async def test_a_mentee_who_stops_sharing_while_the_sweep_decides_is_not_told_about(
        services: Services, clock: FakeClock, notifier: RecordingNotifier) -> None:
    await everyone_in_london(services)
    clock.set(london(2027, 1, 11, 9, 0))
    await mentoring(services)
    await services.mentors.share(G, MENTEE, checkins=True)
    await services.checkins.check_in(G, MENTEE, mood=3)
    clock.set(london(2027, 1, 14, 9, 0))  # two whole quiet days: a nudge is due
    mentors = services.mentors
    first_read = mentors._due_nudges

    async def read_then_mentee_acts(now: datetime, mentorship_ids: Sequence[int]) -> list:  # type: ignore[type-arg]
        due = await first_read(now, mentorship_ids)
        mentors._due_nudges = first_read  # type: ignore[method-assign]
        assert due  # the sweep saw a nudge due; the mentee's /mentor share commits now
        await mentors.share(G, MENTEE, checkins=False)
        return due

    mentors._due_nudges = read_then_mentee_acts  # type: ignore[method-assign]
    assert await mentors.nudge_sweep(clock.now()) == 0
    await services.outbox.dispatch()
    assert texts(notifier, MENTOR, NUDGE_TEXT) == []


async def test_no_nudge_about_a_mentee_who_does_not_share(services: Services, clock: FakeClock,
                                                          notifier: RecordingNotifier) -> None:
    await everyone_in_london(services)
    clock.set(london(2027, 1, 11, 9, 0))
    await mentoring(services)
    clock.set(london(2027, 1, 20, 12, 0))
    await services.mentors.nudge_sweep(clock.now())
    await services.outbox.dispatch()
    assert texts(notifier, MENTOR, NUDGE_TEXT) == []


async def test_sharing_later_counts_absence_from_then(services: Services, clock: FakeClock,
                                                       notifier: RecordingNotifier) -> None:
    await everyone_in_london(services)
    clock.set(london(2027, 1, 1, 9, 0))
    await mentoring(services)
    clock.set(london(2027, 1, 11, 12, 0))
    await services.mentors.share(G, MENTEE, checkins=True)
    await services.mentors.nudge_sweep(clock.now())
    assert texts(notifier, MENTOR, NUDGE_TEXT) == [], "choosing to share never brings an instant nudge"
    clock.set(london(2027, 1, 14, 12, 0))
    await services.mentors.nudge_sweep(clock.now())
    await services.outbox.dispatch()
    assert len(texts(notifier, MENTOR, NUDGE_TEXT)) == 1


@pytest.mark.parametrize("blocker", ["mentor paused", "mentee paused", "mentor dms closed"])
async def test_pauses_and_closed_dms_hold_the_nudge(services: Services, clock: FakeClock, notifier: RecordingNotifier,
                                                    blocker: str) -> None:
    await everyone_in_london(services)
    clock.set(london(2027, 1, 11, 9, 0))
    await mentoring(services)
    await services.mentors.share(G, MENTEE, checkins=True)
    if blocker == "mentor paused":
        await services.buddies.pause(G, MENTOR, 10)
    elif blocker == "mentee paused":
        await services.buddies.pause(G, MENTEE, 10)
    else:
        await services.members.mark_dm_closed(MENTOR, clock.now())
    clock.set(london(2027, 1, 15, 12, 0))
    await services.mentors.nudge_sweep(clock.now())
    await services.outbox.dispatch()
    assert texts(notifier, MENTOR, NUDGE_TEXT) == []


async def test_no_nudge_about_a_mentee_who_left_the_server_and_the_mentor_is_told(services: Services, clock: FakeClock,
                                                                                 notifier: RecordingNotifier) -> None:
    await everyone_in_london(services)
    clock.set(london(2027, 1, 11, 9, 0))
    await mentoring(services)
    await services.mentors.share(G, MENTEE, checkins=True)

    async def membership(guild_id: int, user_id: int) -> bool | None:
        return user_id != MENTEE
    services.mentors.membership = membership
    clock.set(london(2027, 1, 15, 12, 0))
    await services.mentors.nudge_sweep(clock.now())
    await services.outbox.dispatch()
    assert texts(notifier, MENTOR, NUDGE_TEXT) == []
    assert len(texts(notifier, MENTOR, "no longer a member")) == 1
    assert (await services.mentors.status(G, MENTOR)).mentees == ()


# -- privacy and counts -------------------------------------------------------------------------------

async def test_deleting_a_mentee_ends_the_mentorship_with_a_notice_that_names_nobody(
        services: Services, notifier: RecordingNotifier) -> None:
    await mentoring(services)
    await services.privacy.forget(G, MENTEE)
    await services.outbox.dispatch()
    [told] = texts(notifier, MENTOR, "stepped away")
    assert str(MENTEE) not in told and "mentee" in told
    assert (await services.mentors.status(G, MENTOR)).mentees == ()


async def test_counts_for_the_pulse_name_nobody(services: Services, clock: FakeClock) -> None:
    await mentoring(services, capacity=2)
    await services.mentors.request(G, OTHER, MENTOR)
    await services.mentors.accept(G, MENTOR)
    assert await services.mentors.repo.active_mentorship_count(G) == 2
    clock.advance(timedelta(days=1))
    await services.mentors.end(G, MENTEE, MENTOR)
    assert await services.mentors.repo.active_mentorship_count(G) == 1
    assert await services.mentors.repo.mentorships_active_at(G, clock.now() - timedelta(hours=12)) == 2


async def test_ended_mentorships_and_closed_requests_are_deleted_after_thirty_days(services: Services,
                                                                                  clock: FakeClock) -> None:
    await mentoring(services)
    await services.mentors.end(G, MENTEE, MENTOR)
    await services.mentors.request(G, OTHER, MENTOR)
    await services.mentors.decline(G, MENTOR)
    clock.advance(timedelta(days=29))
    await services.mentors.nudge_sweep(clock.now())
    assert await services.db.fetch_value("SELECT count(*) FROM mentorships") == 1
    assert await services.db.fetch_value("SELECT count(*) FROM mentor_requests") == 2
    clock.advance(timedelta(days=2))
    await services.mentors.nudge_sweep(clock.now())
    assert await services.db.fetch_value("SELECT count(*) FROM mentorships") == 0
    assert await services.db.fetch_value("SELECT count(*) FROM mentor_requests") == 0


async def test_an_hour_with_nothing_to_do_takes_no_write_lock(services: Services, clock: FakeClock,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # The nudge sweep runs every hour in every process; the single writer is shared with every
    # command, so an hour with nothing to tidy and nobody quiet must only read.
    await mentoring(services)
    await services.mentors.end(G, MENTEE, MENTOR)  # ended, but kept for 30 days yet
    await mentoring(services, mentee=OTHER)  # counted from today: not quiet yet
    clock.advance(timedelta(days=1))
    opened = count_write_transactions(services.db, monkeypatch)
    assert await services.mentors.nudge_sweep(clock.now()) == 0
    assert opened == [0]


# -- review 17: buttons name the request's incarnation ---------------------------------------------

async def test_an_old_dm_button_does_not_answer_a_new_request_that_reused_its_id(
        services: Services, notifier: RecordingNotifier) -> None:
    """A's request DM keeps its buttons; A deletes their data; B asks the same mentor and gets A's row id."""
    await services.mentors.offer(G, MENTOR, capacity=3)
    a = await services.mentors.request(G, MENTEE, MENTOR, "please, A here")
    await services.privacy.forget(G, MENTEE)  # /privacy delete: A's request row goes (cascade)
    b = await services.mentors.request(G, OTHER, MENTOR, "B here")
    if services.db.dialect == SQLITE:  # PostgreSQL's identities never give an id again
        assert b.request_id == a.request_id, "precondition: SQLite reused the id"
    for accept in (True, False):
        with pytest.raises(NotFoundError, match="no longer open"):
            await services.mentors.answer_by_button(a.ref, MENTOR, accept=accept)
    assert (await services.mentors.status(G, MENTOR)).mentees == ()
    assert [r.mentee_user for r in (await services.mentors.status(G, MENTOR)).incoming] == [OTHER]
    await services.mentors.answer_by_button(b.ref, MENTOR, accept=True)
    assert [m.user_id for m in (await services.mentors.status(G, MENTOR)).mentees] == [OTHER]


async def test_a_button_from_before_incarnations_changes_nothing(services: Services) -> None:
    """`kindred:mentor:accept:<id>` (no incarnation) could name an earlier request with that id: refused kindly."""
    await services.mentors.offer(G, MENTOR)
    outcome = await services.mentors.request(G, MENTEE, MENTOR)
    with pytest.raises(ConflictError, match="no longer open.*`/mentor accept`"):
        await services.mentors.answer_by_button(RowRef.parse(str(outcome.request_id)), MENTOR, accept=True)
    assert (await services.mentors.status(G, MENTEE)).mentor is None
    assert [r.mentee_user for r in (await services.mentors.status(G, MENTOR)).incoming] == [MENTEE]


# -- review 17: a closed request's DM is never delivered later ----------------------------------

@pytest.mark.parametrize("close", ["withdraw", "stop", "decline in the server"])
async def test_a_request_dm_still_queued_is_withdrawn_with_the_request(services: Services, clock: FakeClock,
                                                                      notifier: RecordingNotifier,
                                                                      close: str) -> None:
    """Discord is busy when the request DM goes; the request closes; its words must not arrive later."""
    await services.mentors.offer(G, MENTOR)
    notifier.transient_failures = 1
    outcome = await services.mentors.request(G, MENTEE, MENTOR, "my private words")
    assert outcome.delivery is Delivery.RETRYING
    if close == "withdraw":
        await services.mentors.end(G, MENTEE, MENTOR)
    elif close == "stop":
        await services.mentors.stop(G, MENTOR)
    else:
        await services.mentors.decline(G, MENTOR)
    for minutes in (1, 5, 30, 120):
        clock.advance(timedelta(minutes=minutes))
        await services.scheduler.run_all_once()
    got = [s.message.content for s in notifier.dms_to(MENTOR) if s.result.status.value == "sent"]
    assert not any(REQUEST_TEXT in t for t in got), got
    rows = await services.db.fetch_all("SELECT status, payload FROM outbox WHERE kind = 'mentor.request'")
    assert [(r["status"], r["payload"]) for r in rows] == [("cancelled", None)]


# -- review 17: what "counters" shares -----------------------------------------------------------

async def test_sharing_counters_never_shows_a_counter_marked_private(services: Services) -> None:
    await mentoring(services)
    await services.recovery.start(G, MENTEE, "2026-10-01", "self-harm", visibility="private")
    await services.recovery.start(G, MENTEE, "2026-10-01", "alcohol", visibility="buddies")
    await services.recovery.start(G, MENTEE, "2026-10-01", "smoking", visibility="server")
    await services.mentors.share(G, MENTEE, counters=True)
    [link] = (await services.mentors.status(G, MENTOR)).mentees
    assert link.shared.counters is not None
    assert sorted(name for name, _ in link.shared.counters) == ["alcohol", "smoking"]
    [mine] = [(await services.mentors.status(G, MENTEE)).mentor]
    assert mine is not None and sorted(n for n, _ in mine.shared.counters or ()) == ["alcohol", "smoking"]


# -- review 17: other members' words ---------------------------------------------------------------

async def test_the_request_message_reaches_the_mentor_as_the_mentees_words(services: Services,
                                                                          notifier: RecordingNotifier) -> None:
    await services.mentors.offer(G, MENTOR)
    words = "[✅ Verify your Kindred account](https://evil.example) -# sent by Kindred staff"
    await services.mentors.request(G, MENTEE, MENTOR, words)
    [dm] = notifier.dms_to(MENTOR)
    assert words not in dm.message.content
    assert f"Their message, in their own words:\n> {escape_markup(words)}" in dm.message.content


@pytest.mark.parametrize("focus", ["see https://evil.example/login", "discord.gg/abc", "@everyone", "<@&1> **big**"])
async def test_a_focus_with_a_link_or_mention_is_refused_kindly(services: Services, focus: str) -> None:
    with pytest.raises(InvalidInputError, match="plain words"):
        await services.mentors.offer(G, MENTOR, focus=focus)
    assert (await services.mentors.status(G, MENTOR)).offer is None


async def test_two_members_never_mentor_each_other(services: Services) -> None:
    await services.mentors.offer(G, MENTOR)
    await services.mentors.offer(G, OTHER)
    asks_other = await services.mentors.request(G, MENTOR, OTHER)
    asks_back = await services.mentors.request(G, OTHER, MENTOR)
    await services.mentors.answer_by_button(asks_other.ref, OTHER, accept=True)  # OTHER mentors MENTOR
    with pytest.raises(ConflictError, match="already your mentor"):
        await services.mentors.answer_by_button(asks_back.ref, MENTOR, accept=True)
    rows = await services.db.fetch_all("SELECT mentor_id, mentee_id FROM mentorships WHERE ended_at IS NULL")
    assert len(rows) == 1


async def test_a_mentor_who_left_the_server_cannot_accept_from_an_old_dm(services: Services) -> None:
    await services.mentors.offer(G, MENTOR)
    request = await services.mentors.request(G, MENTEE, MENTOR)

    async def membership(guild_id: int, user_id: int) -> bool | None:
        return user_id != MENTOR  # the mentor has left the server since

    services.mentors.membership = membership
    with pytest.raises(ConflictError, match="no longer a member"):
        await services.mentors.answer_by_button(request.ref, MENTOR, accept=True)
    assert (await services.mentors.status(G, MENTEE)).mentor is None


async def test_no_new_mentorship_begins_once_mentoring_is_turned_off(services: Services) -> None:
    await services.mentors.offer(G, MENTOR)
    request = await services.mentors.request(G, MENTEE, MENTOR)
    await services.guild_config.set_mentors(G, enabled=False)
    with pytest.raises(NotConfiguredError):
        await services.mentors.answer_by_button(request.ref, MENTOR, accept=True)
    assert (await services.mentors.status(G, MENTEE)).mentor is None
    # Declining still works: the mentee is told kindly instead of waiting 14 days.
    await services.mentors.answer_by_button(request.ref, MENTOR, accept=False)
