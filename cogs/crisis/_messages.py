"""Member- and moderator-facing wording for `/crisis`, `/alertmods` and alert buttons.

The crisis texts themselves (the `/crisis` reply, DMs, the public nudge and every alert
label) are fixed, reviewed templates in `data/crisis_templates.toml`; what is here are
the short confirmations around them.
"""

from __future__ import annotations

import discord

from bot.discord_notifier import build_embed
from bot.domain.coping import RelapsePlan
from bot.domain.crisis.records import AlertStatus, CrisisAlert
from bot.domain.messages import OutgoingMessage
from bot.services.crisis import RequestResult, RequestStatus
from cogs.coping._messages import EMBED_COLOUR, plan_embed

ALERTMODS_SENT = ("I've let the moderators know privately, with a link to this channel. Only they can see it; "
                  "nothing was posted here. If you need support right now, `/crisis` lists people you can "
                  "reach at any hour.")
ALERTMODS_NO_CHANNEL = ("This server hasn't set up a private channel for moderator alerts yet, so I couldn't pass "
                        "this on. Please message one of the server's moderators directly — they're usually listed "
                        "at the top of the member list. If you need support right now, `/crisis` lists people you "
                        "can reach at any hour.")
ALERTMODS_TOO_SOON = ("The moderators already got your request <t:{ts}:R>, so I didn't send a second one. If "
                      "things have changed or it's urgent, message a moderator directly, and `/crisis` lists "
                      "people you can reach right now.")
ALERTMODS_UNDELIVERED = ("I couldn't reach the moderators' channel just now, so nothing was sent. Please message "
                         "one of the server's moderators directly. If you need support right now, `/crisis` lists "
                         "people you can reach at any hour.")

# With a plan, /crisis shows it first, in the member's own words, then people to reach.
PLAN_FIRST = "📋 **Your plan** first — your own words for a moment like this — then people you can reach right now."
PLAN_TITLE = "📋 Your plan"
REACH_TITLE = "People you can reach right now"
EMBEDS_LIMIT = 6000  # Discord's limit for all of a message's embeds together

ALREADY = {
    AlertStatus.ACKNOWLEDGED: "<@{by}> already acknowledged this alert; nothing was changed.",
    AlertStatus.RESOLVED: "<@{by}> already marked this alert resolved; nothing was changed.",
    AlertStatus.FALSE_ALARM: "<@{by}> already marked this alert a false alarm; nothing was changed.",
}


def alertmods_reply(result: RequestResult) -> str:
    """Return the member's private confirmation for `/alertmods`."""
    if result.status is RequestStatus.SENT:
        return ALERTMODS_SENT
    if result.status is RequestStatus.NO_CHANNEL:
        return ALERTMODS_NO_CHANNEL
    if result.status is RequestStatus.TOO_SOON and result.last_at is not None:
        return ALERTMODS_TOO_SOON.format(ts=int(result.last_at.timestamp()))
    return ALERTMODS_UNDELIVERED


def already_reply(alert: CrisisAlert) -> str:
    """Return the note for a button press that changed nothing."""
    by = alert.resolved_by if alert.closed else alert.acknowledged_by
    return ALREADY.get(alert.status, "Nothing was changed.").format(by=by)


def with_plan_first(plan: RelapsePlan, message: OutgoingMessage) -> list[discord.Embed]:
    """Return the embeds of `/crisis` with a plan: the plan, then the resources, then more options.

    The resources text is the same reviewed template as without a plan (emergency number
    included); "more options" is shortened, at a line break, if all three would pass Discord's
    limit for a message's embeds together.
    """
    own = plan_embed(plan, PLAN_TITLE)
    reach = discord.Embed(title=REACH_TITLE, description=message.content, colour=EMBED_COLOUR)
    embeds = [own, reach]
    more = build_embed(message)
    if more is not None and more.description:
        room = EMBEDS_LIMIT - len(own) - len(reach) - len(more.title or "") - 10
        text = more.description
        if len(text) > room:
            cut = text.rfind("\n", 0, max(room - 2, 0))
            text = text[:cut] + "\n…" if cut > 0 else ""
        if text:
            more.description = text
            embeds.append(more)
    return embeds
