"""The outbox: messages decided on and committed, waiting to be sent."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime

import aiosqlite

from bot.db.database import Database
from bot.domain.localtime import from_utc_text, to_utc_text
from bot.domain.messages import OutgoingMessage


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One queued message."""

    outbox_id: int
    dedupe_key: str
    kind: str
    guild_id: int | None
    member_id: int | None
    target: str
    target_id: int
    message: OutgoingMessage
    attempts: int
    not_before: datetime


@dataclass(frozen=True, slots=True)
class NewOutboxItem:
    """A message to queue; `dedupe_key` names the occurrence it is for."""

    dedupe_key: str
    kind: str
    target: str
    target_id: int
    message: OutgoingMessage
    guild_id: int | None = None
    member_id: int | None = None


def _item(row: sqlite3.Row) -> OutboxItem:
    return OutboxItem(
        outbox_id=row["outbox_id"], dedupe_key=row["dedupe_key"], kind=row["kind"],
        guild_id=row["guild_id"], member_id=row["member_id"], target=row["target"],
        target_id=row["target_id"], message=OutgoingMessage.from_json(row["payload"]),
        attempts=row["attempts"], not_before=from_utc_text(row["not_before"]),
    )


async def enqueue(conn: aiosqlite.Connection, item: NewOutboxItem, *, not_before: datetime,
                  now: datetime) -> int | None:
    """Queue a message inside the caller's transaction; None if that occurrence was queued before."""
    if item.target not in ("dm", "channel"):
        raise ValueError(item.target)
    cursor = await conn.execute(
        "INSERT INTO outbox (dedupe_key, kind, guild_id, member_id, target, target_id, payload, "
        "not_before, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (dedupe_key) DO NOTHING",
        (item.dedupe_key, item.kind, item.guild_id, item.member_id, item.target, item.target_id,
         item.message.to_json(), to_utc_text(not_before), to_utc_text(now)),
    )
    return cursor.lastrowid if cursor.rowcount == 1 else None


class OutboxRepository:
    """Reads and updates queued messages."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def enqueue(self, item: NewOutboxItem, *, not_before: datetime, now: datetime) -> int | None:
        """Queue a message in a transaction of its own."""
        async with self.db.transaction() as conn:
            return await enqueue(conn, item, not_before=not_before, now=now)

    async def get(self, outbox_id: int) -> OutboxItem | None:
        """Return one queued message by id."""
        row = await self.db.fetch_one("SELECT * FROM outbox WHERE outbox_id = ?", (outbox_id,))
        return _item(row) if row else None

    async def status_of(self, dedupe_key: str) -> str | None:
        """Return the status of the message queued for an occurrence."""
        return await self.db.fetch_value("SELECT status FROM outbox WHERE dedupe_key = ?", (dedupe_key,))

    async def due(self, now: datetime, limit: int) -> list[OutboxItem]:
        """Return pending messages whose time has come, oldest first."""
        rows = await self.db.fetch_all(
            "SELECT * FROM outbox WHERE status = 'pending' AND not_before <= ? "
            "ORDER BY not_before, outbox_id LIMIT ?",
            (to_utc_text(now), limit),
        )
        return [_item(r) for r in rows]

    async def backlog(self, now: datetime) -> tuple[int, datetime | None]:
        """Return how many pending messages are due at `now`, and the earliest instant one was due."""
        row = await self.db.fetch_one(
            "SELECT count(*) AS waiting, min(not_before) AS oldest FROM outbox "
            "WHERE status = 'pending' AND not_before <= ?", (to_utc_text(now),))
        assert row is not None
        return row["waiting"], None if row["oldest"] is None else from_utc_text(row["oldest"])

    async def mark_sent(self, outbox_id: int, message_id: int | None, now: datetime) -> None:
        """Record a delivery."""
        await self.db.execute(
            "UPDATE outbox SET status = 'sent', sent_at = ?, message_id = ?, attempts = attempts + 1, "
            "last_error = NULL WHERE outbox_id = ?",
            (to_utc_text(now), message_id, outbox_id),
        )

    async def mark_undeliverable(self, outbox_id: int, reason: str) -> None:
        """Give up on a message for a reason that retrying will not fix."""
        await self.db.execute(
            "UPDATE outbox SET status = 'undeliverable', attempts = attempts + 1, last_error = ? "
            "WHERE outbox_id = ?",
            (reason, outbox_id),
        )

    async def retry_later(self, outbox_id: int, not_before: datetime, reason: str) -> None:
        """Count a failed attempt and try again later."""
        await self.db.execute(
            "UPDATE outbox SET attempts = attempts + 1, not_before = ?, last_error = ? "
            "WHERE outbox_id = ?",
            (to_utc_text(not_before), reason, outbox_id),
        )

    async def cancel_for_member(self, member_id: int) -> int:
        """Cancel everything still pending for or about a member."""
        return await self.db.execute(
            "UPDATE outbox SET status = 'cancelled' WHERE member_id = ? AND status = 'pending'",
            (member_id,),
        )

    async def purge_finished(self, before: datetime) -> int:
        """Delete finished rows created before an instant (their keys have served their purpose)."""
        return await self.db.execute(
            "DELETE FROM outbox WHERE status != 'pending' AND created_at < ?", (to_utc_text(before),))
