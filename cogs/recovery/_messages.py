"""Member-facing wording for `/recovery` and `/config milestones`, reviewed in one place.

Warm and plain; a slip is news, not a verdict. Never "failed", "lost" or "reset to zero".
"""

from __future__ import annotations

from datetime import date

from bot.domain.plaintext import escape_markup
from bot.domain.recovery import Celebrate, Delivery, Ladder, Visibility, days_phrase
from bot.services.recovery import CounterView, SettingsResult, SlipResult, StartResult
from cogs.common import clip

MAX_PERIODS_SHOWN = 12
LADDER_TEXT_MAX = 900
LADDER_DESCRIPTION_SHORT = 24

WHO_SEES = {
    Visibility.PRIVATE: "only you",
    Visibility.BUDDIES: "you and your buddies",
    Visibility.SERVER: "everyone in this server",
}
HOW_CELEBRATED = {
    Celebrate.CHANNEL: "in the celebrations channel",
    Celebrate.DM: "by DM",
    Celebrate.OFF: "off",
}
DELIVERY_NOTE = {
    Delivery.CHANNEL: "Milestones will be celebrated in the celebrations channel, with a 🎉.",
    Delivery.DM: "Milestones will be celebrated by DM, just between us.",
    Delivery.NONE: "Milestone celebrations are off; your counter keeps counting quietly.",
}
CHANNEL_NEEDS_SERVER = ("You asked for the celebrations channel, but this counter is visible to {who}, so "
                        "I'll celebrate by DM instead. Choose `visibility: server` to celebrate publicly.")
CHANNEL_NOT_SET = ("This server has no celebrations channel yet, so I'll celebrate by DM until a moderator "
                   "sets one with `/config celebrations`.")

NOTHING_SHARED = "{member} hasn't shared a recovery counter with you."
SHARED_HEADER = "**What {member} shares with you**"
REMOVED = "Removed your **{name}** counter and its history."
SLIP_RECORDED = ("Thank you for telling me. I've noted a slip on {day}, and your **{name}** count begins "
                 "again from that day. Everything you built is still here: your longest streak is "
                 "**{longest}** and you have **{total}** in recovery in all. One day at a time — be gentle "
                 "with yourself. 💚\nIf today feels heavy, `/crisis` is always there.")
SLIP_ALREADY = ("Your **{name}** count already begins on {day}, so there's nothing to change. "
                "Be gentle with yourself today. 💚")


def _date(day: date) -> str:
    return f"{day.day} {day.strftime('%b %Y')}"


def next_line(view: CounterView) -> str:
    """Say what the next milestone is and how far away it is."""
    if view.next is None:
        return "You've passed every milestone I can count. Remarkable."
    days = view.days_to_next or 0
    when = "tomorrow" if days == 1 else f"in {days_phrase(days)}"
    return f"Next milestone: **{view.next.label}** {when} ({_date(view.next.on)})"


def since_line(view: CounterView) -> str:
    """Say how long the current stretch is."""
    if view.current_days == 0:
        return f"Day one: your count begins today ({_date(view.start)})."
    duration = str(view.duration)
    extra = "" if duration == days_phrase(view.current_days) else f" ({duration})"
    return f"**{days_phrase(view.current_days)}**{extra} since {_date(view.start)}"


def counter_block(view: CounterView, *, own: bool) -> str:
    """Describe one counter: days, calendar duration, next milestone (and, for its owner, more)."""
    lines = [f"**{view.name}** — {since_line(view)}"]
    if view.today_milestone is not None:
        lines.append(f"🎉 Today is **{view.today_milestone.label}**!")
    lines.append(next_line(view))
    if own:
        lines.append(f"Longest streak: **{days_phrase(view.longest_days)}** · "
                     f"Total days in recovery: **{days_phrase(view.total_days)}**")
        lines.append(f"Visible to {WHO_SEES[view.visibility]} · Celebrations {HOW_CELEBRATED[view.celebrate]}")
    return "\n".join(lines)


def show_own(counters: tuple[CounterView, ...]) -> str:
    """The owner's own counters."""
    return "\n\n".join(counter_block(c, own=True) for c in counters)


def show_shared(member_mention: str, counters: tuple[CounterView, ...]) -> str:
    """Another member's shared counters, or a reply that reveals nothing."""
    if not counters:
        return NOTHING_SHARED.format(member=member_mention)
    blocks = [counter_block(c, own=False) for c in counters]
    return SHARED_HEADER.format(member=member_mention) + "\n\n" + "\n\n".join(blocks)


def started(result: StartResult) -> str:
    """Reply to `/recovery start`."""
    view = result.counter
    if result.created:
        head = f"🌱 Your **{view.name}** counter is started."
    elif result.previous_start == view.start:
        head = f"Your **{view.name}** counter already begins on {_date(view.start)}."
    else:
        assert result.previous_start is not None
        head = (f"Updated: your **{view.name}** count now begins on {_date(view.start)} "
                f"(it said {_date(result.previous_start)}). No slip was recorded.")
    lines = [head, since_line(view)]
    if view.today_milestone is not None:
        lines.append(f"🎉 Today is **{view.today_milestone.label}**!")
    lines.append(next_line(view))
    lines.append(f"Visible to {WHO_SEES[view.visibility]}. {DELIVERY_NOTE[result.delivery]}")
    if result.created:
        lines.append("Change who sees it or how it's celebrated with `/recovery settings`.")
    return "\n".join(lines)


def slipped(result: SlipResult) -> str:
    """Reply to `/recovery slip`: warm, and what survives."""
    view = result.counter
    if not result.recorded:
        return SLIP_ALREADY.format(name=view.name, day=_date(result.slip_date))
    return SLIP_RECORDED.format(name=view.name, day=_date(result.slip_date),
                                longest=days_phrase(view.longest_days), total=days_phrase(view.total_days))


def settings_changed(result: SettingsResult) -> str:
    """Reply to `/recovery settings`."""
    view = result.counter
    lines = [f"Updated **{view.name}**: visible to {WHO_SEES[view.visibility]}; "
             f"celebrations {HOW_CELEBRATED[view.celebrate]}."]
    if view.celebrate is Celebrate.CHANNEL and result.delivery is Delivery.DM:
        lines.append(CHANNEL_NOT_SET if view.visibility is Visibility.SERVER
                     else CHANNEL_NEEDS_SERVER.format(who=WHO_SEES[view.visibility]))
    else:
        lines.append(DELIVERY_NOTE[result.delivery])
    return "\n".join(lines)


def history(counters: list[CounterView]) -> str:
    """Reply to `/recovery history`: start dates, slips, longest and total."""
    blocks = []
    for view in counters:
        lines = [f"**{view.name}** — first started {_date(view.first_start)}"]
        shown = view.periods[-MAX_PERIODS_SHOWN:]
        if len(view.periods) > len(shown):
            lines.append(f"• …and {len(view.periods) - len(shown)} earlier stretches")
        for period in shown:
            if period.end is None:
                lines.append(f"• {_date(period.start)} → today: {days_phrase(period.days(view.today))}")
            else:
                lines.append(f"• {_date(period.start)} → slip on {_date(period.end)}: "
                             f"{days_phrase(period.days(view.today))}")
        slips = len(view.slips)
        lines.append(f"Longest streak: **{days_phrase(view.longest_days)}** · Total days in recovery: "
                     f"**{days_phrase(view.total_days)}** · "
                     + ("No slips recorded" if slips == 0 else f"{slips} slip{'s' if slips > 1 else ''} recorded"))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def ladder_text(ladder: Ladder, limit: int = LADDER_TEXT_MAX) -> str:
    """Describe a server's ladder in one line (descriptions in brackets), within `limit` characters.

    Replies that show the ladder carry other lines too, so a long ladder shortens its
    descriptions, then leaves them out (they are still shown with each celebration).
    """
    origin = "this server's own" if ladder.custom else "the default"
    text = ""
    for room in (None, LADDER_DESCRIPTION_SHORT, 0):
        steps = [f"{r.days}" + (f" (“{escape_markup(clip(r.description, room))}”)" if r.description and room != 0 else "")
                 for r in ladder.rungs]
        text = f"{', '.join(steps)} days, then every year ({origin} ladder)"
        if len(text) <= limit:
            return text
    return clip(text, limit)

