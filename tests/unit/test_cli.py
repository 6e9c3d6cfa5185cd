"""The command line: exit codes and messages of SPEC §1."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "KINDRED_"))}
    base["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-m", "bot", *args], capture_output=True, text=True,
                          env=base | (env or {}), cwd=cwd or ROOT, timeout=60)


def test_run_without_token_exits_2_with_one_line(tmp_path: Path) -> None:
    result = run("run", env={"KINDRED_DATABASE": str(tmp_path / "k.sqlite3")}, cwd=tmp_path)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1
    assert "DISCORD_TOKEN" in lines[0] and "export DISCORD_TOKEN=" in lines[0]
    assert not (tmp_path / "k.sqlite3").exists(), "run without a token must not touch the database"


def test_check_config_prints_masked_settings(tmp_path: Path) -> None:
    result = run("check-config", env={"DISCORD_TOKEN": "supersecrettokenvalue"}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "supersecrettokenvalue" not in result.stdout
    assert "DISCORD_TOKEN = supe… (set" in result.stdout
    assert "defaults.timezone = 'UTC'" in result.stdout


def test_check_config_names_the_bad_key(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[defaults]\nprompt_time = "9am"\n')
    result = run("check-config", cwd=tmp_path)
    assert result.returncode == 2
    assert "defaults.prompt_time" in result.stderr


def test_migrate_then_backup(tmp_path: Path) -> None:
    db = tmp_path / "data" / "k.sqlite3"
    env = {"KINDRED_DATABASE": str(db)}
    migrated = run("migrate", env=env, cwd=tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    assert "schema version" in migrated.stdout
    version = sqlite3.connect(db).execute("PRAGMA user_version").fetchone()[0]
    assert f"schema version {version}" in migrated.stdout and version >= 1
    copy = tmp_path / "backup.sqlite3"
    backed_up = run("backup", str(copy), env=env, cwd=tmp_path)
    assert backed_up.returncode == 0, backed_up.stderr
    assert "integrity_check: ok" in backed_up.stdout
    assert sqlite3.connect(copy).execute("PRAGMA user_version").fetchone()[0] == version
    again = run("backup", str(copy), env=env, cwd=tmp_path)
    assert again.returncode == 2 and "already exists" in again.stderr


def test_backup_without_database_is_a_usage_error(tmp_path: Path) -> None:
    result = run("backup", str(tmp_path / "b.sqlite3"), env={"KINDRED_DATABASE": str(tmp_path / "none.sqlite3")},
                 cwd=tmp_path)
    assert result.returncode == 2 and "no database" in result.stderr


def test_sync_without_token_exits_2(tmp_path: Path) -> None:
    assert run("sync", "--guild", "123", cwd=tmp_path).returncode == 2


def test_unknown_command_is_a_usage_error(tmp_path: Path) -> None:
    assert run("dance", cwd=tmp_path).returncode == 2
