"""The seam: domain, db, services and scheduling never import discord."""

from __future__ import annotations

import ast
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


def _imported_modules(path: Path) -> set[str]:
    """Return every module a source file imports (absolute names; `from x import y` gives x and x.y)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_cogs_never_import_the_database_layer() -> None:
    # Cogs talk to services; values and errors they show come from bot.domain and bot.errors.
    # (A runtime check cannot tell: services import bot.db, so it is always loaded.)
    offenders = {
        str(path.relative_to(ROOT)): sorted(m for m in _imported_modules(path) if m == "bot.db" or m.startswith("bot.db."))
        for path in sorted((ROOT / "cogs").rglob("*.py"))
    }
    offenders = {name: mods for name, mods in offenders.items() if mods}
    assert not offenders, f"cogs importing bot.db: {offenders}"


def test_the_import_finder_sees_what_it_looks_for(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import bot.db.crisis\nfrom bot import db\nfrom bot.db.database import X\n", encoding="utf-8")
    assert {"bot.db.crisis", "bot.db", "bot.db.database"} <= _imported_modules(sample)
