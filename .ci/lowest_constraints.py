"""Print pip constraints pinning every dependency of pyproject.toml to its lowest allowed version.

CI installs with them once, so the lower bounds the project declares are tested, not assumed.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*(.*)$")


def lowest(requirement: str) -> str | None:
    """Return `name==lowest` for a requirement with a `>=` bound, else None."""
    match = REQUIREMENT.match(requirement.split(";")[0])
    if match is None:
        return None
    name, specifiers = match.group(1), match.group(3)
    floor = next((s.strip()[2:].strip() for s in specifiers.split(",") if s.strip().startswith(">=")), None)
    return None if floor is None else f"{name}=={floor}"


def main() -> int:
    project = tomllib.loads(Path(sys.argv[1] if len(sys.argv) > 1 else "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    for pin in filter(None, map(lowest, requirements)):
        print(pin)
    return 0


if __name__ == "__main__":
    sys.exit(main())
