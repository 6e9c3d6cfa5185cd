"""Test doubles shared by service-level tests (no Discord)."""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import count
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest

from bot.db.database import Connection, Database
from bot.db.plans import Plan
from bot.db.postgres import PostgresDatabase
from bot.db.sqlite import READ_CACHE_KIB, WRITE_CACHE_KIB, SqliteDatabase
from bot.domain.meetings import ChannelKind, EventOutcome, EventResult, EventSpec, EventStatus
from bot.domain.messages import OutgoingMessage, SendResult, SendStatus

T = TypeVar("T")


def count_write_transactions(db: Any, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the write transactions `db` opens from now on (the list's one item is the count)."""
    opened = [0]
    transaction = db.transaction

    def counted() -> Any:
        opened[0] += 1
        return transaction()

    monkeypatch.setattr(db, "transaction", counted)
    return opened


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


@dataclass
class RecordedEvent:
    """A scheduled event the recording port holds."""

    event_id: int
    guild_id: int
    spec: EventSpec
    status: EventStatus = EventStatus.SCHEDULED
    deleted: bool = False


@dataclass
class RecordingEvents:
    """A ScheduledEvents port that keeps events in memory, like Discord (without its automation).

    `missing` is what `missing_permissions` answers; `refuse_next` makes the next create, fetch,
    find or delete answer that outcome instead (once per entry, in order); `refuse_calls` does
    the same for one kind of call only ({"find": [EventOutcome.TRANSIENT]}).
    """

    missing: list[str] | None = field(default_factory=list)
    refuse_next: list[EventOutcome] = field(default_factory=list)
    refuse_calls: dict[str, list[EventOutcome]] = field(default_factory=dict)
    events: dict[int, RecordedEvent] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    _ids: count = field(default_factory=lambda: count(5000))

    def missing_permissions(self, guild_id: int, channel_id: int | None, kind: ChannelKind | None) -> list[str] | None:
        """Answer what the test set."""
        return None if self.missing is None else list(self.missing)

    def _refused(self, call: str) -> EventResult | None:
        self.calls.append(call)
        if self.refuse_calls.get(call):
            return EventResult(self.refuse_calls[call].pop(0))
        if self.refuse_next:
            return EventResult(self.refuse_next.pop(0))
        return None

    async def create(self, guild_id: int, spec: EventSpec) -> EventResult:
        """Create an event."""
        if (refused := self._refused("create")) is not None:
            return refused
        event = RecordedEvent(next(self._ids), guild_id, spec)
        self.events[event.event_id] = event
        return EventResult(EventOutcome.OK, event.event_id, event.status)

    async def fetch(self, guild_id: int, event_id: int) -> EventResult:
        """Read an event."""
        if (refused := self._refused("fetch")) is not None:
            return refused
        event = self.events.get(event_id)
        if event is None or event.deleted:
            return EventResult(EventOutcome.NOT_FOUND)
        return EventResult(EventOutcome.OK, event_id, event.status)

    async def find(self, guild_id: int, name: str, start: datetime) -> EventResult:
        """Find an open event by name and start."""
        if (refused := self._refused("find")) is not None:
            return refused
        for event in self.open_events(guild_id):
            if event.spec.name == name and event.spec.start == start:
                return EventResult(EventOutcome.OK, event.event_id, event.status)
        return EventResult(EventOutcome.NOT_FOUND)

    async def delete(self, guild_id: int, event_id: int) -> EventResult:
        """Delete an event."""
        if (refused := self._refused("delete")) is not None:
            return refused
        event = self.events.get(event_id)
        if event is None or event.deleted:
            return EventResult(EventOutcome.NOT_FOUND)
        event.deleted = True
        return EventResult(EventOutcome.OK, event_id)

    def open_events(self, guild_id: int | None = None) -> list[RecordedEvent]:
        """Events not deleted, scheduled or active, oldest first."""
        return [e for e in self.events.values() if not e.deleted and e.status in (EventStatus.SCHEDULED, EventStatus.ACTIVE)
                and (guild_id is None or e.guild_id == guild_id)]


async def end_shard_session(db: Database) -> None:
    """End the session holding a process's shards from the server's side, as a PostgreSQL restart does."""
    assert isinstance(db, PostgresDatabase)
    holder = db._shard_holder
    assert holder is not None
    await db.execute("SELECT pg_terminate_backend($1)", (holder.get_server_pid(),))


async def until(check: Callable[[], bool], seconds: float = 15.0) -> None:
    """Wait until `check()` holds (for what a background task does a moment after an event)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not within {seconds} s")
        await asyncio.sleep(0.05)


def take_back_only_after(db: Database) -> asyncio.Event:
    """Make `db` take its shards back only once the returned event is set: a race, decided for a test."""
    hold = db.hold_shards
    go = asyncio.Event()

    async def after_the_event(wait: float = 0.0) -> None:
        await go.wait()
        await hold(wait=wait)

    db.hold_shards = after_the_event  # type: ignore[method-assign]
    return go


FILLER_ROWS = 600  # ~2.4 MiB: more than both SQLite connections' page caches together
# The least a release must hand back after `fill_page_caches`: nearly both caches (the writer's
# alone is two thirds of them, so a release that missed the reader would fall short).
PAGE_CACHES_RELEASED = (READ_CACHE_KIB + WRITE_CACHE_KIB) * 1024 * 9 // 10


async def fill_page_caches(db: Database) -> None:
    """Fill both SQLite connections' page caches: the writer writes a table, the reader reads it all."""
    await db.execute("CREATE TABLE filler (id INTEGER PRIMARY KEY, v TEXT NOT NULL) STRICT")
    async with db.transaction() as conn:
        for i in range(FILLER_ROWS):
            await conn.execute("INSERT INTO filler (v) VALUES (?)", (f"{i:04d}" * 1000,))
    assert await db.fetch_value("SELECT count(*) FROM filler WHERE v LIKE '%x%'") == 0


def sqlite_memory_used() -> int:
    """SQLite's own count of the memory it holds in this process (the library `_sqlite3` is linked to)."""
    import ctypes

    maps = Path("/proc/self/maps")
    lines = maps.read_text().splitlines() if maps.exists() else []
    library = next((line.split()[-1] for line in lines if "libsqlite3" in line), None)
    if library is None:
        pytest.skip("SQLite is not a shared library here (linked into Python): its memory count is out of reach")
    libsqlite = ctypes.CDLL(library)
    libsqlite.sqlite3_memory_used.restype = ctypes.c_int64
    return int(libsqlite.sqlite3_memory_used())
