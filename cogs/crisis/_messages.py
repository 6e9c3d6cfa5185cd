"""Member- and moderator-facing wording for `/crisis`, `/alertmods` and alert buttons.

The crisis texts themselves (the `/crisis` reply, DMs, the public nudge and every alert
label) are fixed, reviewed templates in `data/crisis_templates.toml`; what is here are
the short confirmations around them.
"""

from __future__ import annotations

from bot.domain.crisis.records import AlertStatus, CrisisAlert
from bot.services.crisis import RequestResult, RequestStatus

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

