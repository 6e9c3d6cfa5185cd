"""Data rights: export, confirmed deletion, and retention.

The export is one JSON document with a versioned schema (`EXPORT_FORMAT`): every row about
the member in this server, found by following foreign keys from their `members` row
(see `bot.db.privacy`), with other members shown by Discord id only. Deletion removes the
`members` row, which cascades to everything about them, cancels their scheduled work (the
outbox rows cascade too), lets features say goodbye first (buddies are told kindly), and
then checkpoints the WAL so, with `secure_delete`, the deleted values do not linger on disk.
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
from bot.db.database import Database
from bot.db.members import MemberRepository
from bot.db.outbox import OutboxRepository
from bot.db.privacy import PrivacyRepository
from bot.domain.clock import Clock
from bot.domain.localtime import from_utc_text, to_utc_text
from bot.errors import ConflictError

log = logging.getLogger(__name__)

EXPORT_FORMAT = "kindred-export/1"
CONFIRM_WINDOW = timedelta(minutes=5)
DATA_STATEMENT = "data_statement.md"

# Called before a member's data is deleted (guild_id, user_id): e.g. end buddy pairs kindly.
ForgetHook = Callable[[int, int], Awaitable[None]]
# Given inactive members' ids, returns those whose data a feature still serves them with.
RetentionHold = Callable[[list[int]], Awaitable[set[int]]]


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
        self._forget_hooks: list[ForgetHook] = []
        self._holds: list[RetentionHold] = []

    def data_statement(self) -> str:
        """Return the data statement `/privacy info` shows (the server's own copy if it has one)."""
        return self._statement

    def hold_while(self, hold: RetentionHold) -> None:
        """Keep inactive members `hold(member_ids)` returns (e.g. a counter still counting for them)."""
        self._holds.append(hold)

    def before_forget(self, hook: ForgetHook) -> None:
        """Run `hook(guild_id, user_id)` before a member's data is deleted."""
        self._forget_hooks.append(hook)

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
        log.info("export built for guild=%s user=%s (%d rows)", guild_id, user_id, rows)
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
        for hook in self._forget_hooks:
            try:
                await hook(guild_id, user_id)
            except Exception:
                # A goodbye that cannot be sent must not keep the data alive.
                log.exception("forget hook failed for guild=%s user=%s", guild_id, user_id)
        await self.privacy.delete_member(member.member_id, user_id, guild_id)
        await self.db.checkpoint()
        log.info("deleted all data for guild=%s user=%s", guild_id, user_id)
        return True

    async def purge(self, now: datetime) -> int:
        """Apply retention: inactive members, servers left long ago, old outbox records."""
        deleted = 0
        cutoff = now - timedelta(days=self.config.privacy.retention_days)
        after = 0
        while batch := await self.privacy.members_inactive_since(cutoff, after_member_id=after):
            after = batch[-1][0]
            held: set[int] = set()
            for hold in self._holds:
                held |= await hold([member_id for member_id, _, _ in batch])
            for member_id, guild_id, user_id in batch:
                if member_id not in held:
                    deleted += await self.forget(guild_id, user_id)
        for guild_id in await self.privacy.guilds_left_before(now - timedelta(days=self.config.privacy.left_guild_days)):
            await self.privacy.delete_guild(guild_id)
            deleted += 1
            log.info("purged guild %s (left more than %d days ago)", guild_id, self.config.privacy.left_guild_days)
        await self.db.execute("DELETE FROM privacy_delete_requests WHERE expires_at < ?", (to_utc_text(now),))
        await self.outbox.purge_finished(now - timedelta(days=30))
        if deleted:
            await self.db.checkpoint()
        return deleted
