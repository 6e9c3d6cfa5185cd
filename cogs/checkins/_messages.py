"""Member-facing wording for check-ins, pledges, stats and reminders, reviewed in one place.

Warm and plain; a streak that ended is never mentioned as something taken away — the
longest run and the total are what survive, and they are said out loud.
"""

from __future__ import annotations

from datetime import date

from bot.domain.checkins import Streaks
from bot.domain.coping import UrgeSummary
from bot.domain.localtime import format_hhmm
from bot.services.checkins import CheckInResult, MyStats, PledgeResult, ReminderStatus
from cogs.coping._messages import CHECKIN_PLAN_INVITE, CHECKIN_PLAN_OFFER

NEED_GUILD = "Check-ins belong to a server — please use this inside the server, not in DMs."
CHART_FILENAME = "kindred-checkins.png"

CHECKIN_SAVED = "✅ Checked in for {when}: mood **{mood}/5**{craving}."
CHECKIN_UPDATED = "✏️ Updated your check-in for {when}: mood **{mood}/5**{craving}."
CHECKIN_PRIVATE = "-# Only you can see this. Your note and numbers stay private."
HARD_DAY = ("Thank you for being honest about a hard day — that takes courage. If you'd like support "
            "right now, `/crisis` lists people you can talk to, any time.")

PLEDGE_MADE = "🤝 Today's pledge is made — just for today. {streak}"
PLEDGE_ALREADY = "🤝 You've already made today's pledge, and it still stands. {streak}"

STATS_HEADER = "**Your last {days} days** ({start} – {end}, {tz})"
STATS_URGES = "• Urges surfed: **{surfed}**"
STATS_URGES_DROP = " · when you rated them before and after ({rated}), they eased by **{drop:.1f}** points on average"
STATS_URGES_SAME = " · when you rated them before and after ({rated}), they held steady on average — riding them out still counts"
STATS_NO_CHECKINS = ("No check-ins in these {days} days yet. Whenever you check in — with `/checkin` or the "
                     "button on the daily prompt — your chart will show up here.")

REMINDER_SET = "⏰ I'll DM you at **{time}** ({tz}) on days you haven't checked in yet."
REMINDER_DEFERRED = "That's inside your quiet hours ({quiet}), so it will come at **{sends}**, when they end."
REMINDER_SKIPPED = ("That's inside your quiet hours ({quiet}), which run past midnight, so I'd stay quiet "
                    "and not send it. Pick a time outside them, or change them with `/settings quiet-hours`.")
REMINDER_DMS = "-# To receive it, allow direct messages from this server's members in your privacy settings."
REMINDER_OFF = "Reminders are off. You can turn them back on any time with `/reminder set`."
REMINDER_WAS_OFF = "You don't have a reminder set, so there's nothing to turn off. `/reminder set` starts one."

SETTINGS_REMINDER = "• Check-in reminder: **{time}** ({tz})"
SETTINGS_REMINDER_OFF = "• Check-in reminder: off (`/reminder set`)"
SETTINGS_DEFERRED = "  ↳ inside your quiet hours, so it comes at **{sends}**"
SETTINGS_SKIPPED = "  ↳ inside your quiet hours until after midnight, so it isn't sent"
SETTINGS_DM_CLOSED = ("  ↳ Paused on {day}: Discord told me your DMs are closed to me, so I didn't try again "
                      "that day. I'll try with your next reminder — to receive it, allow direct messages "
                      "from this server's members in your privacy settings.")


def day_words(day: date, today: date) -> str:
    """Name a local date the way a person would."""
    label = f"{day.strftime('%A')} {day.day} {day.strftime('%B')}"
    if day == today:
        return f"**today** ({label})"
    return f"**{label}**"


def days(n: int) -> str:
    """Count days in words."""
    return f"{n} day" if n == 1 else f"{n} days"


def checkin_streak(streak: Streaks) -> str:
    """Describe a check-in streak kindly."""
    if streak.current >= 2:
        text = f"🌱 You've checked in **{days(streak.current)} in a row**."
    elif streak.current == 1:
        text = "🌱 That's **day 1** of a new run — every run starts with one."
    else:
        text = "Your check-in is saved."
    if streak.longest > max(streak.current, 1):
        text += f" Your longest run so far is **{days(streak.longest)}**."
    return text


def pledge_streak(streak: Streaks) -> str:
    """Describe a pledge streak kindly."""
    text = f"Pledge streak: **{days(streak.current)}**."
    if streak.longest > streak.current:
        text += f" Your longest is **{days(streak.longest)}**."
    return text


def checkin_reply(result: CheckInResult) -> str:
    """Reply to a committed check-in."""
    craving = "" if result.craving is None else f", craving **{result.craving}/10**"
    template = CHECKIN_UPDATED if result.updated else CHECKIN_SAVED
    lines = [template.format(when=day_words(result.local_date, result.today), mood=result.mood, craving=craving),
             checkin_streak(result.streak)]
    if result.mood <= 2 or (result.craving is not None and result.craving >= 8):
        lines.append(HARD_DAY)
    if result.has_plan is True:
        lines.append(CHECKIN_PLAN_OFFER)
    elif result.has_plan is False:
        lines.append(CHECKIN_PLAN_INVITE)
    lines.append(CHECKIN_PRIVATE)
    return "\n".join(lines)


def pledge_reply(result: PledgeResult) -> str:
    """Reply to `/pledge` or the pledge button."""
    template = PLEDGE_ALREADY if result.already else PLEDGE_MADE
    return template.format(streak=pledge_streak(result.streak))


def _average(value: float | None, scale: int) -> str:
    return "—" if value is None else f"**{value:.1f}/{scale}**"


def stats_reply(stats: MyStats) -> str:
    """Summarise `/mystats` (the chart is attached beside it)."""
    c, p = stats.checkins, stats.pledges
    lines = [
        STATS_HEADER.format(days=stats.days, start=stats.start.isoformat(), end=stats.end.isoformat(), tz=stats.timezone),
        f"• Check-ins: **{stats.checked_in_days}** of {stats.days} days · current streak **{days(c.current)}** · "
        f"longest **{days(c.longest)}** · all time **{stats.total_checkins}**",
        f"• Pledges: current streak **{days(p.current)}** · longest **{days(p.longest)}**",
        f"• Average mood {_average(stats.mood_average, 5)} · average craving {_average(stats.craving_average, 10)}",
    ]
    if stats.urges is not None and stats.urges.surfed:
        lines.append(urges_line(stats.urges))
    if stats.chart_png is None:
        lines.append(STATS_NO_CHECKINS.format(days=stats.days))
    lines.append("-# Only you can see this.")
    return "\n".join(lines)


def urges_line(summary: UrgeSummary) -> str:
    """Describe the urges surfed in a period, and how much they eased where the member rated both."""
    text = STATS_URGES.format(surfed=summary.surfed)
    if summary.average_drop is not None:
        if summary.average_drop > 0:
            text += STATS_URGES_DROP.format(rated=summary.rated, drop=summary.average_drop)
        else:
            text += STATS_URGES_SAME.format(rated=summary.rated)
    return text


def _quiet(status: ReminderStatus) -> str:
    assert status.quiet_start is not None and status.quiet_end is not None
    return f"{format_hhmm(status.quiet_start)}–{format_hhmm(status.quiet_end)}"


def reminder_set_reply(status: ReminderStatus) -> str:
    """Confirm `/reminder set`, explaining quiet hours if they move or stop it."""
    lines = [REMINDER_SET.format(time=format_hhmm(status.remind_time), tz=status.timezone)]
    if status.sends_at is None:
        lines.append(REMINDER_SKIPPED.format(quiet=_quiet(status)))
    elif status.sends_at != status.remind_time:
        lines.append(REMINDER_DEFERRED.format(quiet=_quiet(status), sends=format_hhmm(status.sends_at)))
    lines.append(REMINDER_DMS)
    return "\n".join(lines)


def reminder_off_reply(removed: bool) -> str:
    """Confirm `/reminder off`."""
    return REMINDER_OFF if removed else REMINDER_WAS_OFF


def settings_lines(status: ReminderStatus | None) -> list[str]:
    """Lines for `/settings show`: the reminder, and why it is paused if DMs were refused."""
    if status is None:
        return [SETTINGS_REMINDER_OFF]
    lines = [SETTINGS_REMINDER.format(time=format_hhmm(status.remind_time), tz=status.timezone)]
    if status.sends_at is None:
        lines.append(SETTINGS_SKIPPED)
    elif status.sends_at != status.remind_time:
        lines.append(SETTINGS_DEFERRED.format(sends=format_hhmm(status.sends_at)))
    if status.dm_closed_date is not None:
        lines.append(SETTINGS_DM_CLOSED.format(day=status.dm_closed_date.isoformat()))
    return lines
