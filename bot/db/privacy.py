"""Everything stored about a member, found from the schema itself.

Export and delete do not keep a hand-written list of tables. They follow the foreign
keys: a row is "about" a member when it references their `members` row, directly or
through a chain of foreign keys (a slip → its period → its counter → the member).
Deleting the `members` row removes all of them through `ON DELETE CASCADE`. A new table
that holds member data without such a chain shows up in `unlinked_tables()`, and a test
fails until it is linked to `members`, or to `guilds` if it holds server configuration
(then it must not name members by user id).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.db.database import Connection, Database, ForeignKey, Row, quote_ident
from bot.db.outbox import cancel_naming_in
from bot.domain.localtime import to_utc_text

# Columns that may name a member by Discord id in a row that is not about them
# (e.g. the moderator who acknowledged an alert). On delete they are cleared.
ACTOR_COLUMN_SUFFIXES = ("_by_user_id", "acknowledged_by", "resolved_by", "actor_user_id")
# Tables about the running process, not about anyone: they may have no id columns at all.
OPERATIONAL_TABLES = frozenset({"sweep_health"})


@dataclass(frozen=True, slots=True)
class ActorColumn:
    """A column naming a member by Discord id in rows that are not about them (cleared on delete)."""

    table: str
    column: str
    per_server: bool  # the table has `guild_id`: clear it only in the member's server


@dataclass(frozen=True, slots=True)
class DeletionPlan:
    """What deleting members involves besides their `members` rows, read from the schema once."""

    actor_columns: tuple[ActorColumn, ...]


@dataclass(frozen=True, slots=True)
class MemberRef:
    """A member to delete: the row and the Discord ids that name them elsewhere."""

    member_id: int
    guild_id: int
    user_id: int


class PrivacyRepository:
    """Schema-driven export, deletion and retention queries."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def tables(self) -> list[str]:
        """Return every application table."""
        return await self.db.tables()

    async def columns(self, table: str) -> list[str]:
        """Return a table's column names."""
        return await self.db.columns(table)

    async def foreign_keys(self) -> list[ForeignKey]:
        """Return every foreign key in the schema."""
        keys = []
        for table in await self.tables():
            keys += await self.db.foreign_keys(table)
        return keys

    async def member_linked_tables(self) -> dict[str, list[ForeignKey]]:
        """Return tables reachable from `members` by foreign keys, with the keys that reach them."""
        return await self._linked_from("members")

    async def guild_linked_tables(self) -> dict[str, list[ForeignKey]]:
        """Return tables reachable from `guilds` by foreign keys (deleted with the server)."""
        return await self._linked_from("guilds")

    async def _linked_from(self, root: str) -> dict[str, list[ForeignKey]]:
        keys = await self.foreign_keys()
        linked: dict[str, list[ForeignKey]] = defaultdict(list)
        reached = {root}
        changed = True
        while changed:
            changed = False
            for key in keys:
                if key.parent in reached and key not in linked[key.table]:
                    linked[key.table].append(key)
                    if key.table not in reached:
                        reached.add(key.table)
                    changed = True
        return {t: ks for t, ks in linked.items() if t != root}

    async def unlinked_tables(self) -> list[str]:
        """Return tables that neither member deletion nor server purge would reach."""
        members = await self.member_linked_tables()
        guilds = await self.guild_linked_tables()
        return [t for t in await self.tables()
                if t not in members and t not in guilds and t not in ("members", "guilds")
                and t not in OPERATIONAL_TABLES]

    async def operational_tables_with_ids(self) -> list[str]:
        """Return operational tables that have an id column (which could name a member or server)."""
        return [t for t in sorted(OPERATIONAL_TABLES)
                if any(c.endswith("_id") or c in ("user", "member", "guild") for c in await self.columns(t))]

    async def server_tables_naming_members(self) -> list[str]:
        """Return server-level tables with user-id columns: member data that export would miss."""
        members = await self.member_linked_tables()
        guilds = await self.guild_linked_tables()
        found = []
        for table in guilds:
            if table in members or table == "members":
                continue
            columns = await self.columns(table)
            if any(c.endswith("user_id") and not c.endswith(ACTOR_COLUMN_SUFFIXES) for c in columns):
                found.append(table)
        return found

    async def non_cascading_keys(self) -> list[ForeignKey]:
        """Return foreign keys that would keep a deleted member's or server's id (not CASCADE/SET NULL)."""
        keys = [k for ks in (await self.member_linked_tables()).values() for k in ks]
        keys += [k for ks in (await self.guild_linked_tables()).values() for k in ks]
        return sorted({k for k in keys if k.on_delete.upper() not in ("CASCADE", "SET NULL")}, key=lambda k: (k.table, k.column))

    async def export(self, member_id: int) -> dict[str, list[dict[str, Any]]]:
        """Return every row about a member, table by table (other members by Discord id only)."""
        member = await self.db.fetch_all("SELECT * FROM members WHERE member_id = ?", (member_id,))
        if not member:
            return {}
        linked = await self.member_linked_tables()
        # Rows are told apart (and listed) by their primary key.
        primary_keys = {table: await self.db.primary_key(table) for table in linked}
        found: dict[str, dict[tuple[Any, ...], Row]] = {"members": {(member_id,): member[0]}}
        changed = True
        while changed:
            changed = False
            for table, keys in linked.items():
                for key in keys:
                    values = _parent_values(found, key)
                    if not values:
                        continue
                    marks = ",".join("?" * len(values))
                    rows = await self.db.fetch_all(
                        f"SELECT * FROM {quote_ident(table)} WHERE {quote_ident(key.column)} IN ({marks})",  # noqa: S608 - identifiers from the schema
                        tuple(values))
                    bucket = found.setdefault(table, {})
                    for row in rows:
                        row_key = tuple(row[c] for c in primary_keys[table])
                        if row_key not in bucket:
                            bucket[row_key] = row
                            changed = True
        user_ids = await self._user_ids_for(found, linked)
        result: dict[str, list[dict[str, Any]]] = {}
        for table, by_key in sorted(found.items()):
            if not by_key:
                continue
            member_columns = {k.column for k in linked.get(table, []) if k.parent == "members"}
            result[table] = [
                _public_row(row, member_columns, member_id, user_ids) for _, row in sorted(by_key.items())
            ]
        return result

    async def _user_ids_for(self, found: dict[str, dict[tuple[Any, ...], Row]],
                            linked: dict[str, list[ForeignKey]]) -> dict[int, int]:
        ids: set[int] = set()
        for table, keys in linked.items():
            for key in keys:
                if key.parent == "members":
                    ids.update(r[key.column] for r in found.get(table, {}).values() if r[key.column] is not None)
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = await self.db.fetch_all(
            f"SELECT member_id, user_id FROM members WHERE member_id IN ({marks})", tuple(ids))  # noqa: S608
        return {r["member_id"]: r["user_id"] for r in rows}

    async def deletion_plan(self) -> DeletionPlan:
        """Read from the schema what deleting members involves (once per purge, not per member)."""
        found = []
        for table in await self.tables():
            columns = await self.columns(table)
            found += [ActorColumn(table, c, "guild_id" in columns) for c in columns if c.endswith(ACTOR_COLUMN_SUFFIXES)]
        return DeletionPlan(tuple(found))

    @staticmethod
    async def delete_members(conn: Connection, members: Sequence[MemberRef], plan: DeletionPlan) -> int:
        """Delete members' rows (cascading to everything about them), clear actor columns and withdraw
        unsent messages to others that name them, in the caller's transaction.

        A statement per table for the whole batch, not per member. Returns how many were deleted.
        """
        if not members:
            return 0
        marks = ",".join("?" * len(members))
        deleted = await conn.execute(f"DELETE FROM members WHERE member_id IN ({marks})",  # noqa: S608 - placeholders only
                                     tuple(m.member_id for m in members))
        for member in members:
            await cancel_naming_in(conn, member.guild_id, member.user_id)
        by_guild: dict[int, list[int]] = defaultdict(list)
        for member in members:
            by_guild[member.guild_id].append(member.user_id)
        for actor in plan.actor_columns:
            table, column = quote_ident(actor.table), quote_ident(actor.column)
            if actor.per_server:
                for guild_id, user_ids in by_guild.items():
                    await conn.execute(
                        f"UPDATE {table} SET {column} = NULL WHERE guild_id = ? "  # noqa: S608
                        f"AND {column} IN ({','.join('?' * len(user_ids))})", (guild_id, *user_ids))
            else:
                await conn.execute(f"UPDATE {table} SET {column} = NULL WHERE {column} IN ({marks})",  # noqa: S608
                                   tuple(m.user_id for m in members))
        return deleted

    async def members_inactive_since(self, cutoff: datetime, *, after_member_id: int = 0,
                                     limit: int = 500) -> list[tuple[int, int, int]]:
        """Return (member_id, guild_id, user_id) of members not active since `cutoff`, by member id."""
        rows = await self.db.fetch_all(
            "SELECT member_id, guild_id, user_id FROM members WHERE last_active_at < ? AND member_id > ? "
            "ORDER BY member_id LIMIT ?", (to_utc_text(cutoff), after_member_id, limit))
        return [(r["member_id"], r["guild_id"], r["user_id"]) for r in rows]

    @staticmethod
    async def still_inactive(conn: Connection, member_ids: Sequence[int],
                             cutoff: datetime) -> list[MemberRef]:
        """Return, inside the deleting transaction, which of these members are still inactive since `cutoff`."""
        if not member_ids:
            return []
        marks = ",".join("?" * len(member_ids))
        rows = await conn.fetch_all(
            f"SELECT member_id, guild_id, user_id FROM members WHERE member_id IN ({marks}) "  # noqa: S608
            "AND last_active_at < ? ORDER BY member_id", (*member_ids, to_utc_text(cutoff)))
        return [MemberRef(r["member_id"], r["guild_id"], r["user_id"]) for r in rows]

    async def guilds_left_before(self, cutoff: datetime) -> list[int]:
        """Return servers the bot left before `cutoff`."""
        rows = await self.db.fetch_all(
            "SELECT guild_id FROM guilds WHERE left_at IS NOT NULL AND left_at < ?", (to_utc_text(cutoff),))
        return [r["guild_id"] for r in rows]

    async def delete_left_guild_members(self, guild_id: int, cutoff: datetime, limit: int) -> int:
        """Delete up to `limit` members of a server the bot left before `cutoff` (and is still gone from)."""
        return await self.db.execute(
            "DELETE FROM members WHERE member_id IN (SELECT m.member_id FROM members m JOIN guilds g USING (guild_id) "
            "WHERE g.guild_id = ? AND g.left_at IS NOT NULL AND g.left_at < ? LIMIT ?)",
            (guild_id, to_utc_text(cutoff), limit))

    async def delete_left_guild(self, guild_id: int, cutoff: datetime) -> bool:
        """Delete a server the bot left before `cutoff`, and everything stored in it, unless it came back."""
        return await self.db.execute(
            "DELETE FROM guilds WHERE guild_id = ? AND left_at IS NOT NULL AND left_at < ?",
            (guild_id, to_utc_text(cutoff))) > 0


def _parent_values(found: dict[str, dict[tuple[Any, ...], Row]], key: ForeignKey) -> set[Any]:
    rows = found.get(key.parent, {})
    return {r[key.parent_column] for r in rows.values() if r[key.parent_column] is not None}


def _public_row(row: Row, member_columns: set[str], subject: int, user_ids: dict[int, int]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in row.keys():  # noqa: SIM118 - sqlite3.Row is not a mapping
        value = row[name]
        if name in member_columns and value is not None:
            # Internal member ids mean nothing outside this database: show Discord ids.
            out[name.removesuffix("_id") + "_user_id" if name.endswith("member_id") else name] = (
                "you" if value == subject else user_ids.get(value))
            continue
        out[name] = value
    return out

