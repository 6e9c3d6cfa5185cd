"""The seam: domain, db, services and scheduling never import discord."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import bot

ROOT = Path(__file__).resolve().parents[2]
PURE_PACKAGES = ("bot.domain", "bot.db", "bot.services", "bot.scheduling")


def _modules() -> list[str]:
    names = []
    for package in PURE_PACKAGES:
        module = importlib.import_module(package)
        names.append(package)
        for info in pkgutil.walk_packages(module.__path__, prefix=package + "."):
            names.append(info.name)
    return names


def test_pure_layers_exist_and_have_modules() -> None:
    assert len(_modules()) >= 10, _modules()


def test_pure_layers_do_not_import_discord() -> None:
    # A fresh interpreter: this test process may already have discord loaded.
    code = (
        "import importlib, sys\n"
        f"for name in {_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m == 'discord' or m.startswith('discord.'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.strip() == "", f"discord imported by a pure layer: {result.stdout.strip()}"
    assert bot is not None
