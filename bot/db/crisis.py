"""Crisis alerts and server-local crisis resources.

Nothing here ever receives message text: an alert row holds ids, the tier, the rule id,
what was done about it and which moderator acted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.db.database import Connection, Database, Row
from bot.domain.crisis.records import (
    AlertAction,
    AlertSource,
    AlertStatus,
    CrisisAlert,
    DmStatus,
    LocalResourceRow,
)
from bot.domain.localtime import from_utc_text, to_utc_text

# An alert's version when it is recorded, the one its first posting is rendered from.
FIRST_VERSION = 1

# DM states that count as "resources were offered" for the cooldown.
DM_ATTEMPTED = (DmStatus.PENDING, DmStatus.SENT, DmStatus.NUDGED, DmStatus.UNDELIVERABLE)


@dataclass(frozen=True, slots=True)
class NewAlert:
    """An alert to record."""

    guild_id: int
    member_id: int
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
    alert_channel_id: int | None


def _time(value: str | None) -> datetime | None:
    return from_utc_text(value) if value else None


def _alert(row: Row) -> CrisisAlert:
    return CrisisAlert(
        alert_id=row["alert_id"], guild_id=row["guild_id"], member_id=row["member_id"],
        user_id=row["user_id"], source=AlertSource(row["source"]), channel_id=row["channel_id"],
        message_id=row["message_id"], tier=row["tier"], path=row["path"], need=row["need"],
        rule_id=row["rule_id"], ruleset_version=row["ruleset_version"],
        modifiers=tuple(m for m in row["modifiers"].split("|") if m), lang=row["lang"],
        pinged=bool(row["pinged"]), prior_alerts=row["prior_alerts"],
        dm_status=DmStatus(row["dm_status"]), dm_at=_time(row["dm_at"]),
        repeat_count=row["repeat_count"], alert_channel_id=row["alert_channel_id"],
        alert_message_id=row["alert_message_id"], status=AlertStatus(row["status"]),
        acknowledged_by=row["acknowledged_by"], acknowledged_at=_time(row["acknowledged_at"]),
        resolved_by=row["resolved_by"], resolved_at=_time(row["resolved_at"]),
        created_at=from_utc_text(row["created_at"]), last_seen_at=from_utc_text(row["last_seen_at"]),
        version=row["version"], shown_version=row["shown_version"],
    )


def _local(row: Row) -> LocalResourceRow:
    return LocalResourceRow(row["resource_id"], row["guild_id"], row["country"], row["name"], row["contact"])


# What the table's unique key compares: names with ASCII letters folded (SQLite's NOCASE, and
# lower() on both engines); other letters compare as they are.
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def ascii_lower(text: str) -> str:
    """Fold ASCII capitals only, as the database's `lower()` and NOCASE do."""
    return text.translate(_ASCII_LOWER)


_SELECT_ALERT = (
    "SELECT a.*, m.user_id AS user_id FROM crisis_alerts a JOIN members m ON m.member_id = a.member_id "
)
_ATTEMPTED_SQL = "(" + ", ".join(f"'{s.value}'" for s in DM_ATTEMPTED) + ")"


async def _one(conn: Connection, sql: str, params: tuple[object, ...]) -> Row | None:
    return await conn.fetch_one(sql, params)


# -- inside the caller's transaction ------------------------------------------------------

async def alert_for_message_in(conn: Connection, guild_id: int, message_id: int) -> int | None:
    """Return the alert already raised for a message (a replayed gateway event), if any."""
    row = await _one(conn, "SELECT alert_id FROM crisis_alerts WHERE guild_id = ? AND message_id = ?",
                     (guild_id, message_id))
    return None if row is None else int(row[0])


async def open_alert_to_merge_in(conn: Connection, member_id: int, since: datetime, path: str,
                                 tier: int) -> CrisisAlert | None:
    """Return the member's newest open detection alert since `since` on `path` with at least `tier`."""
    row = await _one(conn, _SELECT_ALERT + "WHERE a.member_id = ? AND a.source = 'detection' AND a.created_at >= ? "
                     "AND a.path = ? AND a.tier >= ? AND a.status IN ('open', 'acknowledged') "
                     "ORDER BY a.created_at DESC, a.alert_id DESC LIMIT 1",
                     (member_id, to_utc_text(since), path, tier))
    return _alert(row) if row else None


async def count_alerts_in(conn: Connection, member_id: int, since: datetime) -> int:
    """Count the member's alerts raised at or after `since`."""
    row = await _one(conn, "SELECT count(*) FROM crisis_alerts WHERE member_id = ? AND created_at >= ?",
                     (member_id, to_utc_text(since)))
    return int(row[0]) if row else 0


async def last_dm_at_in(conn: Connection, member_id: int) -> datetime | None:
    """Return when resources were last offered to the member by DM (attempted, any outcome)."""
    row = await _one(
        conn, f"SELECT max(dm_at) FROM crisis_alerts WHERE member_id = ? AND dm_status IN {_ATTEMPTED_SQL}",  # noqa: S608 - fixed enum values
        (member_id,))
    return _time(row[0]) if row else None


async def last_request_at_in(conn: Connection, member_id: int) -> datetime | None:
    """Return when the member last used /alertmods (in the server of this member row)."""
    row = await _one(conn, "SELECT max(created_at) FROM crisis_alerts WHERE member_id = ? AND source = 'request'",
                     (member_id,))
    return _time(row[0]) if row else None


async def last_nudge_at_in(conn: Connection, channel_id: int) -> datetime | None:
    """Return when a public /crisis nudge last went to a channel."""
    row = await _one(conn, "SELECT max(dm_at) FROM crisis_alerts WHERE channel_id = ? AND dm_status = 'nudged'",
                     (channel_id,))
    return _time(row[0]) if row else None


async def insert_alert_in(conn: Connection, alert: NewAlert, now: datetime) -> int:
    """Record an alert and return its id."""
    stamp = to_utc_text(now)
    alert_id = await conn.fetch_value(
        "INSERT INTO crisis_alerts (guild_id, member_id, source, channel_id, message_id, tier, path, need, "
        "rule_id, ruleset_version, modifiers, lang, pinged, prior_alerts, dm_status, dm_at, alert_channel_id, "
        "created_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING alert_id",
        (alert.guild_id, alert.member_id, alert.source.value, alert.channel_id, alert.message_id, alert.tier,
         alert.path, alert.need, alert.rule_id, alert.ruleset_version, "|".join(alert.modifiers), alert.lang,
         int(alert.pinged), alert.prior_alerts, alert.dm_status.value,
         stamp if alert.dm_status is DmStatus.PENDING else None, alert.alert_channel_id, stamp, stamp))
    return int(alert_id)


async def get_alert_in(conn: Connection, alert_id: int) -> CrisisAlert | None:
    """Return one alert, inside the caller's transaction."""
    row = await _one(conn, _SELECT_ALERT + "WHERE a.alert_id = ?", (alert_id,))
    return _alert(row) if row else None


async def bump_repeat_in(conn: Connection, alert_id: int, now: datetime) -> None:
    """Count one more matching message folded into an alert."""
    await conn.execute(
        "UPDATE crisis_alerts SET repeat_count = repeat_count + 1, last_seen_at = ?, version = version + 1 "
        "WHERE alert_id = ?",
        (to_utc_text(now), alert_id))


# -- repository -------------------------------------------------------------------------

class CrisisRepository:
    """Reads and writes `crisis_alerts` and `crisis_local_resources`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, alert_id: int) -> CrisisAlert | None:
        """Return one alert."""
        row = await self.db.fetch_one(_SELECT_ALERT + "WHERE a.alert_id = ?", (alert_id,))
        return _alert(row) if row else None

    async def set_alert_message(self, alert_id: int, message_id: int, shown_version: int) -> None:
        """Remember the posted alert's message id and the version it was rendered from."""
        await self.db.execute(
            "UPDATE crisis_alerts SET alert_message_id = ?, "
            "shown_version = CASE WHEN shown_version > ? THEN shown_version ELSE ? END WHERE alert_id = ?",
            (message_id, shown_version, shown_version, alert_id))

    async def mark_shown(self, alert_id: int, version: int) -> None:
        """Record that the posted alert now shows `version` (never going back to an older one)."""
        await self.db.execute(
            "UPDATE crisis_alerts SET shown_version = ? WHERE alert_id = ? AND shown_version < ?",
            (version, alert_id, version))

    async def set_dm_status(self, alert_id: int, status: DmStatus, now: datetime) -> None:
        """Record what happened to the member's DM."""
        await self.db.execute(
            "UPDATE crisis_alerts SET dm_status = ?, dm_at = ?, version = version + 1 WHERE alert_id = ?",
            (status.value, to_utc_text(now), alert_id))

    async def delete(self, alert_id: int) -> None:
        """Forget an alert that never reached the moderators."""
        await self.db.execute("DELETE FROM crisis_alerts WHERE alert_id = ?", (alert_id,))

    async def act(self, alert_id: int, action: AlertAction, actor_user_id: int,
                  now: datetime) -> tuple[CrisisAlert, bool] | None:
        """Apply a moderator's action; return the alert and whether it changed (None if unknown).

        Acknowledging an open alert, or closing (resolved / false alarm) one that is not
        closed yet, changes it; anything else is a repeat press and changes nothing.
        """
        stamp = to_utc_text(now)
        async with self.db.transaction() as conn:
            if action is AlertAction.ACK:
                changed = await conn.execute(
                    "UPDATE crisis_alerts SET status = 'acknowledged', acknowledged_by = ?, acknowledged_at = ?, "
                    "version = version + 1 WHERE alert_id = ? AND status = 'open'", (actor_user_id, stamp, alert_id))
            else:
                status = AlertStatus.RESOLVED if action is AlertAction.RESOLVE else AlertStatus.FALSE_ALARM
                changed = await conn.execute(
                    "UPDATE crisis_alerts SET status = ?, resolved_by = ?, resolved_at = ?, version = version + 1 "
                    "WHERE alert_id = ? AND status IN ('open', 'acknowledged')",
                    (status.value, actor_user_id, stamp, alert_id))
            alert = await get_alert_in(conn, alert_id)
        return None if alert is None else (alert, changed == 1)

    # -- regions ------------------------------------------------------------------------

    async def member_region(self, guild_id: int, user_id: int) -> str | None:
        """Return the country a member set in a server."""
        value = await self.db.fetch_value(
            "SELECT region FROM members WHERE guild_id = ? AND user_id = ?", (guild_id, user_id))
        return str(value) if value else None

    async def latest_region(self, user_id: int) -> str | None:
        """Return the country the user set in the server they used most recently (for DMs)."""
        value = await self.db.fetch_value(
            "SELECT region FROM members WHERE user_id = ? AND region IS NOT NULL "
            "ORDER BY last_active_at DESC LIMIT 1", (user_id,))
        return str(value) if value else None

    async def guild_region(self, guild_id: int) -> str | None:
        """Return a server's default country, if a moderator set one."""
        value = await self.db.fetch_value("SELECT region FROM guilds WHERE guild_id = ?", (guild_id,))
        return str(value) if value else None

    # -- local resources ------------------------------------------------------------------

    async def local_resources(self, guild_id: int) -> list[LocalResourceRow]:
        """Return a server's own resources, by country then name."""
        rows = await self.db.fetch_all(
            "SELECT * FROM crisis_local_resources WHERE guild_id = ? ORDER BY country, lower(name)",
            (guild_id,))
        return [_local(r) for r in rows]

    async def add_local_resource(self, guild_id: int, country: str, name: str, contact: str,
                                 now: datetime, *, limit: int) -> LocalResourceRow | None:
        """Add or update (same country and name) a server resource; None if the server is at `limit`."""
        stamp = to_utc_text(now)
        async with self.db.transaction() as conn:
            await conn.execute(
                "INSERT INTO guilds (guild_id, joined_at, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (guild_id) DO NOTHING", (guild_id, stamp, stamp))
            existing = await _one(
                conn, "SELECT resource_id FROM crisis_local_resources WHERE guild_id = ? AND country = ? "
                "AND lower(name) = ?", (guild_id, country, ascii_lower(name)))
            if existing is None:
                count = await _one(conn, "SELECT count(*) FROM crisis_local_resources WHERE guild_id = ?",
                                   (guild_id,))
                if count is not None and count[0] >= limit:
                    return None
                resource_id = await conn.fetch_value(
                    "INSERT INTO crisis_local_resources (guild_id, country, name, contact, created_at) "
                    "VALUES (?, ?, ?, ?, ?) RETURNING resource_id", (guild_id, country, name, contact, stamp))
            else:
                resource_id = existing[0]
                await conn.execute("UPDATE crisis_local_resources SET name = ?, contact = ? WHERE resource_id = ?",
                                   (name, contact, resource_id))
            row = await _one(conn, "SELECT * FROM crisis_local_resources WHERE resource_id = ?", (resource_id,))
        assert row is not None
        return _local(row)

    async def remove_local_resource(self, guild_id: int, resource_id: int) -> bool:
        """Remove one of a server's resources; return whether it existed."""
        return await self.db.execute(
            "DELETE FROM crisis_local_resources WHERE guild_id = ? AND resource_id = ?",
            (guild_id, resource_id)) == 1
