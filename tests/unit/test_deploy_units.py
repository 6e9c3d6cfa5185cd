"""docs/deploy: the systemd units an admin installs are valid and hardened as the README says."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "docs" / "deploy"
UNITS = ("kindred.service", "kindred-health.service", "kindred-health.timer")
INSTALLED_PYTHON = "/opt/kindred/venv/bin/python"


def unit(name: str) -> dict[str, dict[str, list[str]]]:
    """A unit file's sections and their (possibly repeated) keys."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in (DEPLOY / name).read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def test_the_service_runs_as_its_own_user_with_state_restart_and_hardening() -> None:
    service = unit("kindred.service")["Service"]
    assert service["User"] == ["kindred"] and service["Group"] == ["kindred"]
    assert service["StateDirectory"] == ["kindred"] and service["StateDirectoryMode"] == ["0700"]
    assert service["Restart"] == ["on-failure"] and service["RestartPreventExitStatus"] == ["2"]
    assert service["EnvironmentFile"] == ["/etc/kindred/kindred.env"]
    assert service["ExecStartPre"] == [f"-{INSTALLED_PYTHON} -m bot migrate"]
    assert service["ExecStart"] == [f"{INSTALLED_PYTHON} -m bot run"]
    for key, value in {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
                       "PrivateDevices": "yes", "RestrictSUIDSGID": "yes", "CapabilityBoundingSet": ""}.items():
        assert service[key] == [value], key
    assert "DISCORD_TOKEN" not in (DEPLOY / "kindred.service").read_text(encoding="utf-8").replace(
        "DISCORD_TOKEN=...", ""), "the token belongs in the root-only environment file"


def test_the_health_check_runs_status_on_a_timer() -> None:
    health = unit("kindred-health.service")["Service"]
    assert health["Type"] == ["oneshot"] and health["User"] == ["kindred"]
    assert health["ExecStart"] == [f"{INSTALLED_PYTHON} -m bot status"]
    timer = unit("kindred-health.timer")
    assert timer["Timer"]["Unit"] == ["kindred-health.service"] and timer["Timer"]["OnUnitActiveSec"] == ["5min"]
    assert timer["Install"]["WantedBy"] == ["timers.target"]


def _verify(folder: Path, names: tuple[str, ...]) -> str:
    analyze = shutil.which("systemd-analyze")
    assert analyze is not None
    result = subprocess.run([analyze, "verify", "--man=no", *(str(folder / n) for n in names)],
                            capture_output=True, text=True, timeout=120)
    return f"exit {result.returncode}\n{result.stdout}{result.stderr}" if (
        result.returncode or result.stdout.strip() or result.stderr.strip()) else ""


def test_systemd_analyze_verify_accepts_the_units(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (Debian package `systemd`)")
    # The one change: the interpreter, which verify requires to exist, is this test's instead of /opt/kindred's.
    for name in UNITS:
        text = (DEPLOY / name).read_text(encoding="utf-8")
        (tmp_path / name).write_text(text.replace(INSTALLED_PYTHON, sys.executable), encoding="utf-8")
    assert _verify(tmp_path, UNITS) == ""
    # A control: verify does complain here (a unit with a misspelt key), so the silence above means something.
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "kindred.service").write_text(
        (tmp_path / "kindred.service").read_text(encoding="utf-8").replace("ProtectHome=yes", "ProtectHom=yes"))
    assert "ProtectHom" in _verify(broken, ("kindred.service",))
