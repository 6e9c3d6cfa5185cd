"""Transactions written once as plans of statements, run step by step or in one trip to the database thread.

aiosqlite runs every statement in its database thread, and each one is a round trip from the
event loop: a queue put, a thread wake-up, a wake-up of the loop. A `/checkin` made seven of
them (two reads, BEGIN, three statements, COMMIT), which was most of what it cost over a bare
bot (bench/README.md, "Interaction round trip"). A *plan* is a generator that yields
`(sql, params)` and is sent each statement's rows (or thrown its `sqlite3.Error`), and returns
its result. The same plan runs statement by statement inside an ordinary `db.transaction()`
(`run_async`), or whole — BEGIN, every statement, COMMIT — in one call on the database
thread (`Database.run_plan`), so the hot paths pay one round trip and no SQL is written twice.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Generator, Sequence
from typing import Any, TypeVar

import aiosqlite

T = TypeVar("T")
Params = Sequence[Any] | dict[str, Any]
Statement = tuple[str, Params]
Plan = Generator[Statement, list[sqlite3.Row], T]


def run_sync(conn: sqlite3.Connection, plan: Plan[T]) -> T:
    """Run a plan on a plain sqlite3 connection (in the thread that owns it)."""
    try:
        statement = next(plan)
    except StopIteration as done:
        return done.value
    while True:
        try:
            rows = conn.execute(*statement).fetchall()
        except sqlite3.Error as exc:
            try:
                statement = plan.throw(exc)
            except StopIteration as done:
                return done.value
            continue
        try:
            statement = plan.send(rows)
        except StopIteration as done:
            return done.value


async def run_async(conn: aiosqlite.Connection, plan: Plan[T]) -> T:
    """Run a plan statement by statement on an aiosqlite connection (inside the caller's transaction)."""
    try:
        statement = next(plan)
    except StopIteration as done:
        return done.value
    while True:
        try:
            rows = list(await conn.execute_fetchall(*statement))
        except sqlite3.Error as exc:
            try:
                statement = plan.throw(exc)
            except StopIteration as done:
                return done.value
            continue
        try:
            statement = plan.send(rows)
        except StopIteration as done:
            return done.value
