"""Relapse-prevention plans and urges: SQL only."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from bot.db.database import Connection, Database, Row
from bot.db.plans import Plan
from bot.domain.coping import CheckBack, PlanPart, RelapsePlan, Urge
from bot.domain.localtime import from_utc_text, to_utc_text

_PLAN_COLUMNS = ", ".join(p.value for p in PlanPart)


def _plan(row: Row) -> RelapsePlan:
    return RelapsePlan(member_id=row["member_id"], warning_signs=row["warning_signs"], triggers=row["triggers"],
                       coping=row["coping"], people=row["people"], reasons=row["reasons"],
                       updated_at=from_utc_text(row["updated_at"]))


def _instant(text: str | None) -> datetime | None:
    return from_utc_text(text) if text else None


def _urge(row: Row) -> Urge:
    return Urge(urge_id=row["urge_id"], member_id=row["member_id"], strength_before=row["strength_before"],
                strength_after=row["strength_after"], minutes=row["minutes"],
                created_at=from_utc_text(row["created_at"]), checkback=CheckBack(row["checkback"]),
                checkback_due_at=_instant(row["checkback_due_at"]), answered_at=_instant(row["answered_at"]))


@dataclass(frozen=True, slots=True)
class OwnedUrge:
    """An urge with the Discord ids of the member it belongs to."""

    urge: Urge
    guild_id: int
    user_id: int
    guild_left: bool  # the bot has left the server


def _owned(row: Row) -> OwnedUrge:
    return OwnedUrge(_urge(row), row["guild_id"], row["user_id"], row["left_at"] is not None)


_OWNED = ("SELECT u.*, m.guild_id, m.user_id, g.left_at FROM urges u JOIN members m USING (member_id) "
          "JOIN guilds g ON g.guild_id = m.guild_id ")


class CopingRepository:
    """Reads and writes `relapse_plans` and `urges`.

    Methods taking `conn` run inside the caller's `db.transaction()`.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- plans ------------------------------------------------------------------------------

    async def plan_of(self, guild_id: int, user_id: int) -> RelapsePlan | None:
        """Return a member's plan in a server (a read: nobody is marked active)."""
        row = await self.db.fetch_one(
            "SELECT p.* FROM relapse_plans p JOIN members m USING (member_id) "
            "WHERE m.guild_id = ? AND m.user_id = ?", (guild_id, user_id))
        return _plan(row) if row else None

    async def latest_plan_of_user(self, user_id: int) -> RelapsePlan | None:
        """Return the user's most recently saved plan in any server (for `/crisis` in DMs)."""
        row = await self.db.fetch_one(
            "SELECT p.* FROM relapse_plans p JOIN members m USING (member_id) "
            "WHERE m.user_id = ? ORDER BY p.updated_at DESC LIMIT 1", (user_id,))
        return _plan(row) if row else None

    @staticmethod
    def plan_exists_plan(member_id: int) -> Plan[bool]:
        """Whether a member has a plan, as a statement plan (`bot.db.plans`) for one-trip transactions."""
        rows = yield "SELECT 1 FROM relapse_plans WHERE member_id = ?", (member_id,)
        return bool(rows)

    @staticmethod
    async def save_plan(conn: Connection, member_id: int, parts: Mapping[PlanPart, str | None],
                        now: datetime) -> RelapsePlan | None:
        """Store the plan as given (every part replaced); an all-empty plan deletes the row. Return it."""
        if not any(parts.get(p) for p in PlanPart):
            await conn.execute("DELETE FROM relapse_plans WHERE member_id = ?", (member_id,))
            return None
        stamp = to_utc_text(now)
        values = {p.value: parts.get(p) or None for p in PlanPart}
        rows = await conn.fetch_all(
            f"INSERT INTO relapse_plans (member_id, {_PLAN_COLUMNS}, created_at, updated_at) "  # noqa: S608 - fixed names
            "VALUES (:member_id, :warning_signs, :triggers, :coping, :people, :reasons, :now, :now) "
            "ON CONFLICT (member_id) DO UPDATE SET warning_signs = excluded.warning_signs, "
            "triggers = excluded.triggers, coping = excluded.coping, people = excluded.people, "
            "reasons = excluded.reasons, updated_at = excluded.updated_at RETURNING *",
            {"member_id": member_id, "now": stamp, **values})
        return _plan(rows[0])

    # -- urges ------------------------------------------------------------------------------

    @staticmethod
    async def insert_urge(conn: Connection, *, member_id: int, strength: int | None, minutes: int,
                          now: datetime, due: datetime) -> Urge:
        """Record an urge with its check-back scheduled at `due`."""
        rows = await conn.fetch_all(
            "INSERT INTO urges (member_id, strength_before, minutes, created_at, checkback_due_at) "
            "VALUES (?, ?, ?, ?, ?) RETURNING *",
            (member_id, strength, minutes, to_utc_text(now), to_utc_text(due)))
        return _urge(rows[0])

    async def owned(self, urge_id: int) -> OwnedUrge | None:
        """Return an urge with its owner's ids, or None if it is gone (deleted with its member)."""
        row = await self.db.fetch_one(_OWNED + "WHERE u.urge_id = ?", (urge_id,))
        return _owned(row) if row else None

    async def checkback_dm_closed(self, urge_id: int) -> bool:
        """Withdraw a check-back not decided on yet because DMs to the member are refused; True if it was."""
        return await self.db.execute(
            "UPDATE urges SET checkback = 'dm_closed', checkback_due_at = NULL "
            "WHERE urge_id = ? AND checkback = 'scheduled'", (urge_id,)) == 1

    @staticmethod
    async def due_checkbacks(conn: Connection, now: datetime, limit: int) -> list[OwnedUrge]:
        """Return urges whose check-back is due, oldest first (inside the claiming transaction).

        The urge rows are locked until the transaction ends; rows another process holds are
        skipped (it is handling them).
        """
        rows = await conn.fetch_all(
            _OWNED + f"WHERE u.checkback_due_at IS NOT NULL AND u.checkback_due_at <= ?{conn.mine('m.guild_id')} "
            "ORDER BY u.checkback_due_at, u.urge_id LIMIT ? FOR UPDATE OF u SKIP LOCKED", (to_utc_text(now), limit))
        return [_owned(r) for r in rows]

    @staticmethod
    async def decide_checkback(conn: Connection, urge_id: int, outcome: CheckBack) -> None:
        """Record what became of a due check-back (queued or skipped); it is never decided on again."""
        await conn.execute("UPDATE urges SET checkback = ?, checkback_due_at = NULL WHERE urge_id = ?",
                           (outcome.value, urge_id))

    async def earliest_checkback_due(self) -> datetime | None:
        """Return the earliest check-back not decided on yet (for health checks)."""
        if self.db.shards is None:
            return await self.db.fetch_instant(
                "SELECT min(checkback_due_at) FROM urges WHERE checkback_due_at IS NOT NULL")
        return await self.db.fetch_instant(
            "SELECT min(u.checkback_due_at) FROM urges u JOIN members m USING (member_id) "  # noqa: S608
            f"WHERE u.checkback_due_at IS NOT NULL{self.db.mine('m.guild_id')}")

    async def record_after(self, urge_id: int, member_id: int, strength: int, now: datetime) -> Urge | None:
        """Store how strong the urge is now (a later answer replaces an earlier one); None if not theirs."""
        async with self.db.transaction() as conn:
            rows = await conn.fetch_all(
                "UPDATE urges SET strength_after = ?, answered_at = ? WHERE urge_id = ? AND member_id = ? "
                "RETURNING *", (strength, to_utc_text(now), urge_id, member_id))
        return _urge(rows[0]) if rows else None

    async def strengths_between(self, member_id: int, start: datetime, end: datetime) -> list[tuple[int | None, int | None]]:
        """Return (before, after) of a member's urges begun in [start, end)."""
        rows = await self.db.fetch_all(
            "SELECT strength_before, strength_after FROM urges WHERE member_id = ? AND created_at >= ? "
            "AND created_at < ? ORDER BY created_at", (member_id, to_utc_text(start), to_utc_text(end)))
        return [(r["strength_before"], r["strength_after"]) for r in rows]

    async def urges_in_guild(self, guild_id: int, start: datetime, end: datetime) -> list[tuple[int, datetime]]:
        """Return (member id, when) of every urge begun in a server in [start, end) (the pulse counts them)."""
        rows = await self.db.fetch_all(
            "SELECT u.member_id, u.created_at FROM urges u JOIN members m USING (member_id) "
            "WHERE m.guild_id = ? AND u.created_at >= ? AND u.created_at < ?",
            (guild_id, to_utc_text(start), to_utc_text(end)))
        return [(r["member_id"], from_utc_text(r["created_at"])) for r in rows]
