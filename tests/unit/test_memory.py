"""Resident memory: what the running bot keeps (bench/README.md, "Memory", has the measurements)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXTENSIONS = ("cogs.settings", "cogs.config", "cogs.privacy", "cogs.checkins", "cogs.recovery", "cogs.buddies",
              "cogs.crisis")


def _loaded_after_import(modules: tuple[str, ...], *watched: str) -> list[str]:
    """Import `modules` in a fresh interpreter; return which of `watched` are then loaded."""
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(','.join(m for m in {watched!r} if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    return [m for m in result.stdout.strip().split(",") if m]


def test_phone_number_library_loads_only_when_a_number_is_checked() -> None:
    # phonenumbers (58 modules, ~1.8 MiB) checks the numbers moderators add to the crisis
    # directory, a rare command: a bot that never sees one should not keep it resident.
    assert _loaded_after_import(("bot.app", *EXTENSIONS), "phonenumbers") == []
    assert _loaded_after_import(("bot.domain.contacts",), "phonenumbers") == []
    code = "from bot.domain.contacts import check_contact; print(check_contact('116 123', 'GB').text)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == "116 123"
