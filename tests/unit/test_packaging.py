"""A non-editable install (a wheel, as a container builds) runs from any folder."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_NOT_SOURCE = {".git", ".venv", "build", "dist", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache",
               ".hypothesis", "bench", "tests"}


def _skip_non_source(folder: str, names: list[str]) -> set[str]:
    return {n for n in names if n in _NOT_SOURCE or n.endswith((".egg-info", ".sqlite3", ".sqlite3-wal", ".sqlite3-shm"))}


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "KINDRED_", "PYTHON"))}
    return env | extra


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build a wheel from a copy of the source, install it into a new venv; return its python."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    shutil.copytree(ROOT, src, ignore=_skip_non_source)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp / "dist"), str(src)],
                   check=True, capture_output=True, timeout=300)
    [wheel] = (tmp / "dist").glob("kindred-*.whl")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
                   check=True, capture_output=True, timeout=300)
    # Kindred's dependencies come from this environment; a path in a .pth file is added to
    # sys.path without running that folder's own .pth files, so the editable checkout stays out.
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True, env=_env()).stdout.strip()
    (Path(site) / "kindred-test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def run_installed(python: Path, *args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(python), *args], capture_output=True, text=True, cwd=cwd, env=_env(**env), timeout=120)


@pytest.mark.slow
def test_the_installed_package_has_its_data(installed: Path, tmp_path: Path) -> None:
    code = ("import bot; from bot.config import load_config; from bot.services.crisis import load_crisis_data; "
            "print(bot.__file__); print(len(load_crisis_data(load_config(env={})).directory.countries))")
    result = run_installed(installed, "-c", code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    where, countries = result.stdout.split()
    assert Path(where).is_relative_to(installed.parent.parent), "imported the checkout, not the wheel"
    assert countries == "33"


@pytest.mark.slow
def test_the_installed_package_has_the_demo_page_and_its_loopback_discord(installed: Path, tmp_path: Path) -> None:
    code = ("from bot.demo.page import STATIC; from bot.fakediscord import FakeDiscord; "
            "print(' '.join(sorted(p.name for p in STATIC.iterdir())))")
    result = run_installed(installed, "-c", code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["demo.css", "demo.js", "index.html"]


@pytest.mark.slow
def test_check_config_and_migrate_from_any_folder_use_the_config_files_folder(installed: Path, tmp_path: Path) -> None:
    etc, first, second = tmp_path / "etc", tmp_path / "first", tmp_path / "second"
    for folder in (etc, etc / "own", first, second):
        folder.mkdir()
    (etc / "own" / "prompts.toml").write_text('prompts = ["What helped today?"]\n', encoding="utf-8")
    config = etc / "config.toml"
    config.write_text('[bot]\ndatabase = "state/kindred.sqlite3"\ndata_dir = "own"\n', encoding="utf-8")
    database = etc / "state" / "kindred.sqlite3"

    checked = run_installed(installed, "-m", "bot", "check-config", cwd=first, KINDRED_CONFIG=str(config))
    assert checked.returncode == 0, checked.stderr
    assert f"database = {database} (will be created)" in checked.stdout
    assert f"prompts.toml = {etc / 'own' / 'prompts.toml'}" in checked.stdout
    shipped = [line for line in checked.stdout.splitlines() if "crisis_resources.toml = " in line]
    assert len(shipped) == 1 and "/bot/data/crisis_resources.toml" in shipped[0] and str(installed.parent.parent) in shipped[0]

    migrated = run_installed(installed, "-m", "bot", "migrate", cwd=second, KINDRED_CONFIG=str(config))
    assert migrated.returncode == 0, migrated.stderr
    assert str(database) in migrated.stdout
    assert sqlite3.connect(database).execute("PRAGMA user_version").fetchone()[0] >= 1
    assert not any(second.iterdir()) and not any(first.iterdir()), "nothing is written where the command ran"
