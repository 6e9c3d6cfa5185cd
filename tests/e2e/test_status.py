"""`python -m bot status` against a running bot, a stopped one, late work, and operator mistakes (SPEC §1)."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.fakediscord import FakeDiscord
from tests.e2e.helpers import BotProcess, Community, bot_env, run_cli

SWEEPS = ("checkin-prompts", "checkin-reminders", "recovery-milestones", "buddy-nudges", "buddy-matching",
          "retention-purge", "urge-checkbacks")


def one_line(output: str) -> str:
    lines = output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in output, output
    return lines[0]


async def test_status_of_a_running_then_stopped_bot_and_late_work(
        fake_discord: FakeDiscord, community: Community, tmp_path: Path,
        bot_process: Callable[..., Awaitable[BotProcess]]) -> None:
    database = tmp_path / "kindred.sqlite3"
    env = bot_env(fake_discord, database)
    proc = await bot_process()

    code, output = await run_cli("status", env=env)
    assert code == 0, output
    assert output.splitlines()[0].endswith(": healthy")
    for sweep in SWEEPS:
        assert f"ok    sweep {sweep}: ran " in output, output
    assert "ok    gateway: heard " in output and "ok    outbox: 0 waiting" in output
    assert "crisis data: crisis numbers last checked " in output

    assert await proc.stop() == 0
    code, output = await run_cli("status", env=env)
    assert code == 1, output
    assert output.splitlines()[0].endswith(": UNHEALTHY")
    assert "FAIL  bot: nothing is running (stopped cleanly " in output

    # Work that came due while nothing ran: a server's prompt ten minutes ago.
    due = (datetime.now(UTC) - timedelta(minutes=10)).isoformat(timespec="seconds")
    with sqlite3.connect(database) as conn:
        conn.execute("INSERT INTO checkin_prompt_schedule (guild_id, next_due_at) VALUES (?, ?)",
                     (community.guild.id, due))
    code, output = await run_cli("status", env=env)
    assert code == 1 and "FAIL  sweep checkin-prompts: due work 10 min late" in output, output


async def test_status_names_an_operators_mistake_in_one_line_with_exit_2(fake_discord: FakeDiscord, tmp_path: Path) -> None:
    database = tmp_path / "kindred.sqlite3"
    env = bot_env(fake_discord, database)

    code, output = await run_cli("status", env=env)
    assert code == 2 and one_line(output).startswith(f"no database at {database}"), output

    broken = tmp_path / "broken.toml"
    broken.write_text("[scheduler]\nsweep_seconds = 45\n")
    code, output = await run_cli("status", env={**env, "KINDRED_CONFIG": str(broken)})
    assert code == 2 and "sweep_seconds" in one_line(output), output

    code, output = await run_cli("migrate", env=env)
    assert code == 0, output
    with sqlite3.connect(database) as conn:
        latest = conn.execute("PRAGMA user_version").fetchone()[0]
        conn.execute(f"PRAGMA user_version = {latest - 1}")
    code, output = await run_cli("status", env=env)
    assert code == 2 and "run `python -m bot migrate`" in one_line(output), output

    (tmp_path / "folder.sqlite3").mkdir()
    code, output = await run_cli("status", env={**env, "KINDRED_DATABASE": str(tmp_path / "folder.sqlite3")})
    assert code == 2 and "is a folder" in one_line(output), output


async def test_status_with_a_broken_data_file_is_one_line(fake_discord: FakeDiscord, tmp_path: Path) -> None:
    database = tmp_path / "kindred.sqlite3"
    env = bot_env(fake_discord, database)
    code, output = await run_cli("migrate", env=env)
    assert code == 0, output
    own = tmp_path / "own-data"
    own.mkdir()
    (own / "crisis_resources.toml").write_text("this is [not valid toml\n")
    code, output = await run_cli("status", env={**env, "KINDRED_DATA_DIR": str(own)})
    assert code == 2 and "crisis_resources.toml" in one_line(output), output


async def test_status_only_reads_the_database(fake_discord: FakeDiscord, tmp_path: Path) -> None:
    # It runs every few minutes from a health timer beside the bot: it must not write, or
    # checkpoint the WAL (which takes the bot's write lock).
    database = tmp_path / "kindred.sqlite3"
    env = bot_env(fake_discord, database)
    code, output = await run_cli("migrate", env=env)
    assert code == 0, output
    with sqlite3.connect(database) as conn:  # leave something in the WAL, as a running bot does
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        conn.execute("INSERT INTO guilds (guild_id, joined_at, updated_at) VALUES (1, 'x', 'x')")
    # (-shm is SQLite's shared-memory index, where every reader notes what it reads: not data.)
    files = [tmp_path / "kindred.sqlite3", tmp_path / "kindred.sqlite3-wal"]
    before = [f.read_bytes() for f in files]
    assert before[1], "the WAL holds the insert"
    code, output = await run_cli("status", env=env)
    assert code == 1, output  # nothing running
    assert [f.read_bytes() for f in files] == before


async def test_status_warns_when_the_crisis_numbers_have_not_been_checked_for_too_long(
        fake_discord: FakeDiscord, tmp_path: Path) -> None:
    # Freshness belongs to the running bot and to status, not to the suite's calendar (issue 13 item 16).
    database = tmp_path / "kindred.sqlite3"
    env = bot_env(fake_discord, database)
    code, output = await run_cli("migrate", env=env)
    assert code == 0, output
    own = tmp_path / "own-data"
    own.mkdir()
    shipped = (Path(__file__).resolve().parents[2] / "data" / "crisis_resources.toml").read_text()
    assert 'last_checked = "' in shipped
    old = re.sub(r'^last_checked = "[0-9-]+"', 'last_checked = "2020-01-02"', shipped, count=1, flags=re.M)
    (own / "crisis_resources.toml").write_text(old)
    code, fresh = await run_cli("status", env=env)
    assert "ok    crisis data: " in fresh, fresh
    code, output = await run_cli("status", env={**env, "KINDRED_DATA_DIR": str(own)})
    assert "WARN  crisis data: crisis numbers last checked 2020-01-02" in output, output
