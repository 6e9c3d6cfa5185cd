"""Member and server settings as plain values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from enum import StrEnum


class ShareCheckins(StrEnum):
    """Who may see a member's check-in day and streak."""

    NOBODY = "nobody"
    BUDDIES = "buddies"


@dataclass(frozen=True, slots=True)
class MemberSettings:
    """A member's settings in one server (None = not set, use the server's)."""

    member_id: int
    guild_id: int
    user_id: int
    timezone: str | None
    region: str | None
    quiet_start: time | None
    quiet_end: time | None
    crisis_replies: bool
    share_checkins: ShareCheckins
    dm_closed_at: datetime | None
    created_at: datetime
    last_active_at: datetime


@dataclass(frozen=True, slots=True)
class GuildSettings:
    """A server's settings as stored (None = the config file's default)."""

    guild_id: int
    timezone: str | None
    region: str | None
    checkin_channel_id: int | None
    checkin_time: time | None
    checkin_enabled: bool
    celebrations_channel_id: int | None
    celebration_hour: int | None
    alerts_channel_id: int | None
    alerts_role_id: int | None
    crisis_detection: bool
    crisis_public_nudge: bool
    crisis_tier1_replies: bool
    buddy_nudge_after_days: int | None
    buddy_max: int | None
    buddy_matching: bool | None
    joined_at: datetime
    left_at: datetime | None
