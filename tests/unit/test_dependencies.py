"""pyproject declares what the code imports, each with a range known to work."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
LOCAL = {"bot", "cogs"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0]


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _top_level_imports(folder: Path) -> set[str]:
    found: set[str] = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return found


def test_every_dependency_has_a_known_good_range() -> None:
    project = PYPROJECT["project"]
    requirements = [*project["dependencies"], *(r for extra in project["optional-dependencies"].values()
                                                 for r in extra)]
    # tzdata is time zone data, not code: a newer release only has newer DST rules, so it stays open.
    unbounded = [r for r in requirements if "<" not in r and "==" not in r and _name(r) != "tzdata"]
    assert not unbounded, f"no upper bound (a new major or minor release may break the build): {unbounded}"


def test_every_third_party_import_is_a_declared_dependency() -> None:
    declared = {_normal(_name(r)) for r in PYPROJECT["project"]["dependencies"]}
    providers = packages_distributions()
    imported = (_top_level_imports(ROOT / "bot") | _top_level_imports(ROOT / "cogs")) - LOCAL
    third_party = sorted(m for m in imported if m not in sys.stdlib_module_names and m != "__future__")
    missing = {m: providers.get(m) for m in third_party
               if not any(_normal(d) in declared for d in providers.get(m, [m]))}
    assert not missing, f"imported by bot/ or cogs/ but not declared in [project] dependencies: {missing}"
    assert {"discord", "aiosqlite", "phonenumbers"} <= set(third_party)  # the scan sees real imports
