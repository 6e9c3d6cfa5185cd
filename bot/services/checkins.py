"""Daily check-ins, pledges, stats, the server's daily prompt and personal reminders.

Writes that a member is told about (a check-in, a pledge) commit in one transaction
together with the member's "last active" mark before the reply is built, so an
acknowledgement always means the row is on disk.

Scheduled work follows the sweep → outbox pattern (docs/ARCHITECTURE.md): a prompt or
reminder is claimed from an indexed `next_due_at`, recorded (prompt: a
`(guild_id, local_date)` row; reminder: `last_sent_date`), queued in the outbox and
moved to its next instant, all in one commit.

Reminders and quiet hours: a reminder whose time falls in the member's quiet hours is
sent when the quiet hours end, if that is still the same local day (reminder 06:00,
quiet 22:00–07:00 → sent at 07:00); otherwise that day's reminder is skipped (reminder
23:00 with the same quiet hours → none), because "you haven't checked in today" sent the
next morning would be about a day that is already over. A reminder made late by
downtime obeys the same rule.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path

from bot.config import SHIPPED_DATA, Config
from bot.db.checkins import CheckInRepository, DueReminder, Reminder
from bot.db.coping import CopingRepository
from bot.db.database import Connection, Database
from bot.db.guilds import GuildRepository
from bot.db.members import MemberRepository, touch_in, touch_plan
from bot.db.outbox import NewOutboxItem, OutboxItem, enqueue
from bot.db.plans import Plan
from bot.domain.checkins import (
    CRAVING_MAX,
    CRAVING_MIN,
    MOOD_MAX,
    MOOD_MIN,
    NOTE_MAX,
    STATS_DEFAULT_DAYS,
    STATS_MAX_DAYS,
    STATS_MIN_DAYS,
    DayRecord,
    ScoreError,
    Streaks,
    average,
    backfill_window,
    clean_note,
    daily_series,
    parse_score,
    prompt_index,
    streaks,
)
from bot.domain.clock import Clock
from bot.domain.coping import STRONG_URGE, UrgeSummary
from bot.domain.localtime import (
    InvalidDateError,
    in_quiet_hours,
    latest_due_date,
    local_date,
    local_now,
    next_occurrence,
    occurrence_on,
    parse_hhmm,
    parse_iso_date,
    quiet_hours_end,
    zone,
)
from bot.domain.messages import Button, ButtonStyle, OutgoingMessage, SendResult, SendStatus
from bot.domain.settings import GuildSettings, MemberSettings
from bot.errors import InvalidInputError
from bot.services.charts import ChartError, render_checkin_chart_async
from bot.services.guild_config import GuildConfigService
from bot.services.ports import Metrics, NullMetrics
from bot.services.settings import SettingsService, parse_time_option

log = logging.getLogger(__name__)

PROMPTS_FILE = SHIPPED_DATA / "prompts.toml"
UrgeSummarySource = Callable[[int, datetime, datetime], Awaitable[UrgeSummary]]
"""Summarise a member's urges begun in [start, end)."""
PROMPT_KIND = "checkin.prompt"
REMINDER_KIND = "checkin.reminder"
CHECKIN_BUTTON_ID = "kindred:checkin"
PLEDGE_BUTTON_ID = "kindred:pledge"
# Prompt records only need to outlive their own local day; a week is plenty of margin.
PROMPT_RECORD_DAYS = 7
# Reminders moved per transaction when a server changes zone: short enough for commands
# waiting on the writer, few enough commits for a server of thousands.
RESCHEDULE_BATCH = 2000
PROMPT_MAX_CHARS = 1500

# -- member-facing wording decided here (errors and scheduled messages) -------------------

MOOD_INVALID = ("Mood is a whole number from 1 to 5 — 1 for a really hard day, 5 for a great one. "
                "“{value}” isn't one of those, so I haven't saved anything yet. Could you try again?")
CRAVING_INVALID = ("Craving is a whole number from 0 (none at all) to 10 (very strong). “{value}” isn't "
                   "one of those, so I haven't saved anything yet. You can also leave it empty.")
NOTE_TOO_LONG = ("Your note is {length} characters, and notes can hold up to 500. I haven't saved anything "
                 "yet — could you shorten it a little?")
DAY_INVALID = "“{value}” isn't a date I can read. Please write it as YYYY-MM-DD, like {example}."
DAY_FUTURE = ("{day} hasn't arrived yet where you are (today is {today}). You can check in for today "
              "or for any of the 7 days before it.")
DAY_TOO_OLD = ("I can record check-ins for up to 7 days back — the earliest is {earliest}. {day} is "
               "further back than that, so I haven't saved anything.")
STATS_DAYS_INVALID = "Choose a period from 7 to 365 days."
PROMPT_HEADER = "**Daily check-in** · {weekday} {day}"
PROMPT_FOOTER = ("-# Tap **Check in** to share how you are (only you see your answers), or **Today's "
                 "pledge** to commit to today. `/checkin` works too.")
REMINDER_TEXT = ("Hi — this is the gentle check-in reminder you asked for. If you'd like to, there's still "
                 "time to check in today{where}. However today has gone, it counts to show up.")
REMINDER_FOOTER = "-# `/reminder off` stops these, and `/reminder set` changes the time."
CHART_TITLE = "Your mood and craving, last {days} days"


# -- results --------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class CheckInSummary:
    """What other features may show about a member's check-ins (buddies, nudges)."""

    last_local_date: date | None
    current_streak: int
    longest_streak: int


@dataclass(frozen=True, slots=True)
class CheckInResult:
    """A committed check-in."""

    local_date: date
    today: date
    updated: bool
    mood: int
    craving: int | None
    streak: Streaks
    # On a hard day (mood 1 or craving 8+): whether the member has a plan to offer. None otherwise.
    has_plan: bool | None = None

    @property
    def hard(self) -> bool:
        """Whether this check-in is a hard moment that offers the member's plan."""
        return hard_moment(self.mood, self.craving)


def hard_moment(mood: int, craving: int | None) -> bool:
    """Mood 1 or craving 8 and up: the member's plan is offered (SPEC: coping tools)."""
    return mood == MOOD_MIN or (craving is not None and craving >= STRONG_URGE)


@dataclass(frozen=True, slots=True)
class PledgeResult:
    """Today's pledge: made now, or already made earlier today."""

    local_date: date
    already: bool
    streak: Streaks


@dataclass(frozen=True, slots=True)
class MyStats:
    """A member's check-in and pledge statistics over a period of local days."""

    days: int
    start: date
    end: date
    timezone: str
    checkins: Streaks
    pledges: Streaks
    checked_in_days: int
    total_checkins: int
    mood_average: float | None
    craving_average: float | None
    chart_png: bytes | None
    urges: UrgeSummary | None = None  # urges surfed in the period (None where coping is not wired)


@dataclass(frozen=True, slots=True)
class ReminderStatus:
    """A member's reminder as they would want it explained."""

    remind_time: time
    timezone: str
    sends_at: time | None        # after quiet hours; None when quiet hours skip it every day
    quiet_start: time | None
    quiet_end: time | None
    dm_closed_date: date | None  # the local day Discord last refused the reminder DM


def reminder_wall_time(at: time, quiet_start: time | None, quiet_end: time | None) -> time | None:
    """Return when a reminder set for `at` goes out: `at`, the end of quiet hours that day, or None."""
    if not in_quiet_hours(at, quiet_start, quiet_end):
        return at
    assert quiet_end is not None
    # Quiet hours that run past midnight end on the next local day: that day's reminder is skipped.
    return quiet_end if quiet_end > at else None


@lru_cache(maxsize=4)
def load_prompts(path: Path | str = PROMPTS_FILE) -> tuple[str, ...]:
    """Load the daily prompts (a TOML `prompts` array of non-empty strings)."""
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    prompts = data.get("prompts")
    if not isinstance(prompts, list) or not prompts:
        raise ValueError(f"{path}: needs a non-empty `prompts` array")
    cleaned = []
    for index, text in enumerate(prompts):
        if not isinstance(text, str) or not text.strip() or len(text.strip()) > PROMPT_MAX_CHARS:
            raise ValueError(f"{path}: prompt {index} must be text of 1–{PROMPT_MAX_CHARS} characters")
        cleaned.append(text.strip())
    return tuple(cleaned)


def _shown(value: object, limit: int = 40) -> str:
    text = "".join(ch for ch in str(value) if ch.isprintable()).replace("`", "'")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _mood(value: int | str) -> int:
    try:
        return parse_score(value, MOOD_MIN, MOOD_MAX)
    except ScoreError:
        raise InvalidInputError(MOOD_INVALID.format(value=_shown(value))) from None


def _craving(value: int | str | None) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return parse_score(value, CRAVING_MIN, CRAVING_MAX)
    except ScoreError:
        raise InvalidInputError(CRAVING_INVALID.format(value=_shown(value))) from None


def _note(value: str | None) -> str | None:
    note = clean_note(value)
    if note is not None and len(note) > NOTE_MAX:
        raise InvalidInputError(NOTE_TOO_LONG.format(length=len(note)))
    return note


def _day(value: str | None, today: date) -> date:
    if value is None or not value.strip():
        return today
    try:
        day = parse_iso_date(value)
    except InvalidDateError:
        raise InvalidInputError(DAY_INVALID.format(value=_shown(value), example=today.isoformat())) from None
    earliest, latest = backfill_window(today)
    if day > latest:
        raise InvalidInputError(DAY_FUTURE.format(day=day.isoformat(), today=today.isoformat()))
    if day < earliest:
        raise InvalidInputError(DAY_TOO_OLD.format(day=day.isoformat(), earliest=earliest.isoformat()))
    return day


class CheckInService:
    """Check-ins, pledges, statistics, the daily prompt and reminders."""

    def __init__(self, db: Database, repo: CheckInRepository, members: MemberRepository,
                 guilds: GuildRepository, settings: SettingsService, guild_config: GuildConfigService,
                 clock: Clock, config: Config, prompts: Sequence[str], *, batch: int = 500,
                 metrics: Metrics | None = None) -> None:
        if not prompts:
            raise ValueError("at least one daily prompt is needed")
        self.db = db
        self.repo = repo
        self.members = members
        self.guilds = guilds
        self.settings = settings
        self.guild_config = guild_config
        self.clock = clock
        self.config = config
        self.prompts = tuple(prompts)
        self.batch = batch
        self.metrics = metrics or NullMetrics()
        self._schedules_repaired = False
        # Urges surfed in a period, for /mystats (set by the container: coping tools).
        self.urge_summary: UrgeSummarySource | None = None

    # -- zones --------------------------------------------------------------------------

    def _zone_name(self, member: MemberSettings | None, guild_timezone: str | None) -> str:
        """Member's zone, else the server's, else the config default (as SettingsService.effective)."""
        if member is not None and member.timezone:
            return member.timezone
        return guild_timezone or self.config.defaults.timezone

    async def _peek_zone(self, guild_id: int, user_id: int) -> tuple[MemberSettings | None, str]:
        # Reads only: `effective()` would commit a "last active" write of its own, and
        # the check-in path folds that write into its single transaction instead.
        member = await self.members.get(guild_id, user_id)
        guild = None if member is not None and member.timezone else await self.guilds.get(guild_id)
        return member, self._zone_name(member, guild.timezone if guild else None)

    # -- check-ins and pledges ----------------------------------------------------------

    async def check_in(self, guild_id: int, user_id: int, *, mood: int | str, craving: int | str | None = None,
                       note: str | None = None, day: str | None = None) -> CheckInResult:
        """Record (or update) a check-in for today or a day up to a week back; return the streak."""
        mood_value = _mood(mood)
        craving_value = _craving(craving)
        note_value = _note(note)
        now = self.clock.now()

        def record() -> Plan[tuple[MemberSettings, str, date, date, list[DayRecord], bool, bool | None]]:
            # The member's zone, the days so far and the check-in itself, in one transaction
            # and one trip to the database thread (bot.db.plans): committed, with its fsync,
            # before the member is answered. A `day` out of range raises here: nothing is kept.
            member = yield from touch_plan(guild_id, user_id, now)
            tz_name = member.timezone or (yield from GuildRepository.timezone_plan(guild_id)) \
                or self.config.defaults.timezone
            today = local_date(now, zone(tz_name))
            target = _day(day, today)
            days = yield from self.repo.checkin_days_plan(member.member_id)
            updated = any(d.local_date == target for d in days)
            yield from self.repo.upsert_checkin_plan(
                member_id=member.member_id, local_date=target, timezone=tz_name, mood=mood_value,
                craving=craving_value, note=note_value, now=now)
            # On a hard day the reply offers the member's plan; in the same trip to the database.
            has_plan = ((yield from CopingRepository.plan_exists_plan(member.member_id))
                        if hard_moment(mood_value, craving_value) else None)
            return member, tz_name, today, target, days, updated, has_plan

        member, tz_name, today, target, days, updated, has_plan = await self.db.run_plan(record())
        self.metrics.checkin_recorded()
        if not updated:
            days.append(DayRecord(target, tz_name))
        log.debug("check-in %s (guild=%s member=%s)", "updated" if updated else "recorded", guild_id, member.member_id)
        return CheckInResult(local_date=target, today=today, updated=updated, mood=mood_value,
                             craving=craving_value, streak=streaks(days, today, tz_name), has_plan=has_plan)

    async def pledge(self, guild_id: int, user_id: int) -> PledgeResult:
        """Record today's pledge (once per local day); return the pledge streak."""
        now = self.clock.now()
        _, tz_name = await self._peek_zone(guild_id, user_id)
        today = local_date(now, zone(tz_name))
        async with self.db.transaction() as conn:
            member = await touch_in(conn, guild_id, user_id, now)
            made = await self.repo.insert_pledge(conn, member_id=member.member_id, local_date=today,
                                                 timezone=tz_name, now=now)
            days = await self.repo.pledge_days_in(conn, member.member_id)
        if made:
            log.debug("pledge recorded (guild=%s member=%s)", guild_id, member.member_id)
        return PledgeResult(local_date=today, already=not made, streak=streaks(days, today, tz_name))

    async def my_stats(self, guild_id: int, user_id: int, days: int = STATS_DEFAULT_DAYS) -> MyStats:
        """Return streaks, averages and a chart over the last `days` local days (today included)."""
        if isinstance(days, bool) or not STATS_MIN_DAYS <= days <= STATS_MAX_DAYS:
            raise InvalidInputError(STATS_DAYS_INVALID)
        eff = await self.settings.effective(guild_id, user_id)
        member_id = eff.member.member_id
        today = local_date(self.clock.now(), eff.tz)
        start = today - timedelta(days=days - 1)
        checkin_days = await self.repo.checkin_days(member_id)
        pledge_days = await self.repo.pledge_days(member_id)
        period = await self.repo.checkins_between(member_id, start, today)
        series = daily_series({c.local_date: (c.mood, c.craving) for c in period}, start, today)
        chart = None
        if period:
            try:
                chart = await render_checkin_chart_async(series, title=CHART_TITLE.format(days=days))
            except ChartError as exc:  # the numbers still answer the member
                log.warning("a /mystats chart was not drawn: %s", exc)
        urges = None
        if self.urge_summary is not None:
            urges = await self.urge_summary(member_id, occurrence_on(start, time(0, 0), eff.tz),
                                            occurrence_on(today + timedelta(days=1), time(0, 0), eff.tz))
        return MyStats(
            urges=urges,
            days=days, start=start, end=today, timezone=eff.timezone,
            checkins=streaks(checkin_days, today, eff.timezone),
            pledges=streaks(pledge_days, today, eff.timezone),
            checked_in_days=len(period), total_checkins=len(checkin_days),
            mood_average=average([c.mood for c in period]),
            craving_average=average([c.craving for c in period]),
            chart_png=chart,
        )

    async def summary(self, guild_id: int, user_id: int) -> CheckInSummary:
        """Return a member's last check-in day and streaks without marking them active."""
        member, tz_name = await self._peek_zone(guild_id, user_id)
        if member is None:
            return CheckInSummary(None, 0, 0)
        days = await self.repo.checkin_days(member.member_id)
        result = streaks(days, local_date(self.clock.now(), zone(tz_name)), tz_name)
        return CheckInSummary(
            last_local_date=max((d.local_date for d in days), default=None),
            current_streak=result.current, longest_streak=result.longest,
        )

    # -- reminders ----------------------------------------------------------------------

    async def set_reminder(self, guild_id: int, user_id: int, at: str) -> ReminderStatus:
        """Turn on (or move) the member's daily reminder DM at a local HH:MM."""
        remind_time = parse_hhmm(parse_time_option(at, "reminder time"))
        eff = await self.settings.effective(guild_id, user_id)
        now = self.clock.now()
        reminder = await self.repo.put_reminder(
            eff.member.member_id, remind_time=remind_time, timezone=eff.timezone,
            next_due_at=next_occurrence(now, remind_time, eff.tz), now=now)
        log.debug("reminder set (guild=%s member=%s)", guild_id, eff.member.member_id)
        return self._status(reminder, eff.member)

    async def reminder_off(self, guild_id: int, user_id: int) -> bool:
        """Turn the member's reminder off; False if there was none."""
        member = await self.settings.touch(guild_id, user_id)
        removed = await self.repo.delete_reminder(member.member_id)
        if removed:
            log.debug("reminder off (guild=%s member=%s)", guild_id, member.member_id)
        return removed

    async def reminder_status(self, guild_id: int, user_id: int) -> ReminderStatus | None:
        """Return the member's reminder, or None if they have none."""
        member = await self.members.get(guild_id, user_id)
        if member is None:
            return None
        reminder = await self.repo.get_reminder(member.member_id)
        return None if reminder is None else self._status(reminder, member)

    @staticmethod
    def _status(reminder: Reminder, member: MemberSettings) -> ReminderStatus:
        return ReminderStatus(
            remind_time=reminder.remind_time, timezone=reminder.timezone,
            sends_at=reminder_wall_time(reminder.remind_time, member.quiet_start, member.quiet_end),
            quiet_start=member.quiet_start, quiet_end=member.quiet_end,
            dm_closed_date=reminder.dm_closed_date,
        )

    async def on_reminder_result(self, item: OutboxItem, result: SendResult) -> None:
        """Remember a reminder DM that Discord refused, so `/settings show` can say why."""
        if item.member_id is None:
            return
        if result.status is SendStatus.DM_CLOSED:
            day = date.fromisoformat(item.dedupe_key.rsplit(":", 1)[1])
            await self.repo.note_reminder_dm_closed(item.member_id, day)
            log.debug("reminder DM refused, not retried today (member=%s)", item.member_id)
        elif result.ok:
            await self.repo.note_reminder_dm_closed(item.member_id, None)

    # -- reacting to settings changes ---------------------------------------------------

    async def on_guild_changed(self, guild: GuildSettings) -> None:
        """Reschedule a server's prompt, and reminders that follow its zone, after `/config`.

        Both are worked out from the server's settings as stored when each write is made,
        not from the change that called: when two changes overlap, the later one wins
        whichever listener runs last.
        """
        now = self.clock.now()
        async with self.db.transaction() as conn:
            stored = await self.guilds.get(guild.guild_id)  # read through this transaction
            next_due = None if stored is None else self._next_prompt_at(stored, now)
            current = await self.repo.prompt_due_at(guild.guild_id)
            if next_due is not None and current is not None and current <= now:
                # Due but not claimed yet (the sweep runs every few seconds): leave it due so
                # an unrelated `/config` change cannot skip today's prompt; the sweep decides
                # with the new settings.
                next_due = current
            await self.repo.put_prompt(conn, guild.guild_id, next_due)
        await self._follow_guild_zone(guild.guild_id, now)

    async def _follow_guild_zone(self, guild_id: int, now: datetime) -> int:
        """Move reminders that follow the server's zone into it; return how many moved.

        A few thousand members must not mean a few thousand commits (each one a disk sync)
        inside a moderator's command: moves go in bounded batches, one transaction each.
        Each batch moves to the zone stored when it runs: two zone changes in flight then
        both move reminders to the later zone, instead of each undoing the other's batches.
        """
        moved = 0
        while True:
            async with self.db.transaction() as conn:
                guild = await self.guilds.get(guild_id)  # read through this transaction
                tz_name = self._zone_name(None, guild.timezone if guild else None)
                tz = zone(tz_name)
                batch = await self.repo.reminders_to_follow_zone(conn, guild_id, tz_name, RESCHEDULE_BATCH)
                # Members share a handful of reminder times; each time's next instant is worked out once.
                due = {t: next_occurrence(now, t, tz) for t in {r.remind_time for r in batch}}
                await self.repo.move_reminders(conn, tz_name, [(r.member_id, due[r.remind_time]) for r in batch])
            moved += len(batch)
            if len(batch) < RESCHEDULE_BATCH:
                return moved

    async def on_member_changed(self, member: MemberSettings) -> None:
        """Move a member's reminder to their new zone after `/settings timezone`."""
        reminder = await self.repo.get_reminder(member.member_id)
        if reminder is None:
            return
        guild = await self.guilds.get(member.guild_id)
        tz_name = self._zone_name(member, guild.timezone if guild else None)
        if tz_name != reminder.timezone:
            await self.repo.reschedule_reminder(
                member.member_id, timezone=tz_name,
                next_due_at=next_occurrence(self.clock.now(), reminder.remind_time, zone(tz_name)))

    def _next_prompt_at(self, guild: GuildSettings, now: datetime) -> datetime | None:
        if not guild.checkin_enabled or guild.checkin_channel_id is None or guild.left_at is not None:
            return None
        view = self.guild_config.resolve(guild)
        return next_occurrence(now, parse_hhmm(view.checkin_time), zone(view.timezone))

    # -- the daily prompt ---------------------------------------------------------------

    async def repair_prompt_schedules(self) -> int:
        """Schedule servers whose prompts are on but have no schedule row (e.g. a crash after `/config`)."""
        now = self.clock.now()
        missing = await self.repo.unscheduled_prompt_guilds()
        for guild in missing:
            await self.repo.schedule_prompt(guild.guild_id, self._next_prompt_at(guild, now))
        return len(missing)

    async def sweep_prompts(self, now: datetime) -> int:
        """Claim every server whose prompt is due: record it, queue it, move on; return how many queued."""
        if not self._schedules_repaired:
            await self.repair_prompt_schedules()
            self._schedules_repaired = True
        queued = 0
        while True:
            async with self.db.transaction() as conn:
                due = await self.repo.due_prompts(conn, now, self.batch)
                for guild in due:
                    queued += await self._claim_prompt(conn, guild, now)
            if len(due) < self.batch:
                return queued

    async def _claim_prompt(self, conn: Connection, guild: GuildSettings, now: datetime) -> int:
        next_due = self._next_prompt_at(guild, now)
        if next_due is None or guild.checkin_channel_id is None:
            await self.repo.advance_prompt(conn, guild.guild_id, None)
            return 0
        view = self.guild_config.resolve(guild)
        tz = zone(view.timezone)
        today = local_date(now, tz)
        queued = 0
        # Today's prompt is due once its time has passed: late after downtime, but never
        # for a day that is already over (that prompt is simply not posted).
        if latest_due_date(now, parse_hhmm(view.checkin_time), tz) == today:
            index = prompt_index(today, len(self.prompts))
            recorded = await self.repo.record_prompt(
                conn, guild_id=guild.guild_id, local_date=today, timezone=view.timezone,
                channel_id=guild.checkin_channel_id, prompt_index=index, now=now,
                keep_after=today - timedelta(days=PROMPT_RECORD_DAYS))
            if recorded:
                await enqueue(conn, NewOutboxItem(
                    dedupe_key=f"prompt:{guild.guild_id}:{today.isoformat()}", kind=PROMPT_KIND,
                    target="channel", target_id=guild.checkin_channel_id,
                    message=self.prompt_message(today), guild_id=guild.guild_id,
                ), not_before=now, now=now)
                queued = 1
        await self.repo.advance_prompt(conn, guild.guild_id, next_due)
        return queued

    def prompt_message(self, day: date) -> OutgoingMessage:
        """Return the daily prompt for a local date, with its two persistent buttons."""
        text = self.prompts[prompt_index(day, len(self.prompts))]
        header = PROMPT_HEADER.format(weekday=day.strftime("%A"), day=day.strftime("%d %B").lstrip("0"))
        return OutgoingMessage(
            content=f"{header}\n\n{text}\n\n{PROMPT_FOOTER}",
            buttons=(
                Button(CHECKIN_BUTTON_ID, "Check in", ButtonStyle.PRIMARY, "📝"),
                Button(PLEDGE_BUTTON_ID, "Today's pledge", ButtonStyle.SUCCESS, "🤝"),
            ),
        )

    # -- reminders sweep ----------------------------------------------------------------

    async def sweep_reminders(self, now: datetime) -> int:
        """Claim every due reminder: queue a DM where one is wanted, move each on; return how many queued."""
        queued = 0
        while True:
            async with self.db.transaction() as conn:
                due = await self.repo.due_reminders(conn, now, self.batch)
                for item in due:
                    queued += await self._claim_reminder(conn, item, now)
            if len(due) < self.batch:
                return queued

    async def _claim_reminder(self, conn: Connection, due: DueReminder, now: datetime) -> int:
        reminder, member = due.reminder, due.member
        # The zone is re-resolved here, not trusted from the row: a missed zone-change
        # notification can make a reminder late or skip a day, never arrive at a wrong local time.
        tz_name = self._zone_name(member, due.guild_timezone)
        tz = zone(tz_name)
        today = local_date(now, tz)
        todays = occurrence_on(today, reminder.remind_time, tz)
        tomorrow = next_occurrence(now, reminder.remind_time, tz)

        async def move_to(instant: datetime, sent: date | None = None) -> None:
            await self.repo.advance_reminder(conn, member.member_id, timezone=tz_name, next_due_at=instant,
                                             sent_date=sent)

        if todays > now:                      # today's time is still ahead (zone changed)
            await move_to(todays)
            return 0
        if (reminder.last_sent_date == today or due.guild_left or member.dms_closed(now)
                or await self.repo.has_checkin_in(conn, member.member_id, today)):
            await move_to(tomorrow)
            return 0
        if in_quiet_hours(local_now(now, tz).time(), member.quiet_start, member.quiet_end):
            quiet_over = quiet_hours_end(now, tz, member.quiet_start, member.quiet_end)
            await move_to(quiet_over if local_date(quiet_over, tz) == today else tomorrow)
            return 0
        # Keyed by Discord ids, never reused, rather than the member row's id, which SQLite hands
        # on after a deletion (Discord would answer a reused key's nonce with the earlier DM).
        await enqueue(conn, NewOutboxItem(
            dedupe_key=f"reminder:{member.guild_id}:{member.user_id}:{today.isoformat()}", kind=REMINDER_KIND,
            target="dm", target_id=member.user_id,
            message=self.reminder_message(member.guild_id, due.checkin_channel_id),
            guild_id=member.guild_id, member_id=member.member_id,
        ), not_before=now, now=now)
        await move_to(tomorrow, sent=today)
        return 1

    @staticmethod
    def reminder_message(guild_id: int, channel_id: int | None) -> OutgoingMessage:
        """Return the reminder DM (with a link to the check-in channel when there is one)."""
        where = (f" in https://discord.com/channels/{guild_id}/{channel_id} (or with `/checkin`)"
                 if channel_id else " with `/checkin` in the server")
        return OutgoingMessage(content=f"{REMINDER_TEXT.format(where=where)}\n{REMINDER_FOOTER}")
