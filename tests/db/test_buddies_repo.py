"""The buddy tables' invariants, enforced by the schema and the repository."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.db.buddies import AlreadyBuddiesError, BuddyRepository, DuplicateRequestError
from bot.db.database import Database
from bot.db.members import touch_in

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
GUILD = 900_000_000_000_000_001


@pytest.fixture
async def repo(db: Database) -> BuddyRepository:
    return BuddyRepository(db)


async def members(repo: BuddyRepository, *users: int) -> list[int]:
    async with repo.db.transaction() as conn:
        return [(await touch_in(conn, GUILD, u, NOW, active=False)).member_id for u in users]


async def test_ensure_member_neither_marks_active_nor_lifts_closed_dms(repo: BuddyRepository, db: Database) -> None:
    [a] = await members(repo, 11)
    await db.execute("UPDATE members SET dm_closed_at = ?, last_active_at = ? WHERE member_id = ?",
                     ("2026-11-01T00:00:00+00:00", "2026-11-01T00:00:00+00:00", a))
    assert await members(repo, 11) == [a]
    row = await db.fetch_one("SELECT dm_closed_at, last_active_at FROM members WHERE member_id = ?", (a,))
    assert row is not None and row["dm_closed_at"] is not None and row["last_active_at"].startswith("2026-11-01")


async def test_two_members_have_at_most_one_active_pair(repo: BuddyRepository) -> None:
    a, b = await members(repo, 11, 12)
    async with repo.db.transaction() as conn:
        pair_id = (await repo.create_pair(conn, GUILD, b, a, "request", NOW)).row_id
    with pytest.raises(AlreadyBuddiesError):
        async with repo.db.transaction() as conn:
            await repo.create_pair(conn, GUILD, a, b, "match", NOW)
    pair = await repo.active_pair(a, b)
    assert pair is not None and (pair.member_a, pair.member_b) == (a, b)  # stored in order
    assert pair.partner_member(a) == b and pair.partner_member(b) == a and (pair.user_a, pair.user_b) == (11, 12)
    async with repo.db.transaction() as conn:
        assert await repo.end_pair(conn, pair_id, ended_by=a, reason="ended", now=NOW)
        assert not await repo.end_pair(conn, pair_id, ended_by=a, reason="ended", now=NOW)
        await repo.create_pair(conn, GUILD, a, b, "request", NOW)  # a new pairing later is fine
    assert await repo.active_count(a) == 1
    assert await repo.recent_pair_keys(GUILD, NOW - timedelta(days=90)) == {(a, b)}


async def test_one_pending_request_per_direction_and_none_to_yourself(repo: BuddyRepository) -> None:
    a, b = await members(repo, 11, 12)
    async with repo.db.transaction() as conn:
        await repo.create_request(conn, GUILD, a, b, NOW, NOW + timedelta(days=14))
        await repo.create_request(conn, GUILD, b, a, NOW, NOW + timedelta(days=14))  # the other way is separate
    with pytest.raises(DuplicateRequestError):
        async with repo.db.transaction() as conn:
            await repo.create_request(conn, GUILD, a, b, NOW, NOW + timedelta(days=14))
    with pytest.raises(sqlite3.IntegrityError):
        async with repo.db.transaction() as conn:
            await conn.execute("INSERT INTO buddy_requests (guild_id, requester_id, target_id, created_at, expires_at) "
                               "VALUES (?, ?, ?, ?, ?)", (GUILD, a, a, "x", "y"))
    # An expired request no longer blocks a new one.
    later = NOW + timedelta(days=15)
    async with repo.db.transaction() as conn:
        await repo.create_request(conn, GUILD, a, b, later, later + timedelta(days=14))
    assert [r.status for r in await repo.outgoing(a, later)] == ["pending"]


async def test_a_row_given_a_deleted_rows_id_is_named_differently_in_keys(repo: BuddyRepository, db: Database) -> None:
    a, b = await members(repo, 11, 12)
    async with repo.db.transaction() as conn:
        request = await repo.create_request(conn, GUILD, a, b, NOW, NOW + timedelta(days=14))
        pair = await repo.create_pair(conn, GUILD, a, b, "request", NOW)
    stored = await repo.request(request.row_id)
    assert stored is not None and stored.ref == request
    assert (await repo.active_pairs_of(a))[0].ref == pair == (await repo.active_pairs([pair.row_id]))[0].pair.ref
    await db.execute("DELETE FROM buddy_requests")
    await db.execute("DELETE FROM buddy_pairs")
    async with repo.db.transaction() as conn:
        again = await repo.create_request(conn, GUILD, a, b, NOW, NOW + timedelta(days=14))
        pair_again = await repo.create_pair(conn, GUILD, a, b, "request", NOW)
    assert again.row_id == request.row_id and str(again) != str(request)  # SQLite reused the id
    assert pair_again.row_id == pair.row_id and str(pair_again) != str(pair)


async def test_a_nudge_is_recorded_once_per_day_and_once_per_absence(repo: BuddyRepository) -> None:
    a, b = await members(repo, 11, 12)
    async with repo.db.transaction() as conn:
        pair_id = (await repo.create_pair(conn, GUILD, a, b, "request", NOW)).row_id

    async def auto(day: date, since: date, key: str) -> bool:
        async with repo.db.transaction() as conn:
            return await repo.record_nudge(conn, pair_id=pair_id, guild_id=GUILD, kind="auto", recipient=b,
                                           local_day=day, dedupe_key=key, now=NOW, about=a, absent_since=since)

    assert await auto(date(2026, 11, 24), date(2026, 11, 21), "k1")
    assert not await auto(date(2026, 11, 24), date(2026, 11, 22), "k2")   # same day
    assert not await auto(date(2026, 11, 25), date(2026, 11, 21), "k3")   # same absence
    assert await auto(date(2026, 11, 30), date(2026, 11, 27), "k4")       # a new absence
    assert await repo.auto_nudge_sent(pair_id, b, date(2026, 11, 21), date(2026, 12, 1))
    assert not await repo.auto_nudge_sent(pair_id, a, date(2026, 11, 21), date(2026, 11, 24))


async def test_deleting_a_member_removes_everything_about_them(repo: BuddyRepository, db: Database) -> None:
    a, b, c = await members(repo, 11, 12, 13)
    async with repo.db.transaction() as conn:
        pair_id = (await repo.create_pair(conn, GUILD, a, b, "request", NOW)).row_id
        await repo.create_request(conn, GUILD, a, c, NOW, NOW + timedelta(days=14))
        await repo.join_pool(conn, GUILD, a, NOW)
        await repo.set_pause(conn, GUILD, a, NOW, NOW + timedelta(days=3))
        await repo.record_nudge(conn, pair_id=pair_id, guild_id=GUILD, kind="manual", recipient=b,
                                local_day=date(2026, 11, 21), dedupe_key="m", now=NOW, sender=a)
    await db.execute("DELETE FROM members WHERE member_id = ?", (a,))
    for table in ("buddy_pairs", "buddy_requests", "buddy_pool", "buddy_pauses", "buddy_nudges"):
        assert await db.fetch_value(f"SELECT count(*) FROM {table}") == 0, table  # noqa: S608


async def test_purge_keeps_what_rules_still_need(repo: BuddyRepository, db: Database) -> None:
    a, b, c = await members(repo, 11, 12, 13)
    async with repo.db.transaction() as conn:
        old = (await repo.create_pair(conn, GUILD, a, b, "match", NOW - timedelta(days=200))).row_id
        await repo.end_pair(conn, old, ended_by=a, reason="ended", now=NOW - timedelta(days=100))
        recent = (await repo.create_pair(conn, GUILD, a, c, "match", NOW - timedelta(days=50))).row_id
        await repo.end_pair(conn, recent, ended_by=a, reason="ended", now=NOW - timedelta(days=10))
        await repo.create_pair(conn, GUILD, b, c, "match", NOW - timedelta(days=400))  # active: kept
        removed = await repo.purge(conn, ended_before=NOW - timedelta(days=90), resolved_before=NOW - timedelta(days=30))
    assert removed == 1
    assert await db.fetch_value("SELECT count(*) FROM buddy_pairs") == 2
