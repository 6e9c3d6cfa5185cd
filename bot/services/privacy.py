"""Data rights: export, confirmed deletion, and retention.

The export is one JSON document with a versioned schema (`EXPORT_FORMAT`): every row about
the member in this server, found by following foreign keys from their `members` row
(see `bot.db.privacy`), with other members shown by Discord id only. Deletion removes the
`members` row, which cascades to everything about them, cancels their scheduled work (the
outbox rows cascade too), lets features say goodbye first (buddies are told kindly) in the
same transaction, and then checkpoints the WAL so, with `secure_delete`, the deleted values
do not linger on disk.

The retention purge works in bounded batches, each its own short transaction, so commands
and other writers get the database between batches. Each batch re-checks, in the
transaction that deletes, that its members are still inactive and that nothing holds them
(a member who comes back mid-purge keeps their data). The schema is read once per purge
and the WAL checkpointed once at the end.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.config import SHIPPED_DATA, Config
from bot.db.database import Connection, Database
from bot.db.members import MemberRepository
from bot.db.outbox import FINISHED_KEPT, OutboxRepository
from bot.db.privacy import DeletionPlan, MemberRef, PrivacyRepository
from bot.domain.clock import Clock
from bot.domain.localtime import from_utc_text, to_utc_text
from bot.errors import ConflictError

log = logging.getLogger(__name__)

EXPORT_FORMAT = "kindred-export/1"
CONFIRM_WINDOW = timedelta(minutes=5)
DATA_STATEMENT = "data_statement.md"

# Members looked at per retention transaction: short enough that a command waiting for the
# writer barely notices, long enough that 10,000 members are not 10,000 commits.
PURGE_BATCH = 100

# Called in the deleting transaction, before a member's data is deleted (conn, guild_id,
# user_id): e.g. end buddy pairs kindly. It writes through `conn` and opens no transaction.
ForgetHook = Callable[[Connection, int, int], Awaitable[None]]
# Given inactive members' ids, returns those whose data a feature still serves them with.
RetentionHold = Callable[[list[int]], Awaitable[set[int]]]
# Given members' ids, returns those a forget hook has something to do for.
MemberFilter = Callable[[list[int]], Awaitable[set[int]]]


@dataclass(frozen=True, slots=True)
class ExportFile:
    """A finished export."""

    filename: str
    data: bytes
    row_count: int


def data_statement(path: Path = SHIPPED_DATA / DATA_STATEMENT) -> str:
    """Return the data statement shown by `/privacy info` (the shipped one is also in the README)."""
    return path.read_text(encoding="utf-8")


class PrivacyService:
    """Export, delete and retention for member data."""

    def __init__(self, db: Database, privacy: PrivacyRepository, members: MemberRepository,
                 outbox: OutboxRepository, clock: Clock, config: Config) -> None:
        self.db = db
        self.privacy = privacy
        self.members = members
        self.outbox = outbox
        self.clock = clock
        self.config = config
        # Read once at start-up: a missing or unreadable file stops the start, not /privacy info.
        self._statement = data_statement(config.data_file(DATA_STATEMENT))
        self._forget_hooks: list[tuple[ForgetHook, MemberFilter | None]] = []
        self._holds: list[RetentionHold] = []

    def data_statement(self) -> str:
        """Return the data statement `/privacy info` shows (the server's own copy if it has one)."""
        return self._statement

    def hold_while(self, hold: RetentionHold) -> None:
        """Keep inactive members `hold(member_ids)` returns (e.g. a counter still counting for them).

        The purge asks inside the transaction that deletes, so a hold reads (through the
        repositories, which then read through that transaction) and never writes.
        """
        self._holds.append(hold)

    def before_forget(self, hook: ForgetHook, *, only_for: MemberFilter | None = None) -> None:
        """Run `hook(conn, guild_id, user_id)` in the deleting transaction, before a member's data goes.

        With `only_for`, only for the members it returns (asked once per batch): most members
        a purge deletes have nothing to say goodbye to, and a hook per member is a cost per member.
        """
        self._forget_hooks.append((hook, only_for))

    async def export(self, guild_id: int, user_id: int) -> ExportFile:
        """Build the member's export for this server."""
        member = await self.members.get(guild_id, user_id)
        tables = await self.privacy.export(member.member_id) if member else {}
        document: dict[str, Any] = {
            "format": EXPORT_FORMAT,
            "generated_at": to_utc_text(self.clock.now()),
            "guild_id": str(guild_id),
            "user_id": str(user_id),
            "schema_version": await self.db.schema_version(),
            "about": "Every row Kindred stores about you in this server, table by table. "
                     "Times are UTC; local dates are in the time zone stored beside them. "
                     "Other members appear by Discord id only.",
            "tables": tables,
        }
        data = json.dumps(document, ensure_ascii=False, indent=2, default=str).encode("utf-8")
        rows = sum(len(rows) for rows in tables.values())
        log.info("export built (guild=%s, %d rows)", guild_id, rows)
        return ExportFile(f"kindred-export-{guild_id}-{user_id}.json", data, rows)

    async def request_delete(self, guild_id: int, user_id: int) -> datetime | None:
        """Record a deletion request awaiting confirmation; return when it expires (None: nothing stored)."""
        member = await self.members.get(guild_id, user_id)
        if member is None:
            return None
        now = self.clock.now()
        expires = now + CONFIRM_WINDOW
        await self.db.execute(
            "INSERT INTO privacy_delete_requests (member_id, requested_at, expires_at) VALUES (?, ?, ?) "
            "ON CONFLICT (member_id) DO UPDATE SET requested_at = excluded.requested_at, "
            "expires_at = excluded.expires_at",
            (member.member_id, to_utc_text(now), to_utc_text(expires)))
        return expires

    async def confirm_delete(self, guild_id: int, user_id: int) -> None:
        """Delete everything about the member if they asked within the confirmation window."""
        member = await self.members.get(guild_id, user_id)
        expires = None
        if member is not None:
            value = await self.db.fetch_value(
                "SELECT expires_at FROM privacy_delete_requests WHERE member_id = ?", (member.member_id,))
            expires = from_utc_text(value) if value else None
        if member is None or expires is None:
            raise ConflictError("There's no deletion waiting for your confirmation. "
                                "Use `/privacy delete` to start one.")
        if self.clock.now() > expires:
            raise ConflictError("That confirmation has expired, so nothing was deleted. "
                                "Use `/privacy delete` again if you still want to.")
        await self.forget(guild_id, user_id)

    async def forget(self, guild_id: int, user_id: int) -> bool:
        """Delete every row about a member in a server; return whether there was any."""
        member = await self.members.get(guild_id, user_id)
        if member is None:
            return False
        plan = await self.privacy.deletion_plan()
        async with self.db.transaction() as conn:
            gone = [MemberRef(member.member_id, guild_id, user_id)]
            await self._say_goodbye(conn, gone)
            await self.privacy.delete_members(conn, gone, plan)
        await self.db.checkpoint()
        log.info("deleted all data of one member (guild=%s)", guild_id)
        return True

    async def _say_goodbye(self, conn: Connection, members: list[MemberRef]) -> None:
        for hook, only_for in self._forget_hooks:
            # (Filters read through this task's transaction, so they see it as it is now.)
            wanted = None if only_for is None else await only_for([m.member_id for m in members])
            for member in members:
                if wanted is not None and member.member_id not in wanted:
                    continue
                # Each goodbye in a savepoint: one that cannot be said is undone whole and,
                # since it must not keep the data alive, the deletion goes ahead.
                await conn.execute("SAVEPOINT goodbye")
                try:
                    await hook(conn, member.guild_id, member.user_id)
                except Exception:
                    await conn.execute("ROLLBACK TO goodbye")
                    log.exception("forget hook failed (guild=%s)", member.guild_id)
                await conn.execute("RELEASE goodbye")

    async def purge(self, now: datetime) -> int:
        """Apply retention: inactive members, servers left long ago, old outbox records."""
        plan = await self.privacy.deletion_plan()
        deleted = 0
        cutoff = now - timedelta(days=self.config.privacy.retention_days)
        after = 0
        while batch := await self.privacy.members_inactive_since(cutoff, after_member_id=after, limit=PURGE_BATCH):
            after = batch[-1][0]
            deleted += await self._purge_batch([member_id for member_id, _, _ in batch], cutoff, plan)
        left_days = self.config.privacy.left_guild_days
        left_cutoff = now - timedelta(days=left_days)
        for guild_id in await self.privacy.guilds_left_before(left_cutoff):
            # A big server's rows go a batch of members at a time, then the server's own.
            while await self.privacy.delete_left_guild_members(guild_id, left_cutoff, PURGE_BATCH) == PURGE_BATCH:
                pass
            if await self.privacy.delete_left_guild(guild_id, left_cutoff):
                deleted += 1
                log.info("purged guild %s (left more than %d days ago)", guild_id, left_days)
        await self.db.execute("DELETE FROM privacy_delete_requests WHERE expires_at < ?", (to_utc_text(now),))
        await self.outbox.purge_finished(now - FINISHED_KEPT)
        if deleted:
            await self.db.checkpoint()
        return deleted

    async def _purge_batch(self, member_ids: list[int], cutoff: datetime, plan: DeletionPlan) -> int:
        """Delete those of these members who are, checked again now, inactive and not held; return how many."""
        async with self.db.transaction() as conn:
            # Decided again under the write lock: a member who used the bot since the scan,
            # or whom a feature now holds, stays. (Holds read through this transaction.)
            members = await self.privacy.still_inactive(conn, member_ids, cutoff)
            held: set[int] = set()
            for hold in self._holds:
                held |= await hold([m.member_id for m in members])
            gone = [m for m in members if m.member_id not in held]
            await self._say_goodbye(conn, gone)
            deleted = await self.privacy.delete_members(conn, gone, plan)
        if deleted:
            log.info("retention: deleted %d inactive member(s)", deleted)
        return deleted
