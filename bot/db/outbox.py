"""The outbox: messages decided on and committed, waiting to be sent.

A sender claims a row just before sending it (`claim`): the claim succeeds only while the
row is still pending and nobody else holds it, and only the claimant can record the
outcome. Features withdraw messages with `cancel_in`, in the transaction of the change
that makes them unwanted; a cancelled (or deleted) row can no longer be claimed, so a
batch read before the change does not send it.

A row keeps the message body (`payload`) only while it may still be sent: once sent, given
up or cancelled, only what exactly-once needs stays (key, status, times, message id).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.db.database import Connection, Database, Row
from bot.domain.localtime import from_utc_text, to_utc_text
from bot.domain.messages import OutgoingMessage

FINISHED_KEPT = timedelta(days=30)  # a sent, given-up or withdrawn row's key and times, then deleted


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


def _item(row: Row) -> OutboxItem:
    return OutboxItem(
        outbox_id=row["outbox_id"], dedupe_key=row["dedupe_key"], kind=row["kind"],
        guild_id=row["guild_id"], member_id=row["member_id"], target=row["target"],
        target_id=row["target_id"], message=OutgoingMessage.from_json(row["payload"]),
        attempts=row["attempts"], not_before=from_utc_text(row["not_before"]),
    )


@dataclass(frozen=True, slots=True)
class Claim:
    """Who holds a row while sending it, and until when the claim stands if they die."""

    claimant: str
    until: datetime


async def enqueue(conn: Connection, item: NewOutboxItem, *, not_before: datetime,
                  now: datetime, claim: Claim | None = None) -> int | None:
    """Queue a message inside the caller's transaction; None if that occurrence was queued before.

    With `claim`, the row is the claimant's from the moment it exists (a command sending it
    at once), so no drain can take it in between.
    """
    if item.target not in ("dm", "channel"):
        raise ValueError(item.target)
    outbox_id = await conn.fetch_value(
        "INSERT INTO outbox (dedupe_key, kind, guild_id, member_id, target, target_id, payload, "
        "not_before, created_at, claimed_by, claimed_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (dedupe_key) DO NOTHING RETURNING outbox_id",
        (item.dedupe_key, item.kind, item.guild_id, item.member_id, item.target, item.target_id,
         item.message.to_json(), to_utc_text(not_before), to_utc_text(now),
         claim.claimant if claim else None, to_utc_text(claim.until) if claim else None),
    )
    return None if outbox_id is None else int(outbox_id)


async def cancel_in(conn: Connection, *, keys: Sequence[str] | None = None, key_prefix: str | None = None,
                    target: str | None = None) -> int:
    """Withdraw messages not sent yet, inside the caller's transaction; return how many.

    Features name their messages by dedupe key, so they choose them by keys or by a key
    prefix (one family of occurrences, e.g. a period's milestones), optionally only those
    to a `target` ("channel": the public ones). A member's own messages need no call: they
    go with the member row (ON DELETE CASCADE). A row being sent at this moment is marked
    cancelled too; its sender still records a delivery that already happened, but never
    retries it.
    """
    if keys is None and key_prefix is None:
        raise ValueError("give keys or a key prefix")
    if keys is not None and not keys:
        return 0
    where: list[str] = []
    params: list[Any] = []
    if keys is not None:
        where.append(f"dedupe_key IN ({','.join('?' * len(keys))})")
        params.extend(keys)
    if key_prefix:
        # A key range, so the UNIQUE index on dedupe_key finds the family.
        where.append("dedupe_key >= ? AND dedupe_key < ?")
        params.extend((key_prefix, key_prefix[:-1] + chr(ord(key_prefix[-1]) + 1)))
    if target is not None:
        where.append("target = ?")
        params.append(target)
    return await conn.execute(
        f"UPDATE outbox SET status = 'cancelled', payload = NULL WHERE status = 'pending' AND {' AND '.join(where)}",  # noqa: S608 - fixed fragments
        params)


async def cancel_naming_in(conn: Connection, guild_id: int, user_id: int) -> int:
    """Withdraw a server's unsent messages whose words name a user (a mention, a link); return how many.

    For `/privacy delete`: the member's own messages go with their row, but a message to
    someone else can name them too (a buddy request carries the requester's mention).
    Sent messages keep no words, so only unsent ones can.
    """
    rows = await conn.fetch_all(
        "SELECT outbox_id, payload FROM outbox WHERE status = 'pending' AND guild_id = ? AND payload LIKE ?",
        (guild_id, f"%{user_id}%"))
    # LIKE finds the digits anywhere; a Discord id inside a longer number is not a mention.
    named = re.compile(rf"(?<![0-9]){user_id}(?![0-9])")
    ids = [r[0] for r in rows if named.search(r[1])]
    if not ids:
        return 0
    return await conn.execute(
        f"UPDATE outbox SET status = 'cancelled', payload = NULL WHERE outbox_id IN ({','.join('?' * len(ids))})",  # noqa: S608 - placeholders only
        ids)


class OutboxRepository:
    """Reads and updates queued messages."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def _mine(self) -> str:
        """Keep the rows this process sends: its shards' servers', and those of no server.

        A row of no server belongs to no shard, so any process may send it; the claim keeps
        it to one. (Every feature names the server today; this keeps such a row from being
        stranded if one does not.)
        """
        if self.db.shards is None:
            return ""
        return f" AND (guild_id IS NULL OR {self.db.shards.sql('guild_id')})"

    async def enqueue(self, item: NewOutboxItem, *, not_before: datetime, now: datetime) -> int | None:
        """Queue a message in a transaction of its own."""
        async with self.db.transaction() as conn:
            return await enqueue(conn, item, not_before=not_before, now=now)

    async def enqueue_claimed(self, item: NewOutboxItem, claim: Claim, now: datetime) -> OutboxItem | None:
        """Queue a message already claimed for sending now; None if that occurrence was queued before."""
        async with self.db.transaction() as conn:
            outbox_id = await enqueue(conn, item, not_before=now, now=now, claim=claim)
        if outbox_id is None:
            return None
        return OutboxItem(outbox_id=outbox_id, dedupe_key=item.dedupe_key, kind=item.kind, guild_id=item.guild_id,
                          member_id=item.member_id, target=item.target, target_id=item.target_id,
                          message=item.message, attempts=0, not_before=now)

    async def status_of(self, dedupe_key: str) -> str | None:
        """Return the status of the message queued for an occurrence."""
        return await self.db.fetch_value("SELECT status FROM outbox WHERE dedupe_key = ?", (dedupe_key,))

    async def due(self, now: datetime, limit: int) -> list[tuple[int, str, int]]:
        """Return (id, target, target id) of pending messages whose time has come and that nobody holds, oldest first."""
        stamp = to_utc_text(now)
        rows = await self.db.fetch_all(
            "SELECT outbox_id, target, target_id FROM outbox WHERE status = 'pending' AND not_before <= ? "  # noqa: S608
            f"AND (claimed_until IS NULL OR claimed_until <= ?){self._mine()} ORDER BY not_before, outbox_id LIMIT ?",
            (stamp, stamp, limit),
        )
        return [(r["outbox_id"], r["target"], r["target_id"]) for r in rows]

    async def backlog(self, now: datetime) -> tuple[int, datetime | None]:
        """Return how many messages are waiting — due at `now`, or failed and waiting to be tried
        again — and since when the oldest has been owed.

        A retry moves a row's next try forward, so a message failing for half an hour would
        otherwise never look late: a retried one counts from when it was queued.
        """
        row = await self.db.fetch_one(
            "SELECT count(*) AS waiting, min(CASE WHEN attempts > 0 THEN created_at ELSE not_before END) AS oldest "  # noqa: S608
            f"FROM outbox WHERE status = 'pending' AND (not_before <= ? OR attempts > 0){self._mine()}",
            (to_utc_text(now),))
        assert row is not None
        return row["waiting"], None if row["oldest"] is None else from_utc_text(row["oldest"])

    async def claim(self, row: int | str, claimant: str, now: datetime, *, until: datetime) -> OutboxItem | None:
        """Take a due row (by id, or by dedupe key) for sending; None if it was sent, cancelled, deleted
        or is held by another sender."""
        stamp = to_utc_text(now)
        column = "dedupe_key" if isinstance(row, str) else "outbox_id"
        async with self.db.transaction() as conn:
            rows = await conn.fetch_all(
                "UPDATE outbox SET claimed_by = ?, claimed_until = ? "  # noqa: S608 - a column name from above
                f"WHERE {column} = ? AND status = 'pending' AND not_before <= ? "
                "AND (claimed_until IS NULL OR claimed_until <= ?) RETURNING *",
                (claimant, to_utc_text(until), row, stamp, stamp))
        return _item(rows[0]) if rows else None

    async def release_claims(self, owner: str, keep: str) -> int:
        """Release the claims of the owner's earlier processes (they died with them), except `keep`'s."""
        return await self.db.execute(
            "UPDATE outbox SET claimed_by = NULL, claimed_until = NULL WHERE status = 'pending' "
            "AND claimed_by IS NOT NULL AND substr(claimed_by, 1, ?) = ? AND claimed_by != ?",
            (len(owner) + 1, owner + ":", keep))

    # The outcome of a send is stored only by the sender that holds the row (a sender whose
    # claim lapsed and was taken over stores nothing: the new holder does). Each also lets
    # go of the claim.

    async def mark_sent(self, outbox_id: int, claimant: str, message_id: int | None, now: datetime) -> bool:
        """Record a delivery (even of a row cancelled while it was being sent: it did go out)."""
        return await self.db.execute(
            "UPDATE outbox SET status = 'sent', sent_at = ?, message_id = ?, attempts = attempts + 1, "
            "last_error = NULL, payload = NULL, sent_by = claimed_by, claimed_by = NULL, claimed_until = NULL "
            "WHERE outbox_id = ? AND claimed_by = ?",
            (to_utc_text(now), message_id, outbox_id, claimant),
        ) == 1

    async def mark_undeliverable(self, outbox_id: int, claimant: str, reason: str) -> bool:
        """Give up on a message for a reason that retrying will not fix."""
        return await self.db.execute(
            "UPDATE outbox SET status = CASE status WHEN 'pending' THEN 'undeliverable' ELSE status END, "
            "attempts = attempts + 1, last_error = ?, payload = NULL, claimed_by = NULL, claimed_until = NULL "
            "WHERE outbox_id = ? AND claimed_by = ?",
            (reason, outbox_id, claimant),
        ) == 1

    async def retry_later(self, outbox_id: int, claimant: str, not_before: datetime, reason: str) -> bool:
        """Count a failed attempt and try again later (a row cancelled meanwhile stays cancelled)."""
        return await self.db.execute(
            "UPDATE outbox SET attempts = attempts + 1, not_before = ?, last_error = ?, "
            "claimed_by = NULL, claimed_until = NULL WHERE outbox_id = ? AND claimed_by = ?",
            (to_utc_text(not_before), reason, outbox_id, claimant),
        ) == 1

    async def sent_between(self, guild_id: int, kind: str, start: datetime,
                           end: datetime) -> list[tuple[int, datetime]]:
        """Return (member id, queued at) of a server's messages of a kind sent, queued in [start, end)."""
        rows = await self.db.fetch_all(
            "SELECT member_id, created_at FROM outbox WHERE guild_id = ? AND kind = ? AND status = 'sent' "
            "AND member_id IS NOT NULL AND created_at >= ? AND created_at < ?",
            (guild_id, kind, to_utc_text(start), to_utc_text(end)))
        return [(r["member_id"], from_utc_text(r["created_at"])) for r in rows]

    async def purge_finished(self, before: datetime) -> int:
        """Delete finished rows created before an instant (their keys have served their purpose)."""
        return await self.db.execute(
            "DELETE FROM outbox WHERE status != 'pending' AND created_at < ?", (to_utc_text(before),))
