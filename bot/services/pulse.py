"""`/config pulse`: the community's weekly pulse for moderators, from figures features provide.

A feature adds figures by registering a `PulseProvider` (`services.pulse.register(provider)`):
one async method that, given a server and its weeks, returns `PulseFigure`s (a count per week
and the members each count is about) and optionally `PulseSpread`s (how a MEMBERS figure's
members split into ordered bands). The service gathers every provider's figures, lets
`bot.domain.pulse.protect` decide what may be shown (k-anonymity, K = 5; member ids never
leave it), and draws the chart in a child process. Figures appear in registration order.

The built-in providers here count check-ins (members per week, with mood and craving spreads),
urges surfed, active buddy pairs and mentorships, and members sent a meeting reminder.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from bot.db.buddies import BuddyRepository
from bot.db.checkins import CheckInRepository
from bot.db.coping import CopingRepository
from bot.db.mentors import MentorRepository
from bot.db.outbox import FINISHED_KEPT, OutboxRepository
from bot.db.pulse import PulseRepository
from bot.domain.clock import Clock
from bot.domain.pulse import (
    COMPARED_WEEKS,
    WEEKS_MAX,
    WEEKS_MIN,
    PulseFigure,
    PulseSpread,
    PulseWeeks,
    ShownPulse,
    complete_weeks,
    count_active,
    count_events,
    count_members,
    final_weeks,
    protect,
    to_freeze,
)
from bot.errors import InvalidInputError
from bot.services.charts import ChartError, render_pulse_chart_async
from bot.services.guild_config import GuildConfigService
from bot.services.meetings import REMINDER_KIND as MEETING_REMINDER_KIND
from bot.services.mentors import KEEP_CLOSED as MENTORSHIPS_KEPT

log = logging.getLogger(__name__)

WEEKS_INVALID = f"Choose from {WEEKS_MIN} to {WEEKS_MAX} weeks."
CHECKINS = "checkins"
MOOD_BANDS = ("low 1–2", "middle 3", "good 4–5")
CRAVING_BANDS = ("none given", "low 0–3", "moderate 4–7", "strong 8–10")


class PulseProvider(Protocol):
    """Something that adds figures to `/config pulse`."""

    async def pulse_figures(self, guild_id: int, weeks: PulseWeeks) -> Sequence[PulseFigure | PulseSpread]:
        """Return this feature's figures for a server's weeks (one cell per week, oldest first).

        The weeks start before the period the moderator asked for (see `protect`): count them all.
        """
        ...


@dataclass(frozen=True, slots=True)
class PulseReport:
    """What `/config pulse` shows: protected counts, and a chart of them (None if it could not be drawn)."""

    pulse: ShownPulse
    chart_png: bytes | None


def mood_band(average: float) -> int:
    """Band of a member's average mood for a week: 0 low (under 2.5), 1 middle, 2 good (3.5 and up)."""
    return 0 if average < 2.5 else 1 if average < 3.5 else 2


def craving_band(peak: int | None) -> int:
    """Band of a member's highest craving in a week: 0 none given, 1 low 0-3, 2 moderate 4-7, 3 strong 8-10."""
    if peak is None:
        return 0
    return 1 if peak <= 3 else 2 if peak <= 7 else 3


class CheckInPulse:
    """Members checking in per week, and the spread of their moods and cravings."""

    def __init__(self, repo: CheckInRepository) -> None:
        self.repo = repo

    async def pulse_figures(self, guild_id: int, weeks: PulseWeeks) -> Sequence[PulseFigure | PulseSpread]:
        """Count members per week; band each by average mood and highest craving that week."""
        rows = await self.repo.weekly_checkins(guild_id, [w.start for w in weeks.weeks], weeks.end_day)
        mood: list[list[set[int]]] = [[set() for _ in MOOD_BANDS] for _ in weeks.weeks]
        craving: list[list[set[int]]] = [[set() for _ in CRAVING_BANDS] for _ in weeks.weeks]
        for member, week, average, peak in rows:
            mood[week][mood_band(average)].add(member)
            craving[week][craving_band(peak)].add(member)
        return (
            count_members(CHECKINS, "Checked in", weeks, ((week, member) for member, week, _, _ in rows)),
            PulseSpread("mood", "Mood (week's average)", CHECKINS, MOOD_BANDS,
                        tuple(tuple(frozenset(b) for b in w) for w in mood)),
            PulseSpread("craving", "Craving (week's highest)", CHECKINS, CRAVING_BANDS,
                        tuple(tuple(frozenset(b) for b in w) for w in craving)),
        )


class UrgePulse:
    """Urges surfed per week (`/urge`)."""

    def __init__(self, repo: CopingRepository) -> None:
        self.repo = repo

    async def pulse_figures(self, guild_id: int, weeks: PulseWeeks) -> Sequence[PulseFigure | PulseSpread]:
        """Count urges begun in each week."""
        urges = await self.repo.urges_in_guild(guild_id, weeks.start_at, weeks.end_at)
        rows = [(week, member) for member, at in urges if (week := weeks.index_of_instant(at)) is not None]
        return (count_events("urges", "Urges surfed", weeks, rows),)


class BuddyPulse:
    """Buddy pairs active during each week."""

    def __init__(self, repo: BuddyRepository) -> None:
        self.repo = repo

    async def pulse_figures(self, guild_id: int, weeks: PulseWeeks) -> Sequence[PulseFigure | PulseSpread]:
        """Count pairs that were active at some time in each week."""
        pairs = await self.repo.pairs_between(guild_id, weeks.start_at, weeks.end_at)
        return (count_active("buddy_pairs", "Buddy pairs", weeks,
                             ((began, ended, (a, b)) for a, b, began, ended in pairs)),)


class MentorshipPulse:
    """Mentorships active during each week (`/mentor`)."""

    def __init__(self, repo: MentorRepository, clock: Clock) -> None:
        self.repo = repo
        self.clock = clock

    async def pulse_figures(self, guild_id: int, weeks: PulseWeeks) -> Sequence[PulseFigure | PulseSpread]:
        """Count mentorships that were active at some time in each week (mentor and mentee are its members)."""
        mentorships = await self.repo.mentorships_between(guild_id, weeks.start_at, weeks.end_at)
        figure = count_active("mentorships", "Mentorships", weeks,
                              ((began, ended, (mentor, mentee)) for mentor, mentee, began, ended in mentorships))
        # Ended mentorships are deleted after a while: older weeks would count too few.
        return (replace(figure, kept_from=self.clock.now() - MENTORSHIPS_KEPT),)


class MeetingReminderPulse:
    """Members sent at least one meeting reminder in each week (`/meeting remind`)."""

    def __init__(self, outbox: OutboxRepository, clock: Clock) -> None:
        self.outbox = outbox
        self.clock = clock

    async def pulse_figures(self, guild_id: int, weeks: PulseWeeks) -> Sequence[PulseFigure | PulseSpread]:
        """Count members with a meeting reminder sent, by the week it was due (queued), from the outbox.

        Members, not reminders: one member with three meetings is one person using reminders,
        and a count of messages would mostly measure how many meetings the server holds. The
        outbox is the only record of who was sent one, and it keeps sent rows 30 days: older
        weeks are "not kept".
        """
        sent = await self.outbox.sent_between(guild_id, MEETING_REMINDER_KIND, weeks.start_at, weeks.end_at)
        rows = [(week, member) for member, at in sent if (week := weeks.index_of_instant(at)) is not None]
        figure = count_members("meeting_reminders", "Meeting reminders", weeks, rows)
        return (replace(figure, kept_from=self.clock.now() - FINISHED_KEPT),)


class PulseService:
    """Gathers figures from the registered providers and protects them for moderators."""

    def __init__(self, guild_config: GuildConfigService, repo: PulseRepository, clock: Clock) -> None:
        self.guild_config = guild_config
        self.repo = repo
        self.clock = clock
        self._providers: list[PulseProvider] = []
        # One pulse at a time: what one pulse freezes is what the next one reads.
        self._lock = asyncio.Lock()

    def register(self, provider: PulseProvider) -> None:
        """Add a feature's figures to the pulse (shown in registration order)."""
        self._providers.append(provider)

    async def pulse(self, guild_id: int, weeks: int, *, chart: bool = True) -> PulseReport:
        """Return the last `weeks` whole weeks of a server's pulse, protected, with a chart."""
        if isinstance(weeks, bool) or not WEEKS_MIN <= weeks <= WEEKS_MAX:
            raise InvalidInputError(WEEKS_INVALID)
        view = await self.guild_config.view(guild_id)
        async with self._lock:
            now = self.clock.now()
            # Each week is compared with the weeks before it that any pulse could show beside it, so
            # every pulse shows a week the same way, whatever period is asked for.
            span = complete_weeks(now, view.timezone, weeks + COMPARED_WEEKS - 1)
            figures: list[PulseFigure] = []
            spreads: list[PulseSpread] = []
            for provider in self._providers:
                for item in await provider.pulse_figures(guild_id, span):
                    if isinstance(item, PulseSpread):
                        spreads.append(item)
                    else:
                        figures.append(item)
            # A final week, once shown, is shown the same ever after (see `bot.domain.pulse`).
            frozen = await self.repo.shown(guild_id, span.first_day)
            final = final_weeks(span, now)
            # Comparing every pair of weeks takes a large server's pulse most of a second: off the event loop.
            shown = await asyncio.to_thread(protect, span, figures, spreads, show=weeks, frozen=frozen, final=final)
            cells = to_freeze(shown, frozen, max(0, final - (len(span) - weeks)))
            if cells:
                # Older weeks than the longest pulse compares are never read again.
                oldest = complete_weeks(now, view.timezone, WEEKS_MAX + COMPARED_WEEKS - 1).first_day
                await self.repo.freeze(guild_id, cells, oldest)
        png = None
        if chart:
            try:
                png = await render_pulse_chart_async(shown)
            except ChartError as exc:  # the text still answers the moderator
                log.warning("pulse chart for guild %s not drawn: %s", guild_id, exc)
        log.info("pulse shown (guild=%s weeks=%d)", guild_id, weeks)
        return PulseReport(shown, png)
