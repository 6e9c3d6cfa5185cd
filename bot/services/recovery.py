"""Recovery counters: start, slip, visibility, the server's milestone ladder, and celebrations.

Celebrations follow the sweep → outbox pattern. Each counter stores its next milestone
and the UTC instant of that day's celebration hour in the member's zone
(`next_celebration_at`, indexed). The sweep reads only rows whose instant has passed and,
in one transaction, advances the schedule, records the milestone
(`UNIQUE (period_id, milestone_days)`) and queues the message (`milestone:<period>:<days>`,
the period named with its incarnation: `bot.domain.keys`), so a restart around the
celebration hour cannot celebrate twice and downtime only makes a celebration late.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Protocol, TypeVar
from zoneinfo import ZoneInfo

from bot.config import Config
from bot.db.members import MemberRepository
from bot.db.outbox import NewOutboxItem
from bot.db.recovery import (
    CelebrationRecord,
    Claim,
    ClaimBasis,
    CounterChangedError,
    CounterExistsError,
    CounterRecord,
    LastRungError,
    RecoveryRepository,
    Schedule,
    ScheduleBasis,
    ScheduleInput,
    milestone_key,
    name_key,
)
from bot.domain.clock import Clock
from bot.domain.localtime import (
    InvalidDateError,
    local_date,
    occurrence_on,
    parse_iso_date,
    quiet_hours_end,
    zone,
)
from bot.domain.messages import OutgoingMessage
from bot.domain.plaintext import MARKUP_CHARACTERS, escape_markup, has_link, has_markup
from bot.domain.recovery import (
    Celebrate,
    Delivery,
    Duration,
    Ladder,
    Milestone,
    Period,
    Rung,
    Visibility,
    celebration_delivery,
    counter_stats,
    first_milestone_from,
    next_milestone,
    reached_milestone,
)
from bot.domain.settings import GuildSettings, MemberSettings
from bot.errors import ConflictError, InvalidInputError, NotFoundError
from bot.services.guild_config import GuildConfigService, GuildConfigView
from bot.services.settings import SettingsService

log = logging.getLogger(__name__)
_E = TypeVar("_E", Visibility, Celebrate)

DEFAULT_NAME = "recovery"
NAME_MAX = 40
DESCRIPTION_MAX = 100
MAX_COUNTERS = 10
MAX_RUNG_DAYS = 36500
MAX_RUNGS = 30  # a ladder is read in one reply; ten steps is the default
EARLIEST_DATE = date(1900, 1, 1)
# Member-chosen defaults: private, and celebrated by DM (the one place that shares nothing).
DEFAULT_VISIBILITY = Visibility.PRIVATE
DEFAULT_CELEBRATE = Celebrate.DM
SWEEP_BATCH = 500
RESCHEDULE_BATCH = 2000  # counters stored per transaction when a server's zone, hour or ladder changes
SWEEP_MAX_ROUNDS = 20
MILESTONE_KIND = "milestone"

# Characters that would turn a counter name into markup, a mention or a link in a public post.
_SPACES = re.compile(r"\s+")

# -- member-facing wording produced here (validation and celebrations) -------------------

DATE_FORMAT = ("I couldn't read “{text}” as a date. Please use year-month-day with dashes, "
               "like `2024-03-15`.")
DATE_NOT_REAL = "“{text}” isn't a date on the calendar. Could you check the day and month?"
DATE_FUTURE = ("{day} is still ahead in your time zone ({tz}), where today is {today}. "
               "Please choose today or an earlier date.")
DATE_TOO_EARLY = "Please choose a date from 1900 onwards."
NAME_EMPTY = "A counter name needs at least one letter or number."
NAME_TOO_LONG = f"Counter names can be up to {NAME_MAX} characters."
NAME_CHARACTERS = (f"Counter names can't contain these characters: {MARKUP_CHARACTERS} — they "
                   "would turn into formatting or mentions. Something like `alcohol` or `self-harm free` works.")
TOO_MANY = f"You already have {MAX_COUNTERS} counters, which is as many as I can keep for one person."
NO_COUNTERS = "You don't have a counter yet. Start one with `/recovery start`."
NO_SUCH_COUNTER = "You don't have a counter called “{name}”. Your counters: {names}."
WHICH_COUNTER = "You have more than one counter ({names}). Which one? Add `name:` to say."
START_BEFORE_SLIP = ("Your last slip is recorded on {slip}, so this count can start from that day "
                     "or later. Earlier history stays as it is.")
SLIP_BEFORE_START = ("This count started on {start}, so a slip can be recorded from that day on. "
                     "If the start date itself needs changing, use `/recovery start` with the right date.")
DESCRIPTION_TOO_LONG = f"A milestone description can be up to {DESCRIPTION_MAX} characters."
DESCRIPTION_CHARACTERS = (f"A milestone description is plain words: no web addresses, and none of {MARKUP_CHARACTERS} "
                          "— they would turn into links, formatting or mentions. Something like `One whole month!` "
                          "works.")
RUNG_RANGE = f"Milestones are a number of days from 1 to {MAX_RUNG_DAYS:,}."
NO_SUCH_RUNG = "There's no {days}-day milestone on this server's ladder."
LADDER_FULL = (f"This server's ladder already has {MAX_RUNGS} milestones, which is as many as I keep. "
               "Remove one with `/config milestones remove` to make room.")
CHANGED_JUST_NOW = "That counter changed just now. Please try again."
LAST_RUNG = ("That's the last milestone on the ladder, so I kept it. Add another first, or use "
             "`/config milestones reset` to go back to the default ladder.")

CELEBRATE_PUBLIC = "🎉 <@{user_id}> has reached **{label}** — *{name}*!{description} Every day counts. 💚"
CELEBRATE_DM = "🎉 Today you've reached **{label}** — *{name}*.{description} That's real, and it's yours. 💚"
CELEBRATE_DM_LATE = ("🎉 On {day} you reached **{label}** — *{name}*. I'm sorry this comes a little late."
                     "{description} That's real, and it's yours. 💚")
CELEBRATE_PUBLIC_LATE = ("🎉 <@{user_id}> reached **{label}** on {day} — *{name}*!{description} "
                         "Every day counts. 💚")


class BuddyDirectory(Protocol):
    """Tells whether two members of a server are buddies (implemented by the buddies feature)."""

    async def are_buddies(self, guild_id: int, user_a: int, user_b: int) -> bool:
        """Return True if the two users are buddies in the server."""
        ...


class NoBuddies:
    """A directory in which nobody is anybody's buddy (until the buddies feature is wired)."""

    async def are_buddies(self, guild_id: int, user_a: int, user_b: int) -> bool:
        """Return False."""
        return False


@dataclass(frozen=True, slots=True)
class CounterView:
    """A counter as its owner (or someone it is shared with) sees it on one local day."""

    name: str
    visibility: Visibility
    celebrate: Celebrate
    today: date
    start: date
    current_days: int
    duration: Duration
    longest_days: int
    total_days: int
    first_start: date
    periods: tuple[Period, ...]
    slips: tuple[date, ...]
    next: Milestone | None
    today_milestone: Milestone | None

    @property
    def days_to_next(self) -> int | None:
        """Days from today until the next milestone."""
        return None if self.next is None else (self.next.on - self.today).days


@dataclass(frozen=True, slots=True)
class StartResult:
    """What `/recovery start` did."""

    counter: CounterView
    created: bool
    previous_start: date | None
    delivery: Delivery


@dataclass(frozen=True, slots=True)
class SlipResult:
    """What `/recovery slip` did; `recorded` is False if the count already started that day."""

    counter: CounterView
    recorded: bool
    slip_date: date
    previous_days: int


@dataclass(frozen=True, slots=True)
class SettingsResult:
    """A counter after `/recovery settings`, with where celebrations will now go."""

    counter: CounterView
    delivery: Delivery
    has_channel: bool


@dataclass(frozen=True, slots=True)
class ShowResult:
    """Counters to show; for someone else's, only what they share (possibly nothing)."""

    own: bool
    counters: tuple[CounterView, ...]


@dataclass(frozen=True, slots=True)
class _GuildContext:
    view: GuildConfigView
    ladder: Ladder

    @property
    def hour(self) -> time:
        return time(self.view.celebration_hour)

    @property
    def basis(self) -> ScheduleBasis:
        guild = self.view.guild
        return ScheduleBasis(guild.guild_id, guild.timezone, guild.celebration_hour,
                             self.ladder.days if self.ladder.custom else ())


def _clip(text: str, limit: int = 40) -> str:
    cleaned = "".join(ch for ch in str(text) if ch.isprintable()).replace("`", "'")
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def clean_counter_name(text: str | None) -> str:
    """Validate and tidy a counter name (spaces collapsed), with kind errors."""
    if text is None:
        return DEFAULT_NAME
    if not text.isprintable():  # line breaks and control characters
        raise InvalidInputError(NAME_CHARACTERS)
    name = _SPACES.sub(" ", text).strip()
    if not name or not any(ch.isalnum() for ch in name):
        raise InvalidInputError(NAME_EMPTY)
    if len(name) > NAME_MAX:
        raise InvalidInputError(NAME_TOO_LONG)
    if has_markup(name):
        raise InvalidInputError(NAME_CHARACTERS)
    return name


def parse_counter_date(text: str, *, today: date, tz_name: str) -> date:
    """Parse a start or slip date: a real YYYY-MM-DD date from 1900 to the member's today."""
    try:
        day = parse_iso_date(text)
    except InvalidDateError:
        if re.fullmatch(r"\s*\d{4}-\d{2}-\d{2}\s*", text, re.ASCII):
            raise InvalidInputError(DATE_NOT_REAL.format(text=_clip(text))) from None
        raise InvalidInputError(DATE_FORMAT.format(text=_clip(text))) from None
    if day < EARLIEST_DATE:
        raise InvalidInputError(DATE_TOO_EARLY)
    if day > today:
        raise InvalidInputError(DATE_FUTURE.format(day=day.isoformat(), tz=tz_name, today=today.isoformat()))
    return day


def clean_description(text: str | None) -> str | None:
    """Tidy a milestone description (None or blank = none)."""
    if text is None:
        return None
    cleaned = _SPACES.sub(" ", "".join(ch if ch.isprintable() else " " for ch in text)).strip()
    if len(cleaned) > DESCRIPTION_MAX:
        raise InvalidInputError(DESCRIPTION_TOO_LONG)
    # It goes out in public celebrations under the bot's name: plain words only.
    if has_link(cleaned) or has_markup(cleaned):
        raise InvalidInputError(DESCRIPTION_CHARACTERS)
    return cleaned or None


def counter_view(record: CounterRecord, ladder: Ladder, today: date) -> CounterView:
    """Summarise a stored counter as of local `today`."""
    periods = tuple(p.period for p in record.periods)
    stats = counter_stats(periods, today)
    upcoming = next_milestone(stats.start, ladder, after_days=stats.current_days)
    reached = reached_milestone(stats.start, ladder, after_days=stats.current_days - 1, today=today)
    return CounterView(
        name=record.name, visibility=record.visibility, celebrate=record.celebrate, today=today,
        start=stats.start, current_days=stats.current_days,
        duration=stats.duration,
        longest_days=stats.longest_days, total_days=stats.total_days, first_start=stats.first_start,
        periods=periods, slips=stats.slips, next=upcoming,
        today_milestone=reached if reached is not None and reached.on == today else None,
    )


def schedule_for(start: date, ladder: Ladder, *, after_days: int, from_day: date, tz: ZoneInfo,
                 hour: time) -> Schedule | None:
    """Return when the first milestone on or after `from_day` (beyond `after_days`) is celebrated."""
    milestone = first_milestone_from(start, ladder, from_day, after_days=after_days)
    if milestone is None:
        return None
    return Schedule(milestone.days, occurrence_on(milestone.on, hour, tz))


class RecoveryService:
    """Counters, slips, visibility, ladders and milestone celebrations."""

    def __init__(self, repo: RecoveryRepository, members: MemberRepository, settings: SettingsService,
                 guild_config: GuildConfigService, clock: Clock, config: Config,
                 buddies: BuddyDirectory | None = None) -> None:
        self.repo = repo
        self.members = members
        self.settings = settings
        self.guild_config = guild_config
        self.clock = clock
        self.config = config
        self.buddies: BuddyDirectory = buddies or NoBuddies()
        # Last (zone, hour) each server's schedules were computed with, so unrelated
        # `/config` changes do not recompute every counter.
        self._schedule_basis: dict[int, tuple[str, int]] = {}

    # -- helpers ------------------------------------------------------------------------

    @property
    def default_ladder(self) -> tuple[int, ...]:
        """The config file's ladder."""
        return self.config.milestones.ladder

    async def members_counting(self, member_ids: Sequence[int]) -> set[int]:
        """Return the members with a counter: retention keeps them while it counts for them."""
        return await self.repo.members_with_counters(member_ids)

    async def ladder(self, guild_id: int) -> Ladder:
        """Return a server's milestone ladder."""
        return await self.repo.ladder(guild_id, self.default_ladder)

    async def _context(self, guild_id: int) -> _GuildContext:
        view = await self.guild_config.view(guild_id)
        return _GuildContext(view, await self.ladder(guild_id))

    async def _stored_context(self, guild_id: int) -> _GuildContext:
        # Read-only, for the sweep: `view()` would mark a server the bot left as joined again.
        guild = await self.guild_config.guilds.get(guild_id)
        assert guild is not None, "counters reference their server's row"
        return _GuildContext(self.guild_config.resolve(guild), await self.ladder(guild_id))

    async def _own(self, guild_id: int, user_id: int) -> tuple[int, ZoneInfo, str, date]:
        eff = await self.settings.effective(guild_id, user_id)
        tz = eff.tz
        return eff.member.member_id, tz, eff.timezone, local_date(self.clock.now(), tz)

    async def _pick(self, member_id: int, name: str | None) -> CounterRecord:
        if name is None:
            counters = await self.repo.counters(member_id)
            if not counters:
                raise NotFoundError(NO_COUNTERS)
            if len(counters) > 1:
                raise InvalidInputError(WHICH_COUNTER.format(names=_names(counters)))
            return counters[0]
        found = await self._named(member_id, name)
        if found is None:
            counters = await self.repo.counters(member_id)
            if not counters:
                raise NotFoundError(NO_COUNTERS)
            raise NotFoundError(NO_SUCH_COUNTER.format(name=_clip(name), names=_names(counters)))
        return found

    async def _named(self, member_id: int, name: str) -> CounterRecord | None:
        # Names with control characters are refused when counters are made, so no counter has
        # one; they are not even looked up (PostgreSQL cannot compare a NUL character at all).
        return await self.repo.counter(member_id, name) if name.isprintable() else None

    async def _reload(self, member_id: int, name: str) -> CounterRecord:
        found = await self._named(member_id, name)
        if found is None:  # removed by a concurrent command
            raise NotFoundError(NO_COUNTERS)
        return found

    # -- member commands ----------------------------------------------------------------

    async def start(self, guild_id: int, user_id: int, date_text: str, name: str | None = None,
                    visibility: str | None = None) -> StartResult:
        """Start a counter, or correct the start date of an existing one (never inventing a slip)."""
        clean = clean_counter_name(name)
        chosen = _choice(Visibility, visibility)
        member_id, tz, tz_name, today = await self._own(guild_id, user_id)
        start = parse_counter_date(date_text, today=today, tz_name=tz_name)
        ctx = await self._context(guild_id)
        now = self.clock.now()
        existing = await self.repo.counter(member_id, clean)
        if existing is None:
            if await self.repo.count(member_id) >= MAX_COUNTERS:
                raise ConflictError(TOO_MANY)
            schedule = schedule_for(start, ctx.ladder, after_days=0, from_day=today, tz=tz, hour=ctx.hour)
            try:
                record = await self.repo.create(
                    member_id=member_id, guild_id=guild_id, name=clean,
                    visibility=chosen or DEFAULT_VISIBILITY, celebrate=DEFAULT_CELEBRATE,
                    start=start, schedule=schedule, now=now)
            except CounterExistsError:
                # The same start arrived twice at once; the first one made it.
                record = await self._reload(member_id, clean)
            log.debug("recovery counter %s started (member %s)", record.counter_id, member_id)
            return StartResult(counter_view(record, ctx.ladder, today), True, None,
                               self._delivery(record, ctx))

        previous = existing.current.start
        if len(existing.periods) > 1:
            last_slip = existing.periods[-2].end
            assert last_slip is not None
            if start < last_slip:
                raise InvalidInputError(START_BEFORE_SLIP.format(slip=last_slip.isoformat()))
        if start != previous:
            after = await self.repo.last_celebrated_days(existing.current.period_id)
            schedule = schedule_for(start, ctx.ladder, after_days=after, from_day=today, tz=tz, hour=ctx.hour)
            try:
                await self.repo.move_start(existing, start, schedule, now)
            except CounterChangedError:
                raise ConflictError(CHANGED_JUST_NOW) from None
        if chosen is not None and chosen is not existing.visibility:
            await self._apply_settings(existing, chosen, existing.celebrate, ctx, now)
        record = await self._reload(member_id, clean)
        if start != previous:
            log.debug("recovery counter %s start corrected (member %s)", record.counter_id, member_id)
        return StartResult(counter_view(record, ctx.ladder, today), False, previous, self._delivery(record, ctx))

    async def show(self, guild_id: int, viewer_id: int, owner_id: int | None = None,
                   name: str | None = None) -> ShowResult:
        """Return the viewer's own counters, or what another member shares with the viewer."""
        if owner_id is None or owner_id == viewer_id:
            member_id, _tz, _name, today = await self._own(guild_id, viewer_id)
            ladder = await self.ladder(guild_id)
            if name is not None:
                records = [await self._pick(member_id, name)]
            else:
                records = await self.repo.counters(member_id)
                if not records:
                    raise NotFoundError(NO_COUNTERS)
            return ShowResult(True, tuple(counter_view(r, ladder, today) for r in records))
        await self.settings.touch(guild_id, viewer_id)
        shared = await self.shared_counters(guild_id, owner_id, viewer_id)
        if name is not None:
            # Matching by name only among shared counters, so a wrong guess and a private
            # counter look exactly alike.
            shared = [c for c in shared if name_key(c.name) == name_key(name)]
        return ShowResult(False, tuple(shared))

    async def shared_counters(self, guild_id: int, owner_user_id: int, viewer_user_id: int) -> list[CounterView]:
        """Return the owner's counters the viewer may see (all of them if they are the owner).

        `server` counters are visible to anyone in the server, `buddies` counters to the
        owner's buddies, `private` ones to nobody else. The result never says whether
        anything else exists. Reading never creates or touches the owner's records.
        """
        owner = await self.members.get(guild_id, owner_user_id)
        if owner is None:
            return []
        records = await self.repo.counters(owner.member_id)
        if owner_user_id != viewer_user_id:
            allowed = {Visibility.SERVER}
            if any(r.visibility is Visibility.BUDDIES for r in records) and await self.buddies.are_buddies(
                    guild_id, owner_user_id, viewer_user_id):
                allowed.add(Visibility.BUDDIES)
            records = [r for r in records if r.visibility in allowed]
        if not records:
            return []
        ctx = await self._context(guild_id)
        tz = zone(owner.timezone or ctx.view.timezone)
        today = local_date(self.clock.now(), tz)
        return [counter_view(r, ctx.ladder, today) for r in records]

    async def slip(self, guild_id: int, user_id: int, name: str | None = None,
                   date_text: str | None = None) -> SlipResult:
        """Record a slip: the current period ends on that date and a new one starts the same date."""
        member_id, tz, tz_name, today = await self._own(guild_id, user_id)
        counter = await self._pick(member_id, name)
        on = today if date_text is None else parse_counter_date(date_text, today=today, tz_name=tz_name)
        ctx = await self._context(guild_id)
        current = counter.current
        if on < current.start:
            raise InvalidInputError(SLIP_BEFORE_START.format(start=current.start.isoformat()))
        previous_days = current.period.days(on)
        if on == current.start:
            return SlipResult(counter_view(counter, ctx.ladder, today), False, on, previous_days)
        schedule = schedule_for(on, ctx.ladder, after_days=0, from_day=today, tz=tz, hour=ctx.hour)
        try:
            await self.repo.record_slip(counter, on, schedule, self.clock.now())
        except CounterChangedError:
            raise ConflictError(CHANGED_JUST_NOW) from None
        record = await self._reload(member_id, counter.name)
        log.debug("recovery counter %s slip recorded (member %s)", record.counter_id, member_id)
        return SlipResult(counter_view(record, ctx.ladder, today), True, on, previous_days)

    async def update_settings(self, guild_id: int, user_id: int, name: str, visibility: str | None = None,
                              celebrate: str | None = None) -> SettingsResult:
        """Change a counter's visibility and how its milestones are celebrated."""
        member_id, _tz, _name, today = await self._own(guild_id, user_id)
        counter = await self._pick(member_id, name)
        ctx = await self._context(guild_id)
        new_visibility = _choice(Visibility, visibility) or counter.visibility
        new_celebrate = _choice(Celebrate, celebrate) or counter.celebrate
        await self._apply_settings(counter, new_visibility, new_celebrate, ctx, self.clock.now())
        record = await self._reload(member_id, counter.name)
        return SettingsResult(counter_view(record, ctx.ladder, today), self._delivery(record, ctx),
                              ctx.view.guild.celebrations_channel_id is not None)

    async def _apply_settings(self, counter: CounterRecord, visibility: Visibility, celebrate: Celebrate,
                              ctx: _GuildContext, now: datetime) -> None:
        has_channel = ctx.view.guild.celebrations_channel_id is not None
        public = celebration_delivery(visibility, celebrate, has_channel) is Delivery.CHANNEL
        try:
            await self.repo.update_settings(counter, visibility=visibility, celebrate=celebrate,
                                            cancel_public=not public, now=now)
        except CounterChangedError:
            raise ConflictError(CHANGED_JUST_NOW) from None

    async def remove(self, guild_id: int, user_id: int, name: str) -> str:
        """Delete one counter and its history; return its name."""
        member_id, *_ = await self._own(guild_id, user_id)
        counter = await self._pick(member_id, name)
        await self.repo.delete(counter)
        log.debug("recovery counter %s removed (member %s)", counter.counter_id, member_id)
        return counter.name

    async def history(self, guild_id: int, user_id: int, name: str | None = None) -> list[CounterView]:
        """Return the member's counters (or one) with their periods, slips, longest and total."""
        result = await self.show(guild_id, user_id, None, name)
        return list(result.counters)

    async def names(self, guild_id: int, user_id: int) -> list[str]:
        """Return the member's counter names (for autocomplete; creates nothing)."""
        member = await self.members.get(guild_id, user_id)
        return [] if member is None else await self.repo.names(member.member_id)

    def _delivery(self, record: CounterRecord, ctx: _GuildContext) -> Delivery:
        return celebration_delivery(record.visibility, record.celebrate,
                                    ctx.view.guild.celebrations_channel_id is not None)

    # -- the server's ladder (moderators) -----------------------------------------------

    async def add_milestone(self, guild_id: int, days: int, description: str | None = None) -> Ladder:
        """Add a milestone to the server's ladder (or change its description)."""
        if not 1 <= days <= MAX_RUNG_DAYS:
            raise InvalidInputError(RUNG_RANGE)
        await self.guild_config.get(guild_id)  # the server's row, which the ladder references
        rung = Rung(days, clean_description(description))
        current = (await self.ladder(guild_id)).days
        if days not in current and len(current) >= MAX_RUNGS:
            raise ConflictError(LADDER_FULL)
        await self.repo.set_rung(guild_id, rung, self.default_ladder)
        await self.reschedule_guild(guild_id)
        return await self.ladder(guild_id)

    async def remove_milestone(self, guild_id: int, days: int) -> Ladder:
        """Remove a milestone from the server's ladder."""
        await self.guild_config.get(guild_id)
        if days not in (await self.ladder(guild_id)).days:
            raise NotFoundError(NO_SUCH_RUNG.format(days=days))
        try:
            removed = await self.repo.remove_rung(guild_id, days, self.default_ladder)
        except LastRungError:
            raise ConflictError(LAST_RUNG) from None
        if not removed:
            raise NotFoundError(NO_SUCH_RUNG.format(days=days))
        await self.reschedule_guild(guild_id)
        return await self.ladder(guild_id)

    async def reset_milestones(self, guild_id: int) -> Ladder:
        """Go back to the default ladder."""
        await self.repo.reset_ladder(guild_id)
        await self.reschedule_guild(guild_id)
        return await self.ladder(guild_id)

    # -- scheduling -----------------------------------------------------------------------

    async def on_guild_change(self, guild: GuildSettings) -> None:
        """Recompute a server's celebration times when its zone or celebration hour changed."""
        view = self.guild_config.resolve(guild)
        if self._schedule_basis.get(guild.guild_id) != (view.timezone, view.celebration_hour):
            await self.reschedule_guild(guild.guild_id)

    async def reschedule_guild(self, guild_id: int) -> int:
        """Recompute every counter's next celebration in a server; return how many changed."""
        # Forgotten until this run completes: a change arriving meanwhile must not be
        # skipped as "already done" if this run is refused part-way.
        self._schedule_basis.pop(guild_id, None)
        ctx = await self._context(guild_id)
        changed = await self._reschedule(await self.repo.schedule_inputs(guild_id=guild_id), ctx)
        if changed is None:
            return 0  # the server changed again meanwhile: that change's reschedule stores the times
        self._schedule_basis[guild_id] = (ctx.view.timezone, ctx.view.celebration_hour)
        return changed

    async def on_member_change(self, member: MemberSettings) -> None:
        """Recompute a member's celebration times after they change time zone."""
        ctx = await self._context(member.guild_id)
        await self._reschedule(await self.repo.schedule_inputs(member_id=member.member_id), ctx)

    async def _reschedule(self, inputs: Sequence[ScheduleInput], ctx: _GuildContext) -> int | None:
        """Store the schedules `ctx` gives; None if the server's settings moved on meanwhile."""
        now = self.clock.now()
        changes: list[tuple[int, Schedule | None, Schedule | None]] = []
        for item in inputs:
            tz = zone(item.member_timezone or ctx.view.timezone)
            today = local_date(now, tz)
            # A celebration already due but not yet swept stays due: start from its day.
            from_day = today
            if item.schedule is not None:
                from_day = min(today, item.start + timedelta(days=item.schedule.milestone_days))
            schedule = schedule_for(item.start, ctx.ladder, after_days=item.last_celebrated_days,
                                    from_day=from_day, tz=tz, hour=ctx.hour)
            if schedule != item.schedule:
                changes.append((item.counter_id, item.schedule, schedule))
        # A server of thousands is stored in a few short transactions, not one long one
        # that keeps every other write waiting, nor one per counter.
        stored = 0
        for start in range(0, len(changes), RESCHEDULE_BATCH):
            batch = await self.repo.set_schedules(changes[start:start + RESCHEDULE_BATCH], now, basis=ctx.basis)
            if batch is None:
                return None
            stored += batch
        return stored

    async def sweep(self, now: datetime) -> int:
        """Celebrate due milestones: claim, record and queue in one transaction per batch."""
        recorded = 0
        for _ in range(SWEEP_MAX_ROUNDS):
            due = await self.repo.due(now, SWEEP_BATCH)
            # Read afresh each round: a claim decided on a server's old settings is refused.
            contexts: dict[int, _GuildContext] = {}
            claims = []
            for item in due:
                if item.guild_id not in contexts:
                    contexts[item.guild_id] = await self._stored_context(item.guild_id)
                claims.append(self._plan(item, contexts[item.guild_id], now))
            recorded += await self.repo.apply_claims(claims, now)
            if len(due) < SWEEP_BATCH:
                break
        return recorded

    def _plan(self, item: ScheduleInput, ctx: _GuildContext, now: datetime) -> Claim:
        """Decide what to do with one due counter (pure: no I/O)."""
        assert item.schedule is not None
        guild = ctx.view.guild
        basis = ClaimBasis(item.visibility, item.celebrate, guild.celebrations_channel_id, guild.left_at is not None)
        tz = zone(item.member_timezone or ctx.view.timezone)
        today = local_date(now, tz)
        # Only milestones from the scheduled one on: earlier ones were before the bot was
        # counting (a back-dated start) or already handled.
        floor = max(item.last_celebrated_days, item.schedule.milestone_days - 1)
        top = reached_milestone(item.start, ctx.ladder, after_days=floor, today=today)
        if top is None:
            # The member's zone, the hour or the ladder changed: the day has not come yet.
            schedule = schedule_for(item.start, ctx.ladder, after_days=floor, from_day=today, tz=tz,
                                    hour=ctx.hour)
            return Claim(item.counter_id, item.schedule.due_at, schedule, basis)
        hour_today = occurrence_on(today, ctx.hour, tz)
        if now < hour_today:
            # Late after downtime (or the zone moved): wait for today's celebration hour
            # rather than celebrating in the small hours.
            return Claim(item.counter_id, item.schedule.due_at, Schedule(top.days, hour_today), basis)
        upcoming = next_milestone(item.start, ctx.ladder, after_days=top.days)
        schedule = None if upcoming is None else Schedule(upcoming.days, occurrence_on(upcoming.on, ctx.hour, tz))
        delivery = celebration_delivery(item.visibility, item.celebrate, guild.celebrations_channel_id is not None)
        if guild.left_at is not None:
            delivery = Delivery.NONE  # the bot left this server; its data waits for the purge
        record = CelebrationRecord(item.period_id, item.member_id, top.days, top.on, delivery)
        message, not_before = self._message(item, ctx, top, today, delivery, tz, now)
        return Claim(item.counter_id, item.schedule.due_at, schedule, basis, record, message, not_before)

    def _message(self, item: ScheduleInput, ctx: _GuildContext, milestone: Milestone, today: date,
                 delivery: Delivery, tz: ZoneInfo, now: datetime) -> tuple[NewOutboxItem | None, datetime]:
        if delivery is Delivery.NONE:
            return None, now
        late = milestone.on < today
        description = f" {escape_markup(milestone.description)}" if milestone.description else ""
        fields = {"user_id": item.user_id, "label": milestone.label, "name": item.name,
                  "description": description, "day": _long_date(milestone.on)}
        key = milestone_key(item.period_ref, milestone.days)
        if delivery is Delivery.CHANNEL:
            channel_id = ctx.view.guild.celebrations_channel_id
            assert channel_id is not None
            text = (CELEBRATE_PUBLIC_LATE if late else CELEBRATE_PUBLIC).format(**fields)
            return NewOutboxItem(key, MILESTONE_KIND, "channel", channel_id, OutgoingMessage(text, react="🎉"),
                                 guild_id=item.guild_id, member_id=item.member_id), now
        text = (CELEBRATE_DM_LATE if late else CELEBRATE_DM).format(**fields)
        # No automatic DMs in quiet hours: the message waits in the outbox until they end.
        not_before = quiet_hours_end(now, tz, item.quiet_start, item.quiet_end)
        return NewOutboxItem(key, MILESTONE_KIND, "dm", item.user_id, OutgoingMessage(text),
                             guild_id=item.guild_id, member_id=item.member_id), not_before


def _choice(kind: type[_E], value: str | None) -> _E | None:
    if value is None:
        return None
    try:
        return kind(value)
    except ValueError:
        options = " or ".join(f"`{v.value}`" for v in kind)
        raise InvalidInputError(f"Please choose {options}.") from None


def _names(counters: Sequence[CounterRecord]) -> str:
    return ", ".join(f"“{c.name}”" for c in counters)


def _long_date(day: date) -> str:
    return f"{day.strftime('%A')} {day.day} {day.strftime('%B %Y')}"
