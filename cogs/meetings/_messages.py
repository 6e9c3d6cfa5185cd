"""What `/meeting` replies say, in one place (refusals live with the service's rules)."""

from __future__ import annotations

from datetime import datetime

from bot.domain.localtime import format_hhmm
from bot.domain.meetings import WEEKDAYS
from bot.domain.plaintext import escape_markup
from bot.services.meetings import AddOutcome, ListedMeeting, RemindOutcome
from cogs.common import fit_lines

NEED_PERMISSION = "Adding and removing meetings is for members with **Manage Server** or **Manage Events**."
REMOVED = "Removed **{name}**: its Discord event is deleted and everyone's reminders for it are off."
REMINDER_OFF = "🔕 No more reminders for **{name}**."
NO_MEETINGS = "No meetings are set up here yet. Moderators add them with `/meeting add`."


def _ts(instant: datetime, style: str) -> str:
    return f"<t:{int(instant.timestamp())}:{style}>"


def _where(channel_id: int | None, location: str | None) -> str:
    return f" in <#{channel_id}>" if channel_id else f" ({escape_markup(location or '')})"


def added_reply(outcome: AddOutcome) -> str:
    """Tell the moderator what was set up."""
    m = outcome.meeting
    return (f"📅 **{escape_markup(m.name)}** is on: {WEEKDAYS[m.weekday].capitalize()}s at {m.local_time} ({m.timezone}), "
            f"{m.duration_minutes} minutes{_where(m.channel_id, m.location)}. The next one is published as a Discord event, "
            f"{_ts(m.occurrence_at, 'F')}: {outcome.url}\n"
            "I publish each following one when the last ends; the local time stays put when clocks change. "
            "Members see it in their own time with `/meeting list`, and `/meeting remind` DMs them before each one.")


def list_reply(meetings: list[ListedMeeting]) -> str:
    """List the server's meetings in the member's own zone, soonest first."""
    if not meetings:
        return NO_MEETINGS
    lines = [f"**Upcoming meetings** (times in your zone, {meetings[0].member_timezone})"]
    for m in meetings:
        local = m.local_start
        # Names and locations are shown as typed (stored ones may predate the input check).
        where = f" in <#{m.channel_id}>" if m.channel_id else (f" — {escape_markup(m.location)}" if m.location else "")
        line = (f"• **{escape_markup(m.name)}** — {WEEKDAYS[local.weekday()].capitalize()} {format_hhmm(local.time())} "
                f"({_ts(m.start, 'R')}, {m.duration_minutes} min){where}")
        if m.url:
            line += f" · {m.url}"
        if m.remind_minutes:
            line += f" · 🔔 {m.remind_minutes} min before"
        lines.append(line)
    lines.append("`/meeting remind` DMs you before a meeting.")
    return fit_lines(lines, more="…and more than fit here.")


def remind_reply(outcome: RemindOutcome) -> str:
    """Confirm a reminder."""
    return (f"🔔 I'll DM you {outcome.minutes_before} minutes before each **{escape_markup(outcome.name)}** — the next reminder is "
            f"{_ts(outcome.next_reminder, 'F')} ({_ts(outcome.next_reminder, 'R')}). You asked for them, so they come "
            "even in your quiet hours. `/meeting remind-off` stops them.")
