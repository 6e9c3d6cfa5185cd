"""Meetings: weekly peer-support groups, published as Discord scheduled events, with reminders.

Rules (decided where the SPEC is silent; the README's "Meetings" section says the same):

* `/meeting add` (Manage Server or Manage Events) validates everything, then publishes the
  next occurrence as a scheduled event, then stores the meeting: if Discord refuses, nothing
  is stored; if storing fails, the event is deleted again. A time that falls in a DST gap
  on some of the meeting's weekdays is refused (see `bot.domain.meetings`). Without a
  channel the event is "external": its location is the description when that fits in 100
  characters, "See the event's description" when it is longer, else "Online". At most 25
  meetings per server.
* The events sweep (every minute, on the database's `next_check_at`) publishes the next
  occurrence when one ends (Discord only takes a start in the future, so after downtime the
  next one still to come), deletes the ended occurrence's event if nobody started it (an
  event someone started is left to Discord, which ends it when the channel empties), and
  looks at the published event hourly before it starts: one deleted on Discord's side is
  recreated once per occurrence; deleted again, that occurrence stays unpublished (a
  moderator meant it) and the next is published as usual. Before creating, it looks for an
  event it may have created just before a crash, so a restart never publishes twice.
  The bot runs without the GUILD_SCHEDULED_EVENTS intent: it learns of a deleted event by
  asking, on its own schedule, which also covers downtime (gateway events would not).
* `/meeting remind` DMs `minutes_before` each occurrence (asked for, so quiet hours do
  not hold it back), exactly once per member, meeting and occurrence (the outbox key names
  all three, the meeting by `<id>.<incarnation>` so a meeting given a removed one's id
  never inherits its keys). After downtime a missed reminder goes out late only while its occurrence
  has not ended. A reminder turned on after its time for the coming occurrence starts
  with the following one. `/meeting remind-off` and `/meeting remove` withdraw any
  reminder not sent yet.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.config import Config
from bot.db import outbox as outbox_db
from bot.db.database import Database
from bot.db.meetings import Meeting, MeetingExistsError, MeetingRepository
from bot.db.members import MemberRepository
from bot.db.outbox import NewOutboxItem, OutboxItem
from bot.domain.clock import Clock
from bot.domain.keys import RowRef
from bot.domain.localtime import format_hhmm, local_now, parse_hhmm, zone
from bot.domain.meetings import (
    DEFAULT_DURATION,
    DEFAULT_REMIND,
    DESCRIPTION_MAX,
    DURATION_MINUTES,
    LOCATION_MAX,
    NAME_MAX,
    REMIND_MINUTES,
    WEEKDAYS,
    ChannelKind,
    EventOutcome,
    EventResult,
    EventSpec,
    EventStatus,
    WeeklyTime,
    event_url,
    first_gap,
    name_key,
    parse_weekday,
)
from bot.domain.messages import OutgoingMessage, SendResult, SendStatus
from bot.domain.plaintext import MARKUP_CHARACTERS, escape_markup, has_link, has_markup
from bot.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    ServiceUnavailableError,
)
from bot.services.buddies import GuildNamer
from bot.services.outbox import OutboxService
from bot.services.ports import ScheduledEvents
from bot.services.settings import (
    SettingsService,
    clip_for_reply,
    parse_time_option,
    parse_zone_option,
)

log = logging.getLogger(__name__)

MAX_MEETINGS = 25  # per server; autocomplete shows 25, and Discord holds 100 open events
VERIFY_EVERY = timedelta(hours=1)  # how often a published event is looked at before it starts
RETRY_AFTER = timedelta(minutes=5)  # a publication Discord was too busy for
SWEEP_BATCH = 200
REMINDER_KIND = "meeting.reminder"

# -- refusals ----------------------------------------------------------------------------

BAD_NAME = "A meeting's name is 1 to 60 characters."
NAME_CHARACTERS = (f"A meeting's name is plain words: no web addresses, and none of {MARKUP_CHARACTERS} (they'd "
                   "turn into formatting or mentions in everyone's list and reminders).")
BAD_WEEKDAY = "The weekday is one of monday … sunday."
BAD_DURATION = "A meeting lasts 15 to 240 minutes."
BAD_REMIND = "A reminder comes 5 to 120 minutes before the meeting."
BAD_DESCRIPTION = "The description can be up to 1000 characters."
NOT_VOICE = ("Meetings happen in a **voice** or **stage** channel — pick one of those, or leave `channel` out for "
             "a meeting held elsewhere (the description then says where).")
IN_GAP = ("{time} doesn't exist in {tz} on {day}: the clocks jump forward over it that night, so a weekly "
          "meeting at {time} would lose its slot that week. Please pick a time that exists every week "
          "(an hour later works). Nothing was saved.")
EXISTS = "There's already a meeting called “{name}” here. `/meeting list` shows them."
TOO_MANY = "This server has {count} meetings, the most Kindred keeps for one server. `/meeting remove` makes room."
NO_SUCH_MEETING = "There's no meeting called “{name}” here. `/meeting list` shows them."
NEED_PERMISSIONS = ("I can't publish this meeting as a Discord event yet: I'm missing {missing}. A server admin can "
                    "grant {it} to my role (Server Settings → Roles{where}). Nothing was saved.")
MANAGE_EVENTS_NAME = "**Manage Events** (called **Create Events** on newer permission settings)"
CANT_DELETE_EVENT = ("I couldn't delete this meeting's Discord event: I'm missing **Manage Events** (called **Create "
                     "Events** on newer permission settings). Grant it to my role, or delete the event yourself "
                     "in Discord, then run this again. Nothing was changed.")
DISCORD_BUSY = "Discord is busy right now, so nothing was changed. Please try again in a moment."
DISCORD_REFUSED = ("Discord didn't accept this meeting as an event. Please check the options (the channel still "
                   "exists, the name has some letters) and try again. Nothing was saved.")
CHANNEL_GONE = "I couldn't find that channel any more. Nothing was saved."
NO_REMINDER = "You have no reminder for “{name}”."

# -- the reminder DM -----------------------------------------------------------------------

REMINDER_DM = "⏰ **{name}** starts <t:{ts}:R> — {when} your time ({tz}).{where}{link}\n-# {off}"
REMINDER_LATE_DM = ("⏰ **{name}** started <t:{ts}:R> and runs until <t:{end}:t> — you can still join.{where}{link}"
                    "\n-# {off}")
REMINDER_OFF = "`/meeting remind-off` stops these reminders."


@dataclass(frozen=True, slots=True)
class AddOutcome:
    """The result of `/meeting add`."""

    meeting: Meeting
    url: str


@dataclass(frozen=True, slots=True)
class ListedMeeting:
    """A meeting as `/meeting list` shows it to one member."""

    name: str
    start: datetime
    local_start: datetime  # in the member's zone
    member_timezone: str
    duration_minutes: int
    channel_id: int | None
    location: str | None
    url: str | None
    remind_minutes: int | None


@dataclass(frozen=True, slots=True)
class RemindOutcome:
    """The result of `/meeting remind`."""

    name: str
    minutes_before: int
    next_reminder: datetime
    next_start: datetime


def clean_name(text: str) -> str:
    """Return a meeting name as stored (single-spaced, printable), refusing an empty or long one."""
    cleaned = " ".join("".join(ch for ch in text if ch.isprintable()).split())
    if not 1 <= len(cleaned) <= NAME_MAX:
        raise InvalidInputError(BAD_NAME)
    # Members read it in lists and reminders under the bot's name: plain words only.
    if has_link(cleaned) or has_markup(cleaned):
        raise InvalidInputError(NAME_CHARACTERS)
    return cleaned


def external_location(description: str | None) -> str:
    """Where an external event says it happens (Discord requires 1-100 characters)."""
    if description is None:
        return "Online"
    return description if len(description) <= LOCATION_MAX else "See the event's description"


def _day(day: date) -> str:
    return f"{day:%A %d %B %Y}"


class MeetingService:
    """Weekly meetings, their scheduled events and members' reminders."""

    def __init__(self, db: Database, repo: MeetingRepository, members: MemberRepository, settings: SettingsService,
                 outbox: OutboxService, events: ScheduledEvents, clock: Clock, config: Config) -> None:
        self.db = db
        self.repo = repo
        self.members = members
        self.settings = settings
        self.outbox = outbox
        self.events = events
        self.clock = clock
        self.config = config
        self.guild_name: GuildNamer = lambda _guild_id: None

    # -- adding and removing -------------------------------------------------------------

    async def add(self, guild_id: int, *, name: str, weekday: str, time_text: str, timezone: str,
                  duration: int = DEFAULT_DURATION, channel_id: int | None = None, channel_type: str | None = None,
                  description: str | None = None) -> AddOutcome:
        """Add a weekly meeting and publish its next occurrence; refuse kindly and store nothing on bad input."""
        clean = clean_name(name)
        try:
            day_of_week = parse_weekday(weekday)
        except ValueError:
            raise InvalidInputError(BAD_WEEKDAY) from None
        at_text = parse_time_option(time_text, "meeting time")
        tz_name = parse_zone_option(timezone)
        if not DURATION_MINUTES[0] <= duration <= DURATION_MINUTES[1]:
            raise InvalidInputError(BAD_DURATION)
        kind: ChannelKind | None = None
        if channel_id is not None:
            try:
                kind = ChannelKind(channel_type or "")
            except ValueError:
                raise InvalidInputError(NOT_VOICE) from None
        words = None if description is None else description.strip() or None
        if words is not None and len(words) > DESCRIPTION_MAX:
            raise InvalidInputError(BAD_DESCRIPTION)
        weekly = WeeklyTime(day_of_week, parse_hhmm(at_text), zone(tz_name), timedelta(minutes=duration))
        now = self.clock.now()
        gap = first_gap(day_of_week, weekly.at, weekly.tz, local_now(now, weekly.tz).date())
        if gap is not None:
            raise InvalidInputError(IN_GAP.format(time=at_text, tz=tz_name, day=_day(gap)))
        await self.settings.guild(guild_id)  # the server's row, on a first command there
        key = name_key(clean)
        if await self.repo.by_name(guild_id, key) is not None:
            raise ConflictError(EXISTS.format(name=clean))
        count = await self.repo.count(guild_id)
        if count >= MAX_MEETINGS:
            raise ConflictError(TOO_MANY.format(count=count))
        missing = self.events.missing_permissions(guild_id, channel_id, kind)
        if missing:
            raise PermissionDeniedError(_need(missing, channel_id))
        start = weekly.first_start_after(now)
        location = None if kind is not None else external_location(words)
        spec = EventSpec(clean, start, weekly.end_of(start), words, channel_id, kind, location)
        created = await self.events.create(guild_id, spec)
        if not created.ok:
            raise _refusal(created, channel_id, kind)
        assert created.event_id is not None
        try:
            async with self.db.transaction() as conn:
                meeting_id = await self.repo.create(
                    conn, guild_id=guild_id, name=clean, key=key, weekly=weekly, local_time=at_text, timezone=tz_name,
                    channel_id=channel_id, channel_kind=kind, location=location, description=words,
                    occurrence_at=start, event_id=created.event_id,
                    next_check_at=min(weekly.end_of(start), now + VERIFY_EVERY), now=now)
        except BaseException as exc:
            # Nothing half-done: the event goes again if the meeting could not be stored.
            await self.events.delete(guild_id, created.event_id)
            if isinstance(exc, MeetingExistsError):
                raise ConflictError(EXISTS.format(name=clean)) from None
            raise
        meeting = await self.repo.meeting(meeting_id)
        assert meeting is not None
        log.info("meeting %s added (guild=%s, event=%s)", meeting_id, guild_id, created.event_id)
        return AddOutcome(meeting, event_url(guild_id, created.event_id))

    async def remove(self, guild_id: int, name: str) -> str:
        """Delete a meeting's event, then the meeting and its reminders; return its name."""
        meeting = await self._named(guild_id, name)
        if meeting.event_id is not None:
            deleted = await self.events.delete(guild_id, meeting.event_id)
            if deleted.outcome is EventOutcome.FORBIDDEN:
                raise PermissionDeniedError(CANT_DELETE_EVENT)
            if deleted.outcome is EventOutcome.TRANSIENT:
                raise ServiceUnavailableError(DISCORD_BUSY)
            # NOT_FOUND: deleted on Discord's side already, which is what we want.
        async with self.db.transaction() as conn:
            await self.repo.delete(conn, meeting.meeting_id)
            await outbox_db.cancel_in(conn, key_prefix=f"meeting:{meeting.ref}:")
        log.info("meeting %s removed (guild=%s)", meeting.meeting_id, guild_id)
        return meeting.name

    async def _named(self, guild_id: int, name: str) -> Meeting:
        key = name_key(name)
        # Names are stored cleaned of control characters, so no meeting has one; such a name is
        # not even looked up (PostgreSQL cannot compare a NUL character at all).
        meeting = await self.repo.by_name(guild_id, key) if key.isprintable() else None
        if meeting is None:
            raise NotFoundError(NO_SUCH_MEETING.format(name=clip_for_reply(name, NAME_MAX)))
        return meeting

    async def names(self, guild_id: int, typed: str = "") -> list[str]:
        """Return the server's meeting names containing what was typed (for autocomplete)."""
        wanted = typed.casefold().strip()
        return [m.name for m in await self.repo.in_guild(guild_id) if wanted in m.name.casefold()][:25]

    # -- what members see -----------------------------------------------------------------

    async def upcoming(self, guild_id: int, user_id: int) -> list[ListedMeeting]:
        """Return the server's meetings, soonest first, with their next time in the member's own zone."""
        effective = await self.settings.effective(guild_id, user_id)
        reminders = await self.repo.reminders_of(effective.member.member_id)
        now = self.clock.now()
        listed = []
        for meeting in await self.repo.in_guild(guild_id):
            start = meeting.weekly.current_or_next(now)
            published = meeting.event_id is not None and meeting.occurrence_at == start
            reminder = reminders.get(meeting.meeting_id)
            listed.append(ListedMeeting(
                meeting.name, start, local_now(start, effective.tz), effective.timezone, meeting.duration_minutes,
                meeting.channel_id, meeting.location,
                event_url(guild_id, meeting.event_id) if published and meeting.event_id else None,
                reminder.minutes_before if reminder else None))
        return sorted(listed, key=lambda m: (m.start, m.name))

    async def remind(self, guild_id: int, user_id: int, name: str,
                     minutes_before: int = DEFAULT_REMIND) -> RemindOutcome:
        """Turn on (or change) a member's reminder DM before every occurrence of a meeting."""
        if not REMIND_MINUTES[0] <= minutes_before <= REMIND_MINUTES[1]:
            raise InvalidInputError(BAD_REMIND)
        meeting = await self._named(guild_id, name)
        member = await self.settings.touch(guild_id, user_id)
        now = self.clock.now()
        weekly = meeting.weekly
        before = timedelta(minutes=minutes_before)
        start = weekly.current_or_next(now)
        if start - before <= now:  # this one's reminder time has passed: start with the next
            start = weekly.first_start_after(start)
        async with self.db.transaction() as conn:
            await self.repo.put_reminder(conn, meeting_id=meeting.meeting_id, member_id=member.member_id,
                                         minutes_before=minutes_before, next_occurrence_at=start, now=now)
        log.debug("meeting reminder on (meeting=%s member=%s)", meeting.meeting_id, member.member_id)
        return RemindOutcome(meeting.name, minutes_before, start - before, start)

    async def remind_off(self, guild_id: int, user_id: int, name: str) -> str:
        """Turn a member's reminder for a meeting off (and withdraw one queued); return the meeting's name."""
        meeting = await self._named(guild_id, name)
        member = await self.settings.touch(guild_id, user_id)
        async with self.db.transaction() as conn:
            removed = await self.repo.delete_reminder(conn, meeting.meeting_id, member.member_id)
            await outbox_db.cancel_in(conn, key_prefix=f"meeting:{meeting.ref}:remind:{member.member_id}:")
        if not removed:
            raise NotFoundError(NO_REMINDER.format(name=meeting.name))
        return meeting.name

    async def members_with_reminders(self, member_ids: list[int]) -> set[int]:
        """Return the members a reminder still serves (retention keeps them)."""
        return await self.repo.members_with_reminders(member_ids)

    # -- the events sweep -------------------------------------------------------------------

    async def events_sweep(self, now: datetime) -> int:
        """Publish next occurrences, tidy ended ones, notice deleted events; return how many events were created."""
        created = 0
        for meeting in await self.repo.due_checks(now, SWEEP_BATCH):
            try:
                created += await self._check(meeting, now)
            except Exception:
                # One server's trouble (a permission taken away, a bug) must not hold up the others.
                log.exception("meeting %s: events check failed (guild=%s)", meeting.meeting_id, meeting.guild_id)
        return created

    async def _check(self, meeting: Meeting, now: datetime) -> int:
        weekly = meeting.weekly
        if now >= meeting.occurrence_end:
            if meeting.event_id is not None:
                await self._tidy(meeting)
            start = weekly.first_start_after(now)
            result = await self._publish(meeting, start)
            # A failed publication is tried again at the next look (sooner if Discord was only busy).
            retry = RETRY_AFTER if result.outcome is EventOutcome.TRANSIENT else VERIFY_EVERY
            await self._store(meeting, start, result.event_id if result.ok else None, recreated=False,
                              next_check=min(weekly.end_of(start), now + retry))
            if result.ok:
                log.info("meeting %s: occurrence %s published as event %s", meeting.meeting_id,
                         start.isoformat(), result.event_id)
            else:
                log.warning("meeting %s: next occurrence not published (%s)", meeting.meeting_id, result.outcome.value)
            return int(result.ok)
        next_check = min(meeting.occurrence_end, now + VERIFY_EVERY)
        upcoming = meeting.occurrence_at > now
        if meeting.event_id is None:
            if meeting.recreated or not upcoming:
                await self._store(meeting, meeting.occurrence_at, None, recreated=meeting.recreated, next_check=next_check)
                return 0
            result = await self._publish(meeting, meeting.occurrence_at)  # publishing failed before: try again
            if not result.ok and result.outcome is EventOutcome.TRANSIENT:
                next_check = min(next_check, now + RETRY_AFTER)
            await self._store(meeting, meeting.occurrence_at, result.event_id if result.ok else None, recreated=False,
                              next_check=next_check)
            return int(result.ok)
        seen = await self.events.fetch(meeting.guild_id, meeting.event_id)
        if seen.outcome is not EventOutcome.NOT_FOUND:
            if seen.outcome is EventOutcome.TRANSIENT:
                next_check = min(next_check, now + RETRY_AFTER)
            await self._store(meeting, meeting.occurrence_at, meeting.event_id, recreated=meeting.recreated,
                              next_check=next_check)
            return 0
        # Deleted on Discord's side. Recreated once per occurrence; deleted again, someone meant it.
        if meeting.recreated or not upcoming:
            log.info("meeting %s: event deleted on Discord's side, left unpublished", meeting.meeting_id)
            await self._store(meeting, meeting.occurrence_at, None, recreated=True, next_check=next_check)
            return 0
        result = await self._publish(meeting, meeting.occurrence_at)
        log.info("meeting %s: event deleted on Discord's side, recreated: %s", meeting.meeting_id, result.outcome.value)
        await self._store(meeting, meeting.occurrence_at, result.event_id if result.ok else None, recreated=result.ok,
                          next_check=next_check)
        return int(result.ok)

    async def _tidy(self, meeting: Meeting) -> None:
        """Delete an ended occurrence's event that nobody started (Discord would list it for hours)."""
        assert meeting.event_id is not None
        seen = await self.events.fetch(meeting.guild_id, meeting.event_id)
        if seen.ok and seen.status is EventStatus.SCHEDULED:
            await self.events.delete(meeting.guild_id, meeting.event_id)

    async def _publish(self, meeting: Meeting, start: datetime) -> EventResult:
        """Publish an occurrence: adopt the event made for it before a crash, else create one."""
        earlier = await self.events.find(meeting.guild_id, meeting.name, start)
        if earlier.ok or earlier.outcome is not EventOutcome.NOT_FOUND:
            return earlier  # found; or Discord could not say, and a second event must not be risked
        spec = EventSpec(meeting.name, start, meeting.weekly.end_of(start), meeting.description, meeting.channel_id,
                         meeting.channel_kind, meeting.location)
        return await self.events.create(meeting.guild_id, spec)

    async def _store(self, meeting: Meeting, start: datetime, event_id: int | None, *, recreated: bool,
                     next_check: datetime) -> None:
        async with self.db.transaction() as conn:
            stored = await self.repo.record_publication(conn, meeting, occurrence_at=start, event_id=event_id,
                                                        recreated=recreated, next_check_at=next_check)
        if not stored and event_id is not None and event_id != meeting.event_id:
            # Removed (or changed) while we were publishing: the new event must not outlive it.
            await self.events.delete(meeting.guild_id, event_id)

    async def events_due(self) -> datetime | None:
        """Return the earliest meeting look not done yet (for health checks)."""
        return await self.repo.earliest_check()

    # -- the reminders sweep --------------------------------------------------------------------

    async def reminder_sweep(self, now: datetime) -> int:
        """Queue the reminder DMs that are due (late only while the occurrence lasts); return how many."""
        queued = 0
        earliest = await self.repo.earliest_reminder()
        if earliest is None or earliest > now:
            return 0  # an idle minute costs one indexed read, not a write transaction
        while True:
            async with self.db.transaction() as conn:
                due = await self.repo.due_reminders(conn, now, SWEEP_BATCH)
                for item in due:
                    weekly = item.meeting.weekly
                    start = item.reminder.next_occurrence_at
                    while weekly.end_of(start) <= now:  # ended during downtime: too late to help
                        start = weekly.first_start_after(start)
                    if start - timedelta(minutes=item.reminder.minutes_before) <= now:
                        if not item.guild_left:
                            key = f"meeting:{item.meeting.ref}:remind:{item.reminder.member_id}:{start.isoformat()}"
                            text = self._reminder_text(item.meeting, start, item.timezone, now)
                            if await outbox_db.enqueue(conn, NewOutboxItem(
                                    dedupe_key=key, kind=REMINDER_KIND, target="dm", target_id=item.user_id,
                                    message=OutgoingMessage(content=text), guild_id=item.guild_id,
                                    member_id=item.reminder.member_id), not_before=now, now=now) is not None:
                                queued += 1
                        start = weekly.first_start_after(start)
                    await self.repo.advance_reminder(conn, item.reminder, start)
            if len(due) < SWEEP_BATCH:
                return queued

    def _reminder_text(self, meeting: Meeting, start: datetime, member_tz: str | None, now: datetime) -> str:
        tz_name = member_tz or self.config.defaults.timezone
        local = local_now(start, zone(tz_name))
        # The name (stored ones may predate the check) and the location are shown as typed.
        name = escape_markup(meeting.name)
        where = (f"\nWhere: <#{meeting.channel_id}>" if meeting.channel_id
                 else f"\nWhere: {escape_markup(meeting.location or '')}")
        link = ""
        if meeting.event_id is not None and meeting.occurrence_at == start:
            link = f"\nEvent: {event_url(meeting.guild_id, meeting.event_id)}"
        if start <= now:
            return REMINDER_LATE_DM.format(name=name, ts=int(start.timestamp()),
                                           end=int(meeting.weekly.end_of(start).timestamp()), where=where, link=link,
                                           off=REMINDER_OFF)
        return REMINDER_DM.format(name=name, ts=int(start.timestamp()),
                                  when=f"{WEEKDAYS[local.weekday()].capitalize()} {format_hhmm(local.time())}",
                                  tz=tz_name, where=where, link=link, off=REMINDER_OFF)

    async def reminders_due(self) -> datetime | None:
        """Return the earliest reminder not sent yet (for health checks)."""
        return await self.repo.earliest_reminder()

    async def on_reminder_result(self, item: OutboxItem, result: SendResult) -> None:
        """Count a delivered reminder for its occurrence (for `/config pulse`; nobody is named)."""
        if result.status is not SendStatus.SENT or item.guild_id is None:
            return
        try:
            _, meeting, _, _, occurrence = item.dedupe_key.split(":", 4)
            await self.repo.note_delivered(item.guild_id, RowRef.parse(meeting).row_id, datetime.fromisoformat(occurrence),
                                           self.clock.now())
        except Exception:
            # The outbox calls this mid-delivery; a count must never stop a message.
            log.exception("could not count meeting reminder %s", item.outbox_id)


def _need(missing: list[str], channel_id: int | None) -> str:
    names = [MANAGE_EVENTS_NAME if n == "Manage Events" else f"**{n}**" for n in missing]
    joined = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    channel_only = channel_id is not None and "Manage Events" not in missing
    where = f", or in <#{channel_id}>'s permissions" if channel_id is not None else ""
    if channel_only:
        joined += f" in <#{channel_id}>"
    return NEED_PERMISSIONS.format(missing=joined, it="it" if len(names) == 1 else "them", where=where)


def _refusal(result: EventResult, channel_id: int | None, kind: ChannelKind | None) -> Exception:
    if result.outcome is EventOutcome.FORBIDDEN:
        needed = ["Manage Events"]
        if kind is ChannelKind.VOICE:
            needed += ["View Channel", "Connect"]
        elif kind is ChannelKind.STAGE:
            needed += ["View Channel", "Manage Channels", "Mute Members", "Move Members"]
        return PermissionDeniedError(_need(needed, channel_id))
    if result.outcome is EventOutcome.TRANSIENT:
        return ServiceUnavailableError(DISCORD_BUSY)
    if result.outcome is EventOutcome.NOT_FOUND:
        return InvalidInputError(CHANNEL_GONE)
    return InvalidInputError(DISCORD_REFUSED)

