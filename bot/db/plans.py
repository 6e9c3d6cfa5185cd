"""Transactions written once as plans of statements, run step by step or in one trip to the database.

aiosqlite runs every statement in its database thread, and each one is a round trip from the
event loop: a queue put, a thread wake-up, a wake-up of the loop. A `/checkin` made seven of
them (two reads, BEGIN, three statements, COMMIT), which was most of what it cost over a bare
bot (bench/README.md, "Interaction round trip"). A *plan* is a generator that yields
`(sql, params)` in the shared SQL (`bot/db/database.py`), is sent each statement's rows, and
returns its result. The same plan runs statement by statement inside an ordinary
`db.transaction()` (`run_async`), or whole as a transaction of its own (`Database.run_plan`):
on SQLite BEGIN, every statement and COMMIT in one call on the database thread, so the hot
paths pay one round trip and no SQL is written twice.

A failed statement ends the plan: the error (`IntegrityError`, `DatabaseUnavailableError`, …)
is raised to the caller after the plan is closed (its `finally` blocks run), and the
transaction rolls back. A plan cannot catch it and go on — PostgreSQL aborts a transaction at
its first error — so a plan avoids expected failures in its SQL (`ON CONFLICT`, `WHERE EXISTS`).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from bot.db.database import Connection, Params, Row

T = TypeVar("T")
Statement = tuple[str, "Params"]
Plan = Generator[Statement, "list[Row]", T]


def run_with(fetch_all: Callable[[str, Params], list[Row]], plan: Plan[T]) -> T:
    """Run a plan with a synchronous `fetch_all(sql, params)` (in the thread that owns the connection)."""
    try:
        statement = next(plan)
        while True:
            try:
                rows = fetch_all(*statement)
            except BaseException:
                plan.close()
                raise
            statement = plan.send(rows)
    except StopIteration as done:
        return done.value


async def run_async(conn: Connection, plan: Plan[T]) -> T:
    """Run a plan statement by statement on a connection, inside the caller's transaction."""
    try:
        statement = next(plan)
        while True:
            try:
                rows = await conn.fetch_all(*statement)
            except BaseException:
                plan.close()
                raise
            statement = plan.send(rows)
    except StopIteration as done:
        return done.value
