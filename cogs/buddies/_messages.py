"""What `/buddy` replies say, in one place (refusals live with the service's rules)."""

from __future__ import annotations

from datetime import date, datetime

from bot.services.buddies import BuddyStatus, Delivery, NudgeOutcome, RequestOutcome

NOT_A_MEMBER = "I can only pair people who are members of this server."
NEED_GUILD = "This button works from the request DM or inside the server where you were asked."

REQUEST_REPLIES = {
    Delivery.SENT: "I've sent <@{user}> your request by DM. I'll let you know when they answer. 💛",
    Delivery.DM_CLOSED: ("<@{user}>'s DMs are closed to me, so I couldn't deliver your request. It's saved: "
                         "they can answer any time in the next 14 days with `/buddy accept` here in the server. "
                         "You might mention it to them yourself."),
    Delivery.RETRYING: ("Discord is busy right now, so your request to <@{user}> is queued and I'll keep trying "
                        "to deliver it. They can also answer with `/buddy accept`."),
    Delivery.UNDELIVERABLE: ("I couldn't deliver your request to <@{user}> by DM. It's saved: they can answer "
                             "with `/buddy accept` here in the server."),
    Delivery.GONE: "<@{user}> doesn't seem to be a member of this server any more, so I've closed the request.",
}
REQUEST_PAIRED = "<@{user}> had already asked you — so you're buddies now! 🎉 I've let them know."
ACCEPTED = "🎉 You and <@{user}> are buddies now! I've let them know. `/buddy status` shows your buddies."
DECLINED = "Okay — I've let <@{user}> know kindly, without giving any reason. 💛"
ACCEPTED_IN_DM = "\n\n✅ **You said yes** — you and <@{user}> are buddies now."
DECLINED_IN_DM = "\n\n*You said not right now. I've let them know kindly.*"
POOL_JOINED = ("You're in the matching pool. 🤝 The next round is <t:{ts}:F> (<t:{ts}:R>). I look for someone "
               "whose daytime overlaps yours and whom you haven't been paired with recently, then DM you both. "
               "`/buddy find` again leaves the pool.")
POOL_JOINED_NOW = ("You're in the matching pool. 🤝 A round is due now, so I'll DM you soon if I find someone. "
                   "`/buddy find` again leaves the pool.")
POOL_LEFT = "You've left the matching pool. No problem — `/buddy find` brings you back any time."
NUDGE_REPLIES = {
    Delivery.SENT: "Sent! 💛 <@{user}> got a friendly nudge from you.",
    Delivery.DEFERRED: "<@{user}> is in their quiet hours, so your nudge will arrive when those end (<t:{ts}:R>). 💛",
    Delivery.RETRYING: "Discord is busy, so your nudge to <@{user}> is queued; I'll keep trying to deliver it.",
    Delivery.DM_CLOSED: "<@{user}>'s DMs are closed to me, so your nudge couldn't be delivered.",
    Delivery.UNDELIVERABLE: "I couldn't deliver your nudge to <@{user}> by DM.",
    Delivery.GONE: ("<@{user}> is no longer a member of this server, so your pairing has ended. Thank you for "
                    "looking out for them. 💛"),
}
PAUSED = ("Buddy nudges are paused until <t:{ts}:F>: none to you and none about you until then. Your buddies "
          "stay your buddies. To change the length, run `/buddy pause` again.")
ENDED = "Your pairing with <@{user}> has ended. I've let them know kindly — no blame on anyone. Take care. 💛"

NO_BUDDIES = ("You don't have a buddy yet. `/buddy request` asks someone you know; `/buddy find` joins the "
              "matching pool.")
MAX_INCOMING_SHOWN = 10  # a reply holds 2,000 characters; anyone may ask, so the list is unbounded
MORE_INCOMING = "• …and {count} more — `/buddy accept member:` or `/buddy decline member:` answers any of them"
SHARING_ON = "Your buddies can see your last check-in day and streak (never moods or notes)."
SHARING_OFF = ("Your check-ins are private from buddies, so they see nothing and get no nudges about you. "
               "`/settings share-checkins with:buddies` changes that.")


def request_reply(outcome: RequestOutcome) -> str:
    """Tell the requester what happened to their request."""
    if outcome.paired:
        return REQUEST_PAIRED.format(user=outcome.target_user)
    return REQUEST_REPLIES[outcome.delivery].format(user=outcome.target_user)


def nudge_reply(outcome: NudgeOutcome) -> str:
    """Tell the sender what happened to their nudge."""
    return NUDGE_REPLIES[outcome.delivery].format(user=outcome.recipient_user,
                                                  ts=int(outcome.deliver_at.timestamp()))


def pool_reply(joined: bool, next_round: datetime | None, now: datetime) -> str:
    """Tell the member whether they joined or left the pool, and when the next round is."""
    if not joined:
        return POOL_LEFT
    if next_round is None or next_round <= now:
        return POOL_JOINED_NOW
    return POOL_JOINED.format(ts=int(next_round.timestamp()))


def _ts(instant: datetime, style: str) -> str:
    return f"<t:{int(instant.timestamp())}:{style}>"


def _day(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b %Y}"


def status_reply(status: BuddyStatus, now: datetime) -> str:
    """Render `/buddy status`."""
    lines = [f"**Your buddies** ({len(status.buddies)} of up to {status.max_buddies})"]
    if not status.buddies:
        lines.append(NO_BUDDIES)
    for buddy in status.buddies:
        line = f"• <@{buddy.user_id}> — buddies since {_ts(buddy.since, 'D')}"
        if not buddy.shares_checkins:
            line += "; keeps check-ins private"
        elif buddy.last_checkin is None:
            line += "; no check-ins yet"
        else:
            line += f"; last check-in **{_day(buddy.last_checkin)}**"
            if buddy.streak:
                line += f", check-in streak **{buddy.streak} day{'s' if buddy.streak != 1 else ''}**"
        lines.append(line)
    if status.incoming:
        lines.append("")
        lines.append("**Waiting for your answer**")
        lines.extend(f"• <@{r.requester_user}> asked to be buddies — `/buddy accept` or `/buddy decline` "
                     f"(open until {_ts(r.expires_at, 'D')})" for r in status.incoming[:MAX_INCOMING_SHOWN])
        if len(status.incoming) > MAX_INCOMING_SHOWN:
            lines.append(MORE_INCOMING.format(count=len(status.incoming) - MAX_INCOMING_SHOWN))
    if status.outgoing:
        lines.append("")
        lines.append("**Your requests**")
        lines.extend(f"• waiting for <@{r.target_user}> (open until {_ts(r.expires_at, 'D')})"
                     for r in status.outgoing)
    if status.in_pool_since is not None:
        lines.append("")
        when = ("a round is due now" if status.next_round is None or status.next_round <= now
                else f"next round {_ts(status.next_round, 'F')}")
        lines.append(f"**Matching pool:** you're in it (since {_ts(status.in_pool_since, 'R')}); {when}.")
        if not status.matching:
            lines.append("Matching is turned off in this server for now, so no rounds run.")
    lines.append("")
    if status.paused_until is not None:
        lines.append(f"**Nudges:** paused until {_ts(status.paused_until, 'F')}.")
    lines.append(SHARING_ON if status.shares_checkins else SHARING_OFF)
    return "\n".join(lines)
