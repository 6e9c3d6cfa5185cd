"""The command line: exit codes and messages of SPEC §1."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

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
    assert "`python -m bot demo`" in lines[0], "a newcomer is told how to try it with no Discord application"
    assert not (tmp_path / "k.sqlite3").exists(), "run without a token must not touch the database"


@pytest.mark.parametrize(("interpreter", "says"), [
    (".venv/bin/python", "`.venv/bin/python -m bot demo`"),  # the README's first command, venv not activated
    ("/usr/bin/python3", "`python -m bot demo`"),
])
def test_the_demo_hint_names_the_interpreter_that_ran(tmp_path: Path, interpreter: str, says: str) -> None:
    # `python -m bot demo` fails where `python` is not the venv's: say the command that works here.
    executable = str(tmp_path / interpreter) if not interpreter.startswith("/") else interpreter
    script = f"import sys; sys.executable = {executable!r}; from bot.__main__ import main; sys.exit(main(['run']))"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "KINDRED_"))}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=tmp_path,
                            env=base | {"PYTHONPATH": str(ROOT), "KINDRED_DATABASE": str(tmp_path / "k.sqlite3")})
    assert result.returncode == 2, result.stderr
    assert says in result.stderr, result.stderr
    assert result.stderr.count("-m bot demo") == 1


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


# -- operator errors: one line naming the problem, exit 2, never a traceback ----------------------

UNREACHABLE = "http://127.0.0.1:9/api/v10"  # the discard port: nothing listens, the connection is refused


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    """Return the only line on stderr, after checking the exit code and that there is no traceback."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def broken_data(tmp_path: Path, name: str, text: str) -> dict[str, str]:
    own = tmp_path / "own"
    own.mkdir(exist_ok=True)
    (own / name).write_text(text, encoding="utf-8")
    return {"KINDRED_DATA_DIR": str(own)}


@pytest.mark.parametrize(
    ("name", "text", "says"),
    [
        ("crisis_resources.toml", "country = [", "not valid TOML"),
        ("crisis_resources.toml", "schema_version = 2\n", "schema_version is 2"),
        ("crisis_phrases.toml", "version = 1\n[[rule]]\nid = 'x'\n", "crisis_phrases.toml"),
        ("crisis_templates.toml", "version = 7\n", "version is 7"),
        ("prompts.toml", "prompts = []\n", "non-empty `prompts` array"),
        ("coping.toml", "version = 1\nsources = [", "not valid TOML"),
        ("coping.toml", "version = 1\nsources = ['x']\n[urge]\nintro = 'Breathe'\n", "[urge].steps"),
    ],
)
def test_check_config_loads_every_data_file(tmp_path: Path, name: str, text: str, says: str) -> None:
    line = one_line(run("check-config", env=broken_data(tmp_path, name, text), cwd=tmp_path))
    assert name in line and says in line and str(tmp_path / "own" / name) in line


def test_check_config_reports_the_data_it_loaded(tmp_path: Path) -> None:
    result = run("check-config", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "33 countries" in result.stdout and "prompts" in result.stdout
    assert "coping texts version 1" in result.stdout


def _unusable_databases(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a folder should be")
    folder = tmp_path / "a-folder.sqlite3"
    folder.mkdir()
    junk = tmp_path / "junk.sqlite3"
    junk.write_text("not a database at all, but long enough to have a header")
    return {"under a file": (blocker / "k.sqlite3", "is a file, not a folder"),
            "a folder": (folder, "is a folder"),
            "not sqlite": (junk, "not a SQLite database")}


@pytest.mark.parametrize("case", ["under a file", "a folder", "not sqlite"])
@pytest.mark.parametrize("command", [("check-config",), ("migrate",), ("backup", "copy.sqlite3"), ("run",)])
def test_an_unusable_database_path_is_one_line(tmp_path: Path, case: str, command: tuple[str, ...]) -> None:
    database, says = _unusable_databases(tmp_path)[case]
    if command[0] == "backup" and case == "under a file":
        says = "no database at"
    # `run` must say so before it tries the network (nothing listens at UNREACHABLE).
    env = {"KINDRED_DATABASE": str(database), "DISCORD_TOKEN": "token", "DISCORD_API_BASE": UNREACHABLE}
    line = one_line(run(*command, env=env, cwd=tmp_path))
    assert str(database) in line and says in line
    assert not (tmp_path / "copy.sqlite3").exists()


def test_run_with_broken_data_says_so_before_connecting(tmp_path: Path) -> None:
    env = broken_data(tmp_path, "crisis_resources.toml", "country = [") | {
        "DISCORD_TOKEN": "token", "DISCORD_API_BASE": UNREACHABLE, "KINDRED_DATABASE": str(tmp_path / "k.sqlite3")}
    line = one_line(run("run", env=env, cwd=tmp_path))
    assert "crisis_resources.toml" in line and "not valid TOML" in line


def test_sync_without_network_is_one_line(tmp_path: Path) -> None:
    env = {"DISCORD_TOKEN": "token", "DISCORD_API_BASE": UNREACHABLE, "KINDRED_DATABASE": str(tmp_path / "k.sqlite3")}
    line = one_line(run("sync", env=env, cwd=tmp_path))
    assert "can't reach Discord" in line and "127.0.0.1:9" in line


@pytest.mark.parametrize("env", [{}, {"KINDRED_METRICS_ADDR": "nonsense"}], ids=["no token", "bad config"])
def test_json_format_problem_lines_are_json(tmp_path: Path, env: dict[str, str]) -> None:
    result = run("run", env={"KINDRED_LOG_FORMAT": "json", "KINDRED_DATABASE": str(tmp_path / "k.sqlite3"), **env},
                 cwd=tmp_path)
    assert result.returncode == 2
    [line] = [line for line in result.stderr.splitlines() if line.strip()]
    record = json.loads(line)
    assert record["level"] == "ERROR"
    assert ("DISCORD_TOKEN" if not env else "KINDRED_METRICS_ADDR") in record["message"]
