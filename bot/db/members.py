"""Member rows and their personal settings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.db.database import Connection, Database, Row
from bot.db.guilds import _to_sql
from bot.db.plans import Plan, run_async
from bot.domain.localtime import from_utc_text, parse_hhmm, to_utc_text
from bot.domain.settings import DM_CLOSED_FOR, MemberSettings, ShareCheckins

MEMBER_SETTING_COLUMNS = frozenset({
    "timezone", "region", "quiet_start", "quiet_end", "crisis_replies", "share_checkins",
})


def member_from_row(row: Row) -> MemberSettings:
    """Build a MemberSettings value from a `members` row."""
    return MemberSettings(
        member_id=row["member_id"],
        guild_id=row["guild_id"],
        user_id=row["user_id"],
        timezone=row["timezone"],
        region=row["region"],
        quiet_start=parse_hhmm(row["quiet_start"]) if row["quiet_start"] else None,
        quiet_end=parse_hhmm(row["quiet_end"]) if row["quiet_end"] else None,
        crisis_replies=bool(row["crisis_replies"]),
        share_checkins=ShareCheckins(row["share_checkins"]),
        dm_closed_at=from_utc_text(row["dm_closed_at"]) if row["dm_closed_at"] else None,
        created_at=from_utc_text(row["created_at"]),
        last_active_at=from_utc_text(row["last_active_at"]),
    )


# The closed-DM mark belongs to the user, not to one server: every `members` row of a user
# carries the same `dm_closed_at`. A refusal marks them all (`mark_dm_closed`), using the
# bot in any server clears them all, and a row added without use inherits the mark.
# The member row is written only while the server's row exists (it is created first when it
# does not), so the usual case is one statement and no failed statement to recover from.
_MARK_ACTIVE = (
    "INSERT INTO members (guild_id, user_id, created_at, last_active_at) "
    "SELECT CAST(:guild_id AS BIGINT), CAST(:user_id AS BIGINT), CAST(:now AS TEXT), CAST(:now AS TEXT) "
    "WHERE EXISTS (SELECT 1 FROM guilds WHERE guild_id = :guild_id) "
    "ON CONFLICT (guild_id, user_id) DO UPDATE SET last_active_at = excluded.last_active_at, dm_closed_at = NULL "
    # Whether another server's row still carries the mark (then it is cleared there too): known
    # from the same round trip, so the usual case costs nothing more.
    "RETURNING *, EXISTS (SELECT 1 FROM members o WHERE o.user_id = members.user_id "
    "AND o.member_id != members.member_id AND o.dm_closed_at IS NOT NULL) AS marked_elsewhere"
)
_ENSURE_ONLY = (
    "INSERT INTO members (guild_id, user_id, created_at, last_active_at, dm_closed_at) "
    "SELECT CAST(:guild_id AS BIGINT), CAST(:user_id AS BIGINT), CAST(:now AS TEXT), CAST(:now AS TEXT), "
    "(SELECT max(o.dm_closed_at) FROM members o WHERE o.user_id = :user_id) "
    "WHERE EXISTS (SELECT 1 FROM guilds WHERE guild_id = :guild_id) "
    "ON CONFLICT (guild_id, user_id) DO NOTHING RETURNING *"
)
_SELECT = "SELECT * FROM members WHERE guild_id = ? AND user_id = ?"
_LIFT_MARK = "UPDATE members SET dm_closed_at = NULL WHERE user_id = ? AND dm_closed_at IS NOT NULL"


async def touch_in(conn: Connection, guild_id: int, user_id: int, now: datetime, *,
                   active: bool = True) -> MemberSettings:
    """Return a member's row inside the caller's transaction, creating it (and the server's).

    With `active` (the member used the bot) it also marks them active and lifts a closed-DM
    mark, in every server. Without it — being asked to be a buddy, a message seen by
    detection — nothing about their activity changes: that is not using the bot, and lifting
    the mark would make us retry a refused DM.
    """
    return await run_async(conn, touch_plan(guild_id, user_id, now, active=active))


def touch_plan(guild_id: int, user_id: int, now: datetime, *, active: bool = True) -> Plan[MemberSettings]:
    """`touch_in` as a plan (`bot.db.plans`), for transactions run in one trip to the database thread."""
    stamp = to_utc_text(now)
    # Every command runs this: one statement usually (two for a member seen before without
    # using the bot, three or four for a server's first member).
    upsert = _MARK_ACTIVE if active else _ENSURE_ONLY
    params = {"guild_id": guild_id, "user_id": user_id, "now": stamp}
    rows = yield upsert, params
    if not rows and not active:  # DO NOTHING returns nothing: the member may be there already
        rows = yield _SELECT, (guild_id, user_id)
    if not rows:  # the server has no row yet: add it, then the member
        yield ("INSERT INTO guilds (guild_id, joined_at, updated_at) VALUES (?, ?, ?) "
               "ON CONFLICT (guild_id) DO NOTHING", (guild_id, stamp, stamp))
        rows = yield upsert, params
    if active and rows[0]["marked_elsewhere"]:
        yield _LIFT_MARK, (user_id,)
    return member_from_row(rows[0])


class MemberRepository:
    """Reads and writes `members`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, guild_id: int, user_id: int) -> MemberSettings | None:
        """Return a member's settings in a server, or None if they never used the bot there."""
        row = await self.db.fetch_one(
            "SELECT * FROM members WHERE guild_id = ? AND user_id = ?", (guild_id, user_id))
        return member_from_row(row) if row else None

    async def get_by_id(self, member_id: int) -> MemberSettings | None:
        """Return a member by surrogate id."""
        row = await self.db.fetch_one("SELECT * FROM members WHERE member_id = ?", (member_id,))
        return member_from_row(row) if row else None

    async def touch(self, guild_id: int, user_id: int, now: datetime) -> MemberSettings:
        """Create the member on first use, mark them active, and clear a closed-DM mark.

        Using the bot again is the signal that a member may accept DMs again, so the
        closed-DM mark (which stops retries) is lifted here.
        """
        async with self.db.transaction() as conn:
            return await touch_in(conn, guild_id, user_id, now)

    async def update(self, guild_id: int, user_id: int, **values: Any) -> MemberSettings:
        """Change some of a member's settings (the member must exist)."""
        unknown = set(values) - MEMBER_SETTING_COLUMNS
        if unknown:
            raise ValueError(f"not member setting columns: {sorted(unknown)}")
        assignments = ", ".join(f"{column} = :{column}" for column in values)
        params = {k: _to_sql(v) for k, v in values.items()} | {"guild_id": guild_id, "user_id": user_id}
        await self.db.execute(
            f"UPDATE members SET {assignments} WHERE guild_id = :guild_id AND user_id = :user_id",  # noqa: S608 - columns allow-listed above
            params,
        )
        result = await self.get(guild_id, user_id)
        if result is None:
            raise LookupError((guild_id, user_id))
        return result

    async def mark_dm_closed(self, user_id: int, now: datetime) -> None:
        """Record that DMs to this user fail, in every server, so nothing retries them for a while."""
        await self.db.execute("UPDATE members SET dm_closed_at = ? WHERE user_id = ?", (to_utc_text(now), user_id))

    async def dm_closed(self, user_id: int, now: datetime) -> bool:
        """Tell whether DMs to this user are known to fail at `now` (a mark expires after `DM_CLOSED_FOR`)."""
        value = await self.db.fetch_value(
            "SELECT 1 FROM members WHERE user_id = ? AND dm_closed_at > ? LIMIT 1",
            (user_id, to_utc_text(now - DM_CLOSED_FOR)))
        return value is not None
