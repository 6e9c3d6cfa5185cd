"""Member and server settings as plain values."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum

# After Discord refuses a DM (403/50007) no DM is tried again for a week, unless the member
# uses the bot sooner (that lifts the mark at once). Not forever: a member can open their
# DMs again without typing a command, and would otherwise never hear from Kindred again
# (their milestones, buddy nudges, reminders). Not much sooner: every try is a 4xx that
# counts toward Discord's invalid-request limit, and a week costs at most one refused
# request per member per week, in step with the weekly rhythm of the features.
DM_CLOSED_FOR = timedelta(days=7)


def dms_closed(marked_at: datetime | None, now: datetime) -> bool:
    """Tell whether a closed-DM mark made at `marked_at` still holds at `now`."""
    return marked_at is not None and now - marked_at < DM_CLOSED_FOR


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
    dm_closed_at: datetime | None  # the user's (every server row carries the same mark)
    created_at: datetime
    last_active_at: datetime

    def dms_closed(self, now: datetime) -> bool:
        """Tell whether DMs to this member are known to fail at `now`."""
        return dms_closed(self.dm_closed_at, now)


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
    mentors_enabled: bool | None
    mentor_role_id: int | None
    mentor_min_days: int | None
    joined_at: datetime
    left_at: datetime | None
