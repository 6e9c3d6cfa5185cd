"""`/config pulse`: the community's weekly pulse, private to the moderator who asks."""

from __future__ import annotations

import io
from datetime import date, timedelta

import discord
from discord import app_commands

from bot.domain.pulse import (
    K_MIN,
    WEEKS_DEFAULT,
    WEEKS_MAX,
    WEEKS_MIN,
    FigureKind,
    Hidden,
    ShownGroup,
    ShownPulse,
)
from bot.services.container import Services
from bot.tree import send_ephemeral

PULSE_FILENAME = "kindred-pulse.png"
FEWER = f"fewer than {K_MIN}"
PULSE_HEADER = ("**Community pulse** — the last {weeks} whole weeks, {first} to {last} ({tz}). Counts only: "
                "no names, no one member's data.")
PULSE_RULES = (f"-# Any figure about fewer than {K_MIN} members shows as “{FEWER}”, and two weeks whose difference "
               f"would be about fewer than {K_MIN} members (say, the same people plus one) are both “not shown”. "
               "Small mood or craving bands are merged with a neighbour, a week is not split when that would tell "
               "someone's band, and a total is left out when a week is hidden. The week in progress is left out, "
               "and last week is “not final yet” (check-ins may still be added for 7 days): once a week has been "
               "shown it is shown the same ever after, whoever deletes their data later. “Not kept”: older than what a feature keeps (ended "
               "mentorships and sent reminders are deleted after 30 days), so not known whole.")
WEEKLY_TITLE = "Each week (Monday to Sunday)"
WEEKLY_LEGEND = ("-# Checked in: members. Urges surfed: times. Buddy pairs, mentorships: those in effect at some "
                 "time that week. Meeting reminders: members sent at least one that week.")
SPREAD_TITLE = "Moods and cravings of members who checked in"
SPREAD_LEGEND = ("-# Mood: each member's average that week — low 1–2, middle 3, good 4–5. Craving: their highest that "
                 "week — low 0–3, moderate 4–7, strong 8–10, or none given. “Not split”: too few in some bands, all "
                 "in one, or a band that differs from another week's by fewer than 5 members.")
HIDDEN_SPREAD = f"({FEWER} checked in)"
CHANGED = "not shown"
HIDDEN_SPREAD_CHANGED = f"({CHANGED})"
NOT_KEPT = "not kept"
NOT_FINAL = "not final yet"
HIDDEN_SPREAD_NOT_FINAL = f"({NOT_FINAL})"
NO_ONE = "—"
TOTAL = "Total"
NOT_SHOWN = "not shown"


def _day(day: date) -> str:
    return f"{day.day} {day.strftime('%b')}"


def _cell(value: int | None, hidden: Hidden | None) -> str:
    if value is not None:
        return str(value)
    return (CHANGED if hidden is Hidden.CHANGE else NOT_KEPT if hidden is Hidden.NOT_KEPT
            else NOT_FINAL if hidden is Hidden.NOT_FINAL else FEWER)


def _short(band: str) -> str:
    return band.split(" ", 1)[0]


def _groups(groups: tuple[ShownGroup, ...] | None, bands: tuple[str, ...], hidden: Hidden | None) -> str:
    if groups is None:
        return (HIDDEN_SPREAD_CHANGED if hidden is Hidden.CHANGE else HIDDEN_SPREAD_NOT_FINAL
                if hidden is Hidden.NOT_FINAL else HIDDEN_SPREAD)
    if sum(g.value for g in groups) == 0:
        return NO_ONE
    if len(groups) == 1:
        return f"{groups[0].value} (not split)"
    return " · ".join(f"{_short(bands[g.first])}{'' if g.first == g.last else '–' + _short(bands[g.last])} {g.value}"
                      for g in groups)


def weekly_table(pulse: ShownPulse) -> str:
    """The figures as a fixed-width table, one row a week, with totals where they add up."""
    labels = [f.label for f in pulse.figures]
    widths = [max(len(label), len(FEWER)) for label in labels]
    first = max(len("Week of"), len(TOTAL), 6)
    rows = ["Week of".ljust(first) + "".join("  " + label.rjust(w) for label, w in zip(labels, widths, strict=True))]
    for i, week in enumerate(pulse.weeks.weeks):
        rows.append(_day(week.start).ljust(first) + "".join(
            "  " + _cell(f.cells[i], f.hidden[i]).rjust(w) for f, w in zip(pulse.figures, widths, strict=True)))
    if any(f.kind is FigureKind.EVENTS for f in pulse.figures):
        rows.append(TOTAL.ljust(first) + "".join(
            "  " + ("" if f.kind is not FigureKind.EVENTS else NOT_SHOWN if f.total is None else str(f.total)).rjust(w)
            for f, w in zip(pulse.figures, widths, strict=True)))
    return "```\n" + "\n".join(rows) + "\n```"


def _why(pulse: ShownPulse, key: str, week: int) -> Hidden | None:
    figure = pulse.figure(key)
    return figure.hidden[week] if figure is not None else None


def spread_table(pulse: ShownPulse) -> str | None:
    """The spreads, one row a week (None if there are none)."""
    if not pulse.spreads:
        return None
    rows = []
    for i, week in enumerate(pulse.weeks.weeks):
        parts = [_groups(s.weeks[i], s.bands, _why(pulse, s.of, i)) for s in pulse.spreads]
        rows.append(_day(week.start).ljust(8) + " | ".join(f"{s.label.split(' ', 1)[0]}: {p}"
                                                           for s, p in zip(pulse.spreads, parts, strict=True)))
    return "```\n" + "\n".join(rows) + "\n```"


def pulse_text(pulse: ShownPulse) -> str:
    """The reply's text above the tables."""
    weeks = pulse.weeks
    return "\n".join([
        PULSE_HEADER.format(weeks=len(weeks), first=_day(weeks.first_day),
                            last=_day(weeks.end_day - timedelta(days=1)), tz=weeks.timezone),
        PULSE_RULES,
    ])


class PulseConfigMixin:
    """`/config pulse`."""

    services: Services

    @app_commands.command(name="pulse", description="How the community is doing, week by week (counts only, private)")
    @app_commands.describe(weeks=f"How many whole weeks to show ({WEEKS_MIN}–{WEEKS_MAX}, default {WEEKS_DEFAULT})")
    async def pulse(self, interaction: discord.Interaction,
                    weeks: app_commands.Range[int, WEEKS_MIN, WEEKS_MAX] = WEEKS_DEFAULT) -> None:
        """Show the pulse privately: text tables and a chart."""
        assert interaction.guild_id is not None
        # Reading a season of check-ins and drawing the chart can take more than Discord's 3 seconds.
        await interaction.response.defer(ephemeral=True, thinking=True)
        report = await self.services.pulse.pulse(interaction.guild_id, weeks)
        colour = discord.Colour.from_rgb(88, 166, 140)
        embeds = [discord.Embed(title=WEEKLY_TITLE, description=weekly_table(report.pulse) + "\n" + WEEKLY_LEGEND,
                                colour=colour)]
        spreads = spread_table(report.pulse)
        if spreads is not None:
            embeds.append(discord.Embed(title=SPREAD_TITLE, description=spreads + "\n" + SPREAD_LEGEND,
                                        colour=colour))
        if report.chart_png is None:
            await send_ephemeral(interaction, pulse_text(report.pulse), embeds=embeds)
            return
        chart = discord.File(io.BytesIO(report.chart_png), filename=PULSE_FILENAME,
                             description="Weekly counts: members checking in, moods, cravings, urges, pairs, "
                                         "mentorships, meeting reminders")
        await send_ephemeral(interaction, pulse_text(report.pulse), embeds=embeds, file=chart)
