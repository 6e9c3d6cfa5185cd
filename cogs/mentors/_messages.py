"""What `/mentor` replies say, in one place (refusals live with the service's rules)."""

from __future__ import annotations

from datetime import date, datetime

from bot.domain.plaintext import escape_markup
from bot.services.buddies import Delivery
from bot.services.mentors import (
    FindOutcome,
    MentorLink,
    MentorStatus,
    OfferOutcome,
    RequestOutcome,
    SharingOutcome,
    StopOutcome,
)
from cogs.common import fit_lines

NOT_A_MEMBER = "I can only connect people who are members of this server."
ACCEPTED_IN_DM = "\n\n✅ **You said yes** — you're <@{user}>'s mentor now."
DECLINED_IN_DM = "\n\n*You said not right now. I've let them know kindly.*"
ACCEPTED = ("🎉 You're <@{user}>'s mentor now! I've let them know. They choose what you see; "
            "`/mentor status` shows it.")
DECLINED = "Okay — I've let <@{user}> know kindly, without giving any reason. 💛"
ENDED = "Your mentorship with <@{user}> has ended. I've let them know kindly — no blame on anyone. Take care. 💛"
WITHDRAWN = "I've withdrawn your request to <@{user}> and let them know. `/mentor find` shows other mentors."
REQUEST_REPLIES = {
    Delivery.SENT: "I've sent <@{user}> your request by DM. I'll let you know when they answer. 💛",
    Delivery.DM_CLOSED: ("<@{user}>'s DMs are closed to me, so I couldn't deliver your request. It's saved: they can "
                         "answer any time in the next 14 days with `/mentor accept` here in the server. You might "
                         "mention it to them yourself."),
    Delivery.RETRYING: ("Discord is busy right now, so your request to <@{user}> is queued and I'll keep trying to "
                        "deliver it. They can also answer with `/mentor accept`."),
    Delivery.UNDELIVERABLE: ("I couldn't deliver your request to <@{user}> by DM. It's saved: they can answer with "
                             "`/mentor accept` here in the server."),
    Delivery.DEFERRED: "Your request to <@{user}> will arrive soon.",
    Delivery.GONE: "<@{user}> doesn't seem to be a member of this server any more, so I've closed the request.",
}
NO_MENTORS = ("No mentors with room{matching} right now. Mentors come and go — try again in a few days, or "
              "`/buddy find` for a buddy meanwhile. 💛")
FIND_FOOTER = "`/mentor request member:` asks one of them (you can add a short message)."


def _ts(instant: datetime, style: str) -> str:
    return f"<t:{int(instant.timestamp())}:{style}>"


def _day(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b %Y}"


def _hours(minutes: int) -> str:
    hours = round(minutes / 60)
    if hours == 0:
        return "little daytime in common"
    return f"about {hours} hour{'s' if hours != 1 else ''} of daytime in common"


def offer_reply(outcome: OfferOutcome) -> str:
    """Tell a mentor what their offer is now."""
    focus = f"focus **{escape_markup(outcome.focus)}**" if outcome.focus else "no focus given"
    text = (f"{'Welcome back — you' if outcome.resumed else 'You'}'re offering to mentor: {focus}, up to "
            f"**{outcome.capacity}** mentee{'s' if outcome.capacity != 1 else ''}. Members see only your focus and "
            "how much your daytimes overlap in `/mentor find`. Requests come by DM; you can always say not right now.")
    if outcome.mentees >= outcome.capacity:
        text += (f"\nYou have {outcome.mentees} mentee{'s' if outcome.mentees != 1 else ''}, so you won't be listed "
                 "until there's room.")
    text += "\n`/mentor stop` pauses new requests (your mentees keep you); `/buddy pause` pauses nudges."
    return text


def stop_reply(outcome: StopOutcome) -> str:
    """Tell a mentor what stopping did."""
    text = "You've stopped offering: you're out of `/mentor find` and no new requests will reach you."
    if outcome.closed_requests:
        text += (f" I've kindly closed {outcome.closed_requests} waiting request"
                 f"{'s' if outcome.closed_requests != 1 else ''}.")
    if outcome.mentees:
        text += f" Your {outcome.mentees} mentee{'s' if outcome.mentees != 1 else ''} keep you as their mentor."
    return text + " `/mentor offer` again whenever you're ready. Look after yourself. 💛"


def find_reply(outcome: FindOutcome, focus: str | None) -> str:
    """List mentors with room: focus and shared daytime only."""
    if not outcome.mentors:
        return NO_MENTORS.format(matching=" matching that focus" if focus else "")
    lines = ["**Mentors with room**"]
    for mentor in outcome.mentors:
        focus = escape_markup(mentor.focus) if mentor.focus else "no focus given"  # stored before links were refused
        lines.append(f"• <@{mentor.user_id}> — {focus}; {_hours(mentor.overlap_minutes)}")
    if outcome.more:
        lines.append(f"…and {outcome.more} more — add `focus:` to narrow the list.")
    lines.append(FIND_FOOTER)
    return "\n".join(lines)


def request_reply(outcome: RequestOutcome) -> str:
    """Tell the mentee what happened to their request."""
    return REQUEST_REPLIES[outcome.delivery].format(user=outcome.mentor_user)


def _shared_text(link: MentorLink, *, mine: bool) -> str:
    shared = link.shared
    parts = []
    if shared.checkins:
        if shared.last_checkin is None:
            parts.append("check-ins: none yet")
        else:
            streak = f", streak **{shared.streak} day{'s' if shared.streak != 1 else ''}**" if shared.streak else ""
            parts.append(f"last check-in **{_day(shared.last_checkin)}**{streak}")
    if shared.counters is not None:
        counters = ", ".join(f"*{name}* **{days}** day{'s' if days != 1 else ''}" for name, days in shared.counters)
        parts.append(f"counters: {counters or 'none yet'}")
    if not parts:
        return "you share nothing with them" if mine else "shares nothing with you"
    return ("you share " if mine else "shares ") + "; ".join(parts)


def status_reply(status: MentorStatus) -> str:
    """Render `/mentor status`."""
    lines = ["**Your mentor**"]
    if status.mentor is None:
        lines.append("None right now. `/mentor find` shows mentors with room.")
    else:
        lines.append(f"• <@{status.mentor.user_id}> since {_ts(status.mentor.since, 'D')} — "
                     f"{_shared_text(status.mentor, mine=True)}. `/mentor share` changes that.")
    if status.outgoing is not None:
        lines.append(f"• Waiting for <@{status.outgoing.mentor_user}> to answer your request "
                     f"(open until {_ts(status.outgoing.expires_at, 'D')}).")
    offer = status.offer
    if offer is not None or status.mentees or status.incoming:
        lines.append("")
        lines.append("**Mentoring**")
        if offer is not None and offer.open:
            focus = f" (focus: {escape_markup(offer.focus)})" if offer.focus else ""
            lines.append(f"You're offering{focus}, up to {offer.capacity} mentee{'s' if offer.capacity != 1 else ''}.")
        elif offer is not None:
            lines.append("You've stopped offering for now; `/mentor offer` resumes.")
        for link in status.mentees:
            lines.append(f"• <@{link.user_id}> since {_ts(link.since, 'D')} — {_shared_text(link, mine=False)}")
        for request in status.incoming[:10]:
            shown = request.message if request.message is None or len(request.message) <= 100 else (
                request.message[:99] + "…")
            message = f": “{escape_markup(shown)}”" if shown else ""
            lines.append(f"• <@{request.mentee_user}> asked you to be their mentor{message} — `/mentor accept` or "
                         f"`/mentor decline` (open until {_ts(request.expires_at, 'D')})")
        if len(status.incoming) > 10:
            lines.append(f"• …and {len(status.incoming) - 10} more requests")
    if not status.enabled:
        lines.append("")
        lines.append("Mentoring is turned off in this server for now; mentorships already running go on.")
    return fit_lines(lines)


def sharing_reply(outcome: SharingOutcome) -> str:
    """Tell a mentee what their mentor sees now."""
    what = []
    if outcome.checkins:
        what.append("your last check-in day and streak (never moods or notes)")
    if outcome.counters:
        what.append("the names and days of your counters not marked private (private ones stay private)")
    seen = " and ".join(what) if what else "nothing about you"
    prefix = "Done — " if outcome.changed else ""
    text = f"{prefix}<@{outcome.mentor_user}> sees {seen}."
    if outcome.checkins:
        text += " If you go quiet for a few days, they may get one gentle DM suggesting they reach out."
    return text + " `/mentor share checkins: counters:` changes it any time."
