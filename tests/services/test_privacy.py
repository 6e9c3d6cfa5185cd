"""Privacy: schema-driven export, confirmed deletion that leaves nothing behind, retention."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path

import aiosqlite
import pytest

from bot.config import Config
from bot.db.outbox import NewOutboxItem
from bot.db.privacy import PrivacyRepository
from bot.domain.clock import FakeClock
from bot.domain.messages import OutgoingMessage
from bot.errors import ConflictError
from bot.services import privacy as privacy_module
from bot.services.container import Services
from bot.services.privacy import EXPORT_FORMAT, data_statement
from tests.support import RecordingNotifier, names_in_text

G, ALICE, BOB = 500, 7001, 7002
CANARY = "canary-note-3f9c1e do not keep me"

# Tables a test creates to exercise the generic chain-following on shapes features use.
EXTRA_SCHEMA = """
CREATE TABLE t_counters (counter_id INTEGER PRIMARY KEY,
    member_id INTEGER NOT NULL REFERENCES members (member_id) ON DELETE CASCADE, name TEXT) STRICT;
CREATE TABLE t_slips (slip_id INTEGER PRIMARY KEY,
    counter_id INTEGER NOT NULL REFERENCES t_counters (counter_id) ON DELETE CASCADE, note TEXT) STRICT;
CREATE TABLE t_pairs (pair_id INTEGER PRIMARY KEY,
    a_member_id INTEGER NOT NULL REFERENCES members (member_id) ON DELETE CASCADE,
    b_member_id INTEGER NOT NULL REFERENCES members (member_id) ON DELETE CASCADE) STRICT;
CREATE TABLE t_alerts (alert_id INTEGER PRIMARY KEY, guild_id INTEGER NOT NULL,
    member_id INTEGER REFERENCES members (member_id) ON DELETE CASCADE, acknowledged_by INTEGER) STRICT;
"""


async def add_extra_tables(services: Services) -> None:
    await services.db.conn.executescript(EXTRA_SCHEMA)


async def seed(services: Services) -> tuple[int, int]:
    alice = (await services.settings.touch(G, ALICE)).member_id
    bob = (await services.settings.touch(G, BOB)).member_id
    async with services.db.transaction() as conn:
        await conn.execute("INSERT INTO t_counters (counter_id, member_id, name) VALUES (1, ?, 'gambling')", (alice,))
        await conn.execute("INSERT INTO t_slips (counter_id, note) VALUES (1, ?)", (CANARY,))
        await conn.execute("INSERT INTO t_counters (counter_id, member_id, name) VALUES (2, ?, 'bob-counter')", (bob,))
        await conn.execute("INSERT INTO t_pairs (a_member_id, b_member_id) VALUES (?, ?)", (bob, alice))
        await conn.execute("INSERT INTO t_alerts (guild_id, member_id, acknowledged_by) VALUES (?, ?, ?)", (G, bob, ALICE))
    now = services.clock.now()
    await services.outbox_repo.enqueue(
        NewOutboxItem("reminder:alice", "reminder", "dm", ALICE, OutgoingMessage(CANARY), G, alice),
        not_before=now + timedelta(hours=1), now=now)
    # Messages to Bob that name Alice: one sent already, one still waiting.
    for key, not_before in (("note:bob:sent", now), ("note:bob:later", now + timedelta(hours=1))):
        await services.outbox_repo.enqueue(
            NewOutboxItem(key, "test", "dm", BOB, OutgoingMessage(f"<@{ALICE}> would like to say hi"), G, bob),
            not_before=not_before, now=now)
    await services.outbox.dispatch()
    return alice, bob


async def test_every_table_is_member_linked_or_server_level(services: Services) -> None:
    repo = PrivacyRepository(services.db)
    assert await repo.unlinked_tables() == [], (
        "these tables are reachable neither from members nor from guilds by foreign keys, so /privacy "
        "export/delete and the retention purge would miss them: add a member_id FK (ON DELETE CASCADE), "
        "or a guild_id FK for server configuration")
    assert await repo.server_tables_naming_members() == [], (
        "server-level tables must not hold member data: link them to members(member_id) instead")
    assert await repo.non_cascading_keys() == [], "deleting a member or server must cascade (or set null) everywhere"
    assert await repo.operational_tables_with_ids() == [], (
        "operational tables are exempt from export and delete only because they name nobody")


async def test_every_key_to_a_member_is_indexed(services: Services) -> None:
    # Deleting a member makes SQLite look up every row that references it; without an index
    # that is a scan of the whole table per deleted member, and a purge of thousands crawls.
    unindexed = []
    for key in await PrivacyRepository(services.db).foreign_keys():
        if key.parent != "members":
            continue
        leading = set()
        for index in await services.db.fetch_all(f'PRAGMA index_list("{key.table}")'):
            columns = await services.db.fetch_all(f'PRAGMA index_info("{index["name"]}")')
            sql = await services.db.fetch_value("SELECT sql FROM sqlite_master WHERE name = ?", (index["name"],))
            # A partial index serves the lookup only if the lookup implies its condition.
            usable = not index["partial"] or " ".join(sql.split()).endswith(f"WHERE {columns[0]['name']} IS NOT NULL")
            if columns and usable:
                leading.add(columns[0]["name"])
        primary = [r["name"] for r in await services.db.fetch_all(f'PRAGMA table_info("{key.table}")') if r["pk"] == 1]
        if key.column not in leading and [key.column] != primary:
            unindexed.append(f"{key.table}.{key.column}")
    assert unindexed == [], f"index these columns (a migration): {unindexed}"


async def test_export_follows_foreign_keys_and_hides_internal_ids(services: Services) -> None:
    await add_extra_tables(services)
    await seed(services)
    export = await services.privacy.export(G, ALICE)
    doc = json.loads(export.data)
    assert doc["format"] == EXPORT_FORMAT and doc["user_id"] == str(ALICE)
    tables = doc["tables"]
    assert [r["name"] for r in tables["t_counters"]] == ["gambling"]
    assert [r["note"] for r in tables["t_slips"]] == [CANARY]
    pair = tables["t_pairs"][0]
    assert pair == {"pair_id": 1, "a_member_user_id": BOB, "b_member_user_id": "you"}
    assert [r["dedupe_key"] for r in tables["outbox"]] == ["reminder:alice"]
    assert "bob-counter" not in export.data.decode()
    assert "t_alerts" not in tables  # an alert about Bob is not Alice's data
    assert export.row_count == sum(len(v) for v in tables.values())


async def test_export_for_a_stranger_is_empty(services: Services) -> None:
    doc = json.loads((await services.privacy.export(G, 999)).data)
    assert doc["tables"] == {}


async def test_delete_needs_confirmation_by_the_same_member_within_the_window(services: Services,
                                                                               clock: FakeClock) -> None:
    await add_extra_tables(services)
    await seed(services)
    with pytest.raises(ConflictError):
        await services.privacy.confirm_delete(G, ALICE)  # nothing requested
    assert await services.privacy.request_delete(G, ALICE) is not None
    with pytest.raises(ConflictError):
        await services.privacy.confirm_delete(G, BOB)  # Bob pressing Alice's button deletes nothing
    clock.advance(timedelta(minutes=6))
    with pytest.raises(ConflictError, match="expired"):
        await services.privacy.confirm_delete(G, ALICE)
    assert await services.members.get(G, ALICE) is not None
    assert await services.members.get(G, BOB) is not None
    assert await services.privacy.request_delete(G, 424242) is None  # never used the bot


async def test_confirmed_delete_leaves_no_trace(services: Services, config: Config) -> None:
    await add_extra_tables(services)
    alice, _ = await seed(services)
    said_goodbye = []

    async def goodbye(conn: aiosqlite.Connection, guild_id: int, user_id: int) -> None:
        said_goodbye.append((guild_id, user_id))

    services.privacy.before_forget(goodbye)
    await services.privacy.request_delete(G, ALICE)
    await services.privacy.confirm_delete(G, ALICE)
    assert said_goodbye == [(G, ALICE)]
    repo = PrivacyRepository(services.db)
    for table in await repo.tables():
        for row in await services.db.fetch_all(f'SELECT * FROM "{table}"'):  # noqa: S608
            values = [row[k] for k in row.keys()]  # noqa: SIM118
            assert ALICE not in values, f"{table} still names Alice: {dict(row)}"
            assert not any(names_in_text(v, ALICE) for v in values), f"{table} still has Alice's id in text: {dict(row)}"
            if "member_id" in row.keys():  # noqa: SIM118
                assert row["member_id"] != alice, f"{table} still has Alice's member row"
    assert await services.db.fetch_value("SELECT count(*) FROM t_counters") == 1  # Bob's stays
    assert await services.db.fetch_value("SELECT acknowledged_by FROM t_alerts") is None
    # secure_delete + checkpoint: the canary is gone from the files, not just from queries.
    for path in (config.database_path, Path(f"{config.database_path}-wal")):
        if path.exists():
            assert CANARY.encode() not in path.read_bytes(), f"{path.name} still holds the deleted note"


async def test_retention_purges_inactive_members_and_left_servers(services: Services, clock: FakeClock) -> None:
    await services.settings.touch(G, ALICE)
    await services.settings.touch(G + 1, BOB)
    clock.advance(timedelta(days=200))
    await services.settings.touch(G, BOB)  # Bob stays active in both servers
    await services.settings.touch(G + 1, BOB)
    clock.advance(timedelta(days=170))  # Alice: 370 days idle; Bob in G: 170 days
    await services.guilds.mark_left(G + 1, clock.now())
    assert await services.privacy.purge(clock.now()) == 1
    assert await services.members.get(G, ALICE) is None
    assert await services.members.get(G, BOB) is not None
    assert await services.members.get(G + 1, BOB) is not None  # server left only today
    clock.advance(timedelta(days=31))
    await services.privacy.purge(clock.now())
    assert await services.guilds.get(G + 1) is None
    assert await services.members.get(G + 1, BOB) is None


def test_data_statement_mentions_every_promise() -> None:
    text = data_statement()
    for phrase in ("/privacy export", "/privacy delete", "Never the message", "ids only", "30 days"):
        assert phrase in text


async def test_retention_drops_finished_outbox_rows_after_30_days(services: Services, clock: FakeClock) -> None:
    now = clock.now()
    await services.outbox_repo.enqueue(NewOutboxItem("old:1", "t", "channel", 5, OutgoingMessage("x")),
                                       not_before=now, now=now)
    await services.outbox_repo.enqueue(NewOutboxItem("pending:1", "t", "channel", 5, OutgoingMessage("y")),
                                       not_before=now + timedelta(days=90), now=now)
    await services.outbox.dispatch()
    clock.advance(timedelta(days=29))
    await services.privacy.purge(clock.now())
    assert await services.outbox_repo.status_of("old:1") == "sent"
    clock.advance(timedelta(days=2))
    await services.privacy.purge(clock.now())
    assert await services.outbox_repo.status_of("old:1") is None
    assert await services.outbox_repo.status_of("pending:1") == "pending"


async def test_a_goodbye_that_fails_is_undone_whole_and_the_data_still_goes(services: Services) -> None:
    await services.settings.touch(G, ALICE)
    await services.settings.touch(G, BOB)

    async def half_a_goodbye(conn: aiosqlite.Connection, guild_id: int, user_id: int) -> None:
        await conn.execute("UPDATE members SET region = 'GB' WHERE user_id = ?", (BOB,))
        raise RuntimeError("the goodbye could not be said")

    services.privacy.before_forget(half_a_goodbye)
    assert await services.privacy.forget(G, ALICE)
    assert await services.members.get(G, ALICE) is None
    bob = await services.members.get(G, BOB)
    assert bob is not None and bob.region is None


# -- the retention purge at scale and under change ----------------------------------------


def returns_after_the_scan(services: Services, monkeypatch: pytest.MonkeyPatch, come_back: object) -> None:
    """Run `come_back()` right after the purge has found its inactive members (before it deletes)."""
    scan = services.privacy.privacy.members_inactive_since
    done = False

    async def scan_then_come_back(cutoff: datetime, **kwargs: int) -> list[tuple[int, int, int]]:
        nonlocal done
        found = await scan(cutoff, **kwargs)
        if found and not done:
            done = True
            await come_back()  # type: ignore[operator]
        return found

    monkeypatch.setattr(services.privacy.privacy, "members_inactive_since", scan_then_come_back)


async def test_a_member_who_comes_back_mid_purge_keeps_their_data(services: Services, clock: FakeClock,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    await services.checkins.check_in(G, ALICE, mood=4, note=CANARY)
    await services.settings.touch(G, BOB)
    clock.advance(timedelta(days=400))

    async def alice_checks_in() -> None:
        await services.checkins.check_in(G, ALICE, mood=3)

    returns_after_the_scan(services, monkeypatch, alice_checks_in)
    assert await services.privacy.purge(clock.now()) == 1
    assert await services.members.get(G, BOB) is None
    assert await services.members.get(G, ALICE) is not None, "Alice came back and her data was deleted"
    assert await services.db.fetch_value("SELECT count(*) FROM checkins") == 2


async def test_a_member_whose_counter_starts_mid_purge_keeps_their_data(services: Services, clock: FakeClock,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    alice = (await services.settings.touch(G, ALICE)).member_id
    clock.advance(timedelta(days=400))

    async def a_counter_appears() -> None:  # e.g. restored by a moderator tool; Alice herself is still idle
        async with services.db.transaction() as conn:
            await conn.execute("INSERT INTO recovery_counters (member_id, guild_id, name, name_key, created_at, "
                               "updated_at) VALUES (?, ?, 'x', 'x', 'now', 'now')", (alice, G))

    returns_after_the_scan(services, monkeypatch, a_counter_appears)
    assert await services.privacy.purge(clock.now()) == 0
    assert await services.members.get(G, ALICE) is not None


@asynccontextmanager
async def statements(services: Services) -> AsyncIterator[list[str]]:
    """Every statement either database connection runs meanwhile."""
    seen: list[str] = []
    for conn in (services.db.conn, services.db.reader):
        await conn.set_trace_callback(seen.append)
    try:
        yield seen
    finally:
        for conn in (services.db.conn, services.db.reader):
            await conn.set_trace_callback(None)


async def test_the_purge_works_in_batches_reads_the_schema_once_and_checkpoints_once(
        services: Services, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(privacy_module, "PURGE_BATCH", 10, raising=False)
    for n in range(45):
        await services.checkins.check_in(G, 10_000 + n, mood=3, note=CANARY)
    tables = len(await PrivacyRepository(services.db).tables())
    clock.advance(timedelta(days=400))
    async with statements(services) as ran:
        assert await services.privacy.purge(clock.now()) == 45
    checkpoints = [s for s in ran if "wal_checkpoint" in s]
    schema_reads = [s for s in ran if s.startswith("PRAGMA table_info")]
    commits = [s for s in ran if s.strip() == "COMMIT"]
    assert len(checkpoints) == 1, f"{len(checkpoints)} checkpoints for 45 members"
    assert len(schema_reads) <= tables, f"the schema was read {len(schema_reads)} times for 45 members"
    # 45 members in batches of 10: five, plus the few statements that tidy up after.
    assert len(commits) <= 5 + 4, f"{len(commits)} commits for 45 members"
    assert await services.db.fetch_value("SELECT count(*) FROM members") == 0
    assert await services.db.fetch_value("SELECT count(*) FROM checkins") == 0


async def test_a_purged_member_s_buddy_is_told_kindly_and_their_notice_survives(
        services: Services, clock: FakeClock, notifier: RecordingNotifier) -> None:
    await services.buddies.request(G, ALICE, BOB)
    await services.buddies.accept(G, BOB, ALICE)
    clock.advance(timedelta(days=200))
    await services.settings.touch(G, BOB)  # Bob stays; Alice goes quiet
    clock.advance(timedelta(days=200))
    assert await services.privacy.purge(clock.now()) == 1
    assert await services.members.get(G, ALICE) is None
    await services.outbox.dispatch()
    assert len([m for m in notifier.dms_to(BOB) if "stepped away" in m.message.content]) == 1
