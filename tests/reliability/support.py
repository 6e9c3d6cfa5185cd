"""Fault injection for reliability tests: a process that dies at a chosen write or send.

`Crash` derives from BaseException so no `except Exception` in the bot (sweeps, the
scheduler, delivery hooks) can swallow it: it unwinds like the process dying there.
An open transaction is rolled back on the way out, exactly what SQLite does with the
journal of a process that died before COMMIT (and PostgreSQL with a session that ends).
"""

from __future__ import annotations

import random
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

from bot.config import Config
from bot.db.database import Connection, Database
from bot.db.postgres import PostgresDatabase
from bot.db.sqlite import SqliteDatabase
from bot.domain.clock import Clock
from bot.domain.messages import OutgoingMessage, SendResult, SendStatus
from bot.services.ports import Notifier

# Discord deduplicates an `enforce_nonce` send against the same nonce for about 5 minutes.
NONCE_WINDOW = timedelta(minutes=5)
_PROMPT_HEADER = re.compile(r"\*\*Daily check-in\*\* · \w+ (\d+ \w+)")


def prompt_day(content: str) -> str:
    """The day a daily prompt names in its header, e.g. "25 October"."""
    found = _PROMPT_HEADER.search(content)
    assert found is not None, content
    return found[1]


def day_name(day: date) -> str:
    """A date as prompt headers write it ("25 October")."""
    return f"{day.day} {day.strftime('%B')}"


class Crash(BaseException):
    """The process died here."""


class CrashPoint(StrEnum):
    """Where a planned crash happens."""

    BEFORE_COMMIT = "before-commit"  # the k-th transaction is rolled back
    AFTER_COMMIT = "after-commit"    # the k-th transaction committed, then the process died
    BEFORE_SEND = "before-send"      # the k-th message never reached Discord
    AFTER_SEND = "after-send"        # Discord accepted the k-th message; nothing was marked


_ACTIVE_PLAN: ContextVar[CrashPlan | None] = ContextVar("crash_plan", default=None)


@dataclass
class CrashPlan:
    """Die the `after`-th time a process reaches `point` (or never)."""

    point: CrashPoint | None = None
    after: int = 1
    scoped: bool = False  # count only what runs inside `scope()` (and the tasks it starts); else everything
    reached_count: int = 0
    fired: bool = False

    @classmethod
    def random(cls, rng: random.Random, *, clean_share: float = 0.2, send_share: float = 0.5,
               max_commits: int = 8) -> CrashPlan:
        """A seeded plan: a clean restart, or a crash at a commit or (with `send_share`) a send."""
        if rng.random() < clean_share:
            return cls()
        if rng.random() < send_share:  # a process sends far less often than it commits
            return cls(rng.choice((CrashPoint.BEFORE_SEND, CrashPoint.AFTER_SEND)), rng.randint(1, 2))
        return cls(rng.choice((CrashPoint.BEFORE_COMMIT, CrashPoint.AFTER_COMMIT)), rng.randint(1, max_commits))

    @contextmanager
    def scope(self) -> Iterator[None]:
        """Count only what this block does, including tasks it starts (they inherit the context)."""
        self.scoped = True
        token = _ACTIVE_PLAN.set(self)
        try:
            yield
        finally:
            _ACTIVE_PLAN.reset(token)

    def reached(self, point: CrashPoint) -> None:
        """Called at each crash point; raises Crash when this is the planned one."""
        if self.fired or point is not self.point or (self.scoped and _ACTIVE_PLAN.get() is not self):
            return
        self.reached_count += 1
        if self.reached_count == self.after:
            self.fired = True
            raise Crash(f"{point.value} #{self.after}")

    @contextmanager
    def disarmed(self) -> Iterator[None]:
        """Suspend the plan (for what members do, which both runs of a test must do alike)."""
        point, self.point = self.point, None
        try:
            yield
        finally:
            self.point = point


class _Crashing(Database):
    """A Database whose process dies at the commit its plan names."""

    plan: CrashPlan

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """As Database.transaction, with the plan consulted just before and just after COMMIT."""
        async with super().transaction() as conn:
            yield conn
            self.plan.reached(CrashPoint.BEFORE_COMMIT)
        self.plan.reached(CrashPoint.AFTER_COMMIT)


class _CrashingSqlite(_Crashing, SqliteDatabase):
    pass


class _CrashingPostgres(_Crashing, PostgresDatabase):
    pass


CrashingDatabase = _Crashing


def crashing_database(config: Config, plan: CrashPlan) -> CrashingDatabase:
    """The configured database (SQLite or PostgreSQL), dying where `plan` says."""
    db: _Crashing
    if config.database_url:
        db = _CrashingPostgres(config.database_url)
    else:
        db = _CrashingSqlite(config.database_path)
    db.plan = plan
    return db


@dataclass(frozen=True, slots=True)
class Delivered:
    """One message Discord accepted, and when (by the fake clock)."""

    target: str
    target_id: int
    content: str
    nonce: str | None
    at: datetime


@dataclass
class DiscordLikeNotifier:
    """Records deliveries with their instant; a nonce repeated within 5 minutes returns the first message.

    Unlike `tests.support.RecordingNotifier`, the nonce window is as short as Discord's, so a
    resend long after the first one shows up as the duplicate it would be. One notifier plays
    Discord for every process of a test; each process gets a `for_process` view with its own
    crash plan.
    """

    clock: Clock
    delivered: list[Delivered] = field(default_factory=list)
    _nonces: dict[str, tuple[int, datetime]] = field(default_factory=dict)

    def for_process(self, plan: CrashPlan) -> Notifier:
        """A notifier for one process, dying where `plan` says."""
        return _ProcessNotifier(self, plan)

    def deliver(self, target: str, target_id: int, message: OutgoingMessage, nonce: str | None) -> SendResult:
        """Accept a message (or return the one already sent with this nonce)."""
        now = self.clock.now()
        if nonce is not None and nonce in self._nonces:
            index, first_at = self._nonces[nonce]
            if now - first_at < NONCE_WINDOW:
                return SendResult(SendStatus.SENT, message_id=index)
        self.delivered.append(Delivered(target, target_id, message.content, nonce, now))
        if nonce is not None:
            self._nonces[nonce] = (len(self.delivered), now)
        return SendResult(SendStatus.SENT, message_id=len(self.delivered))


@dataclass
class _ProcessNotifier:
    discord: DiscordLikeNotifier
    plan: CrashPlan

    async def send_dm(self, user_id: int, message: OutgoingMessage, *, nonce: str | None = None) -> SendResult:
        return self._send("dm", user_id, message, nonce)

    async def send_channel(self, channel_id: int, message: OutgoingMessage, *, nonce: str | None = None) -> SendResult:
        return self._send("channel", channel_id, message, nonce)

    def _send(self, target: str, target_id: int, message: OutgoingMessage, nonce: str | None) -> SendResult:
        self.plan.reached(CrashPoint.BEFORE_SEND)
        result = self.discord.deliver(target, target_id, message, nonce)
        self.plan.reached(CrashPoint.AFTER_SEND)
        return result
