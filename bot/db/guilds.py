"""Server rows and their settings."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Any

from bot.db.database import Database
from bot.db.plans import Plan
from bot.domain.localtime import from_utc_text, parse_hhmm, to_utc_text
from bot.domain.settings import GuildSettings

_MARK_PRESENT = ("INSERT INTO guilds (guild_id, joined_at, updated_at) VALUES (?, ?, ?) "
                 "ON CONFLICT (guild_id) DO UPDATE SET left_at = NULL WHERE left_at IS NOT NULL")
# Columns a moderator command may change; anything else is refused before SQL is built.
GUILD_SETTING_COLUMNS = frozenset({
    "timezone", "region", "checkin_channel_id", "checkin_time", "checkin_enabled",
    "celebrations_channel_id", "celebration_hour", "alerts_channel_id", "alerts_role_id",
    "crisis_detection", "crisis_public_nudge", "crisis_tier1_replies",
    "buddy_nudge_after_days", "buddy_max", "buddy_matching",
    "mentors_enabled", "mentor_role_id", "mentor_min_days",
})


def guild_from_row(row: sqlite3.Row) -> GuildSettings:
    """Build a GuildSettings value from a `guilds` row."""
    return GuildSettings(
        guild_id=row["guild_id"],
        timezone=row["timezone"],
        region=row["region"],
        checkin_channel_id=row["checkin_channel_id"],
        checkin_time=parse_hhmm(row["checkin_time"]) if row["checkin_time"] else None,
        checkin_enabled=bool(row["checkin_enabled"]),
        celebrations_channel_id=row["celebrations_channel_id"],
        celebration_hour=row["celebration_hour"],
        alerts_channel_id=row["alerts_channel_id"],
        alerts_role_id=row["alerts_role_id"],
        crisis_detection=bool(row["crisis_detection"]),
        crisis_public_nudge=bool(row["crisis_public_nudge"]),
        crisis_tier1_replies=bool(row["crisis_tier1_replies"]),
        buddy_nudge_after_days=row["buddy_nudge_after_days"],
        buddy_max=row["buddy_max"],
        buddy_matching=None if row["buddy_matching"] is None else bool(row["buddy_matching"]),
        mentors_enabled=None if row["mentors_enabled"] is None else bool(row["mentors_enabled"]),
        mentor_role_id=row["mentor_role_id"],
        mentor_min_days=row["mentor_min_days"],
        joined_at=from_utc_text(row["joined_at"]),
        left_at=from_utc_text(row["left_at"]) if row["left_at"] else None,
    )


class GuildRepository:
    """Reads and writes `guilds`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def timezone_plan(guild_id: int) -> Plan[str | None]:
        """A server's time zone, if it set one (a plan, `bot.db.plans`)."""
        rows = yield "SELECT timezone FROM guilds WHERE guild_id = ?", (guild_id,)
        return rows[0]["timezone"] if rows else None

    async def get(self, guild_id: int) -> GuildSettings | None:
        """Return a server's settings, or None if it has none yet."""
        row = await self.db.fetch_one("SELECT * FROM guilds WHERE guild_id = ?", (guild_id,))
        return guild_from_row(row) if row else None

    async def ensure(self, guild_id: int, now: datetime) -> GuildSettings:
        """Return a server's settings, creating the row on first use.

        Reading settings never marks a server the bot left as joined again (sweeps read
        them too); only `mark_present` does, from gateway events.
        """
        existing = await self.get(guild_id)
        if existing is not None:
            return existing
        await self.db.execute(
            "INSERT INTO guilds (guild_id, joined_at, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (guild_id) DO NOTHING",
            (guild_id, to_utc_text(now), to_utc_text(now)),
        )
        result = await self.get(guild_id)
        assert result is not None
        return result

    async def mark_present(self, guild_ids: list[int], now: datetime) -> None:
        """Record that the bot is in these servers (joined, or back after leaving)."""
        stamp = to_utc_text(now)
        async with self.db.transaction() as conn:
            await conn.executemany(_MARK_PRESENT, [(guild_id, stamp, stamp) for guild_id in guild_ids])

    async def reconcile(self, present_ids: list[int], now: datetime) -> None:
        """Record that the bot is in exactly these servers: any other stored server has been left."""
        stamp = to_utc_text(now)
        async with self.db.transaction() as conn:
            await conn.executemany(_MARK_PRESENT, [(guild_id, stamp, stamp) for guild_id in present_ids])
            await conn.execute(
                "UPDATE guilds SET left_at = ? WHERE left_at IS NULL "
                "AND guild_id NOT IN (SELECT value FROM json_each(?))",
                (stamp, json.dumps(present_ids)),
            )

    async def update(self, guild_id: int, now: datetime, **values: Any) -> GuildSettings:
        """Change some settings of a server (which must exist) and return the result."""
        unknown = set(values) - GUILD_SETTING_COLUMNS
        if unknown:
            raise ValueError(f"not guild setting columns: {sorted(unknown)}")
        if values:
            assignments = ", ".join(f"{column} = :{column}" for column in values)
            params = {k: _to_sql(v) for k, v in values.items()} | {
                "guild_id": guild_id, "now": to_utc_text(now)}
            await self.db.execute(
                f"UPDATE guilds SET {assignments}, updated_at = :now WHERE guild_id = :guild_id",  # noqa: S608 - columns allow-listed above
                params,
            )
        result = await self.get(guild_id)
        if result is None:
            raise LookupError(guild_id)
        return result

    async def mark_left(self, guild_id: int, now: datetime) -> None:
        """Record that the bot left a server (its data is purged after the retention period)."""
        await self.db.execute(
            "UPDATE guilds SET left_at = ? WHERE guild_id = ? AND left_at IS NULL",
            (to_utc_text(now), guild_id),
        )


def _to_sql(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if hasattr(value, "hour") and hasattr(value, "minute") and not isinstance(value, datetime):
        return f"{value.hour:02d}:{value.minute:02d}"
    return value
