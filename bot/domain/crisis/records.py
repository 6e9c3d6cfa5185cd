"""Crisis records as values: moderator alerts and a server's own resources.

The database layer stores and returns them; services and cogs read them. Nothing here
ever holds message text.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

__all__ = ["AlertAction", "AlertSource", "AlertStatus", "CrisisAlert", "DmStatus", "LocalResourceRow"]


class AlertSource(StrEnum):
    """What raised an alert."""

    DETECTION = "detection"
    REQUEST = "request"       # the member used /alertmods


class DmStatus(StrEnum):
    """What happened about the member's crisis-support DM for an alert."""

    NOT_OFFERED = "not_offered"  # abuse path, tier 1 without tier-1 replies, /alertmods
    OPTED_OUT = "opted_out"      # /settings crisis-replies off
    COOLDOWN = "cooldown"        # one went out recently (6 h for tiers 1-2, 10 min for tier 3)
    PENDING = "pending"          # queued (or waiting to retry after a 429/5xx)
    SENT = "sent"
    NUDGED = "nudged"            # DMs closed; the public /crisis nudge went to the channel
    UNDELIVERABLE = "undelivered"


class AlertStatus(StrEnum):
    """Where moderators are with an alert."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    FALSE_ALARM = "false_alarm"


class AlertAction(StrEnum):
    """A moderator's button press."""

    ACK = "ack"
    RESOLVE = "resolve"
    FALSE = "false"


@dataclass(frozen=True, slots=True)
class CrisisAlert:
    """One moderator alert (never with the message text)."""

    alert_id: int
    guild_id: int
    member_id: int
    user_id: int
    source: AlertSource
    channel_id: int
    message_id: int | None
    tier: int
    path: str | None
    need: str
    rule_id: str | None
    ruleset_version: str | None
    modifiers: tuple[str, ...]
    lang: str
    pinged: bool
    prior_alerts: int
    dm_status: DmStatus
    dm_at: datetime | None
    repeat_count: int
    alert_channel_id: int | None
    alert_message_id: int | None
    status: AlertStatus
    acknowledged_by: int | None
    acknowledged_at: datetime | None
    resolved_by: int | None
    resolved_at: datetime | None
    created_at: datetime
    last_seen_at: datetime
    version: int  # bumped by every change of what the alert shows
    shown_version: int  # the newest version the posted message is known to show

    @property
    def closed(self) -> bool:
        """Whether a moderator marked it resolved or a false alarm."""
        return self.status in (AlertStatus.RESOLVED, AlertStatus.FALSE_ALARM)


@dataclass(frozen=True, slots=True)
class LocalResourceRow:
    """A resource a server's moderators added."""

    resource_id: int
    guild_id: int
    country: str
    name: str
    contact: str
