"""Without PostgreSQL's binaries the PostgreSQL half is skipped with its reason, except in CI, where it fails.

Run as a separate pytest, with KINDRED_POSTGRES_BINDIR pointing at a folder that holds no
server: what a developer's machine without Debian's `postgresql` package looks like.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ONE_TEST = "tests/db/test_engines.py::test_a_long_id_list_is_one_parameter"


def run_postgres_half(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("KINDRED_")}
    environment.update(KINDRED_POSTGRES_BINDIR=str(tmp_path / "no-server-here"), **env)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", "--backend", "postgresql", ONE_TEST],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120, check=False)


def test_a_developer_machine_without_postgresql_skips_the_half_and_says_why(tmp_path: Path) -> None:
    result = run_postgres_half(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 skipped" in result.stdout and "PostgreSQL is not installed" in result.stdout, result.stdout
    assert "apt-get install postgresql" in result.stdout


def test_ci_without_postgresql_fails_instead_of_skipping(tmp_path: Path) -> None:
    result = run_postgres_half(tmp_path, KINDRED_REQUIRE_POSTGRES="1")
    assert result.returncode == 1, result.stdout + result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert "1 error" in summary and "skipped" not in summary, result.stdout
    assert "Failed: PostgreSQL is not installed" in result.stdout, result.stdout
