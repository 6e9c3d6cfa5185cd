"""Test doubles shared by service-level tests (no Discord)."""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from itertools import count
from typing import TypeVar

import asyncpg

from bot.db.database import Connection, Database
from bot.db.plans import Plan
from bot.db.postgres import PostgresDatabase
from bot.db.sqlite import SqliteDatabase
from bot.domain.messages import OutgoingMessage, SendResult, SendStatus

T = TypeVar("T")


def names_in_text(value: object, user_id: int) -> bool:
    """Tell whether a stored value is text containing a Discord user id (a mention, a link, JSON)."""
    return isinstance(value, str) and re.search(rf"(?<![0-9]){user_id}(?![0-9])", value) is not None


@dataclass
class SentMessage:
    """One message the recording notifier delivered (or refused)."""

    target: str
    target_id: int
    message: OutgoingMessage
    nonce: str | None
    result: SendResult


@dataclass
class RecordingNotifier:
    """A Notifier that records sends and can simulate closed DMs and outages.

    Like Discord with `enforce_nonce`, a repeated nonce returns the first message
    instead of delivering a second one.
    """

    dm_closed: set[int] = field(default_factory=set)
    failing: set[int] = field(default_factory=set)
    transient_failures: int = 0
    sent: list[SentMessage] = field(default_factory=list)
    _ids: count = field(default_factory=lambda: count(1000))
    _by_nonce: dict[str, SendResult] = field(default_factory=dict)

    async def send_dm(self, user_id: int, message: OutgoingMessage, *, nonce: str | None = None) -> SendResult:
        """Record a DM."""
        if user_id in self.dm_closed:
            return self._record("dm", user_id, message, nonce, SendResult(SendStatus.DM_CLOSED, detail="50007"))
        return self._deliver("dm", user_id, message, nonce)

    async def send_channel(self, channel_id: int, message: OutgoingMessage, *, nonce: str | None = None) -> SendResult:
        """Record a channel post."""
        if channel_id in self.failing:
            return self._record("channel", channel_id, message, nonce, SendResult(SendStatus.FORBIDDEN))
        return self._deliver("channel", channel_id, message, nonce)

    def _deliver(self, target: str, target_id: int, message: OutgoingMessage, nonce: str | None) -> SendResult:
        if self.transient_failures > 0:
            self.transient_failures -= 1
            return self._record(target, target_id, message, nonce, SendResult(SendStatus.TRANSIENT, detail="503"))
        if nonce is not None and nonce in self._by_nonce:
            return self._by_nonce[nonce]
        result = SendResult(SendStatus.SENT, message_id=next(self._ids))
        if nonce is not None:
            self._by_nonce[nonce] = result
        return self._record(target, target_id, message, nonce, result)

    def _record(self, target: str, target_id: int, message: OutgoingMessage, nonce: str | None,
                result: SendResult) -> SendResult:
        self.sent.append(SentMessage(target, target_id, message, nonce, result))
        return result

    def delivered(self, target: str | None = None, target_id: int | None = None) -> list[SentMessage]:
        """Return successfully delivered messages, optionally filtered."""
        return [s for s in self.sent if s.result.ok
                and (target is None or s.target == target)
                and (target_id is None or s.target_id == target_id)]

    def dms_to(self, user_id: int) -> list[SentMessage]:
        """Return DMs delivered to a user."""
        return self.delivered("dm", user_id)

    def posts_in(self, channel_id: int) -> list[SentMessage]:
        """Return messages delivered to a channel."""
        return self.delivered("channel", channel_id)


@contextlib.asynccontextmanager
async def database_trouble(db: Database, how: str) -> AsyncIterator[None]:
    """Make the running database unusable in one of three ways for the block, on either engine.

    "closed": the connections are gone (and so is the SQLite file). "writer": another process
    holds the write lock (SQLite's file lock; for PostgreSQL every table locked against writes),
    while reads still work. "hung": the database stops answering (a stalled disk for SQLite; for
    PostgreSQL, another session locks the tables against everything, so every query on them waits).
    """
    if how == "closed":
        await db.close()
        if isinstance(db, SqliteDatabase):
            db.path.rename(db.path.with_suffix(".moved"))
        yield
        return
    if isinstance(db, PostgresDatabase):
        other = await asyncpg.connect(db.url)
        try:
            tables = ", ".join(f'"{t}"' for t in await db.tables())
            await other.execute("BEGIN")
            await other.execute(f"LOCK TABLE {tables} IN {'EXCLUSIVE' if how == 'writer' else 'ACCESS EXCLUSIVE'} MODE")
            yield
        finally:
            await other.execute("ROLLBACK")
            await other.close()
        return
    assert isinstance(db, SqliteDatabase)
    if how == "writer":
        blocker = sqlite3.connect(db.path, isolation_level=None, timeout=0)
        try:
            blocker.execute("BEGIN EXCLUSIVE")
            blocker.execute("UPDATE guilds SET updated_at = updated_at")
            yield
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        return
    gate = threading.Event()
    for conn in (db.conn, db.reader):  # a stalled disk stalls both database threads
        await conn.create_function("stall", 0, lambda: gate.wait(30))
    stuck = asyncio.gather(db.fetch_value("SELECT stall()"), db.conn.execute("SELECT stall()"))
    try:
        yield
    finally:
        gate.set()
        await stuck


@contextlib.contextmanager
def counting_commits(db: Database) -> Iterator[list[int]]:
    """Count the transactions `db` commits meanwhile (one entry each), on either engine."""
    original, original_plan = db.transaction, db.run_plan
    commits: list[int] = []

    @contextlib.asynccontextmanager
    async def counted() -> AsyncIterator[Connection]:
        async with original() as conn:
            yield conn
        commits.append(1)

    async def counted_plan(plan: Plan[T]) -> T:  # on SQLite a plan is a transaction of its own
        result = await original_plan(plan)
        commits.append(1)
        return result

    db.transaction = counted  # type: ignore[method-assign]
    db.run_plan = counted_plan  # type: ignore[method-assign]
    try:
        yield commits
    finally:
        del db.transaction, db.run_plan
