"""The check-ins schema: invariants as constraints, cascade from members, indexed due queries."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.db.checkins import CheckInRepository
from bot.db.database import Database, IntegrityError
from bot.db.members import MemberRepository
from bot.db.sqlite import SqliteDatabase
from bot.domain.localtime import to_utc_text

NOW = datetime(2026, 11, 21, 10, tzinfo=UTC)
STAMP = to_utc_text(NOW)


async def a_member(db: Database, user_id: int = 7) -> int:
    return (await MemberRepository(db).touch(1, user_id, NOW)).member_id


async def insert_checkin(db: Database, member_id: int, mood: int = 3, note: str | None = None,
                         day: str = "2026-11-21") -> None:
    await db.execute(
        "INSERT INTO checkins (member_id, local_date, timezone, mood, note, created_at, updated_at) "
        "VALUES (?, ?, 'UTC', ?, ?, ?, ?)", (member_id, day, mood, note, STAMP, STAMP))


@pytest.mark.parametrize(("mood", "note", "day"), [
    (0, None, "2026-11-21"), (6, None, "2026-11-21"), (3, "x" * 501, "2026-11-21"), (3, "", "2026-11-21"),
    (3, None, "21/11/2026"),
])
async def test_constraints_refuse_bad_rows(db: Database, mood: int, note: str | None, day: str) -> None:
    member_id = await a_member(db)
    with pytest.raises(IntegrityError):
        await insert_checkin(db, member_id, mood=mood, note=note, day=day)


async def test_one_checkin_per_member_and_local_date(db: Database) -> None:
    member_id = await a_member(db)
    await insert_checkin(db, member_id, note="é" * 500)  # 500 characters, not bytes
    with pytest.raises(IntegrityError):
        await insert_checkin(db, member_id)


async def test_deleting_the_member_removes_checkins_pledges_and_reminder(db: Database) -> None:
    repo = CheckInRepository(db)
    member_id = await a_member(db)
    await insert_checkin(db, member_id)
    async with db.transaction() as conn:
        await repo.insert_pledge(conn, member_id=member_id, local_date=date(2026, 11, 21), timezone="UTC", now=NOW)
    await repo.put_reminder(member_id, remind_time=datetime(2026, 1, 1, 20).time(), timezone="UTC",
                            next_due_at=NOW, now=NOW)
    await db.execute("DELETE FROM members WHERE member_id = ?", (member_id,))
    for table in ("checkins", "pledges", "checkin_reminders"):
        assert await db.fetch_value(f"SELECT count(*) FROM {table}") == 0  # noqa: S608 - test constant


async def test_pledge_insert_reports_a_repeat(db: Database) -> None:
    repo = CheckInRepository(db)
    member_id = await a_member(db)
    async with db.transaction() as conn:
        assert await repo.insert_pledge(conn, member_id=member_id, local_date=date(2026, 11, 21), timezone="UTC", now=NOW)
        assert not await repo.insert_pledge(conn, member_id=member_id, local_date=date(2026, 11, 21), timezone="UTC", now=NOW)


async def test_last_checkin_dates_handles_more_ids_than_one_statement(db: Database) -> None:
    repo = CheckInRepository(db)
    member_id = await a_member(db)
    await insert_checkin(db, member_id, day="2026-11-19")
    await insert_checkin(db, member_id, day="2026-11-20")
    assert await repo.last_checkin_dates(list(range(100000, 101200)) + [member_id]) == {member_id: date(2026, 11, 20)}


@pytest.mark.sqlite_only  # SQLite's query planner; PostgreSQL's cost is measured in bench/bench_postgres.py
@pytest.mark.parametrize(("method", "index"), [
    ("due_prompts", "checkin_prompt_schedule_due"),
    ("due_reminders", "checkin_reminders_due"),
])
async def test_due_work_is_found_through_an_index(db: Database, method: str, index: str) -> None:
    # Cost must follow due rows, not total rows: the repository's own query must be an
    # index range scan on next_due_at, never a scan of every schedule row.
    assert isinstance(db, SqliteDatabase)
    statements: list[str] = []
    await db.conn.set_trace_callback(statements.append)
    async with db.transaction() as conn:
        await getattr(CheckInRepository, method)(conn, NOW, 10)
    await db.conn.set_trace_callback(None)
    query = next(s for s in statements if s.startswith("SELECT"))
    plan = " | ".join(r["detail"] for r in await db.fetch_all("EXPLAIN QUERY PLAN " + query))
    assert f"USING INDEX {index}" in plan or f"USING COVERING INDEX {index}" in plan, plan
    assert "SCAN r" not in plan and "SCAN s" not in plan, plan
