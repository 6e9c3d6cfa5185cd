"""Shared helpers for the benchmarks that run a bot process against the loopback fake Discord.

The fake (bot/fakediscord) runs in the benchmark's own process and event loop; each bot runs
in a child process (`bench/_child.py`), so a bot never shares an event loop (or a GIL) with
the fake. The child answers JSON commands on stdin (set its FakeClock, run the
sweeps once, quit) with one JSON line on stdout; its log goes to a file.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CHILD = ROOT / "bench" / "_child.py"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
READY_TIMEOUT = 120.0


def machine() -> str:
    """One line naming the machine and its load, for the top of a benchmark's output."""
    import discord

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{os.cpu_count()} cores ({platform.processor() or platform.machine()}), Python "
            f"{sys.version.split()[0]}, discord.py {discord.__version__}, load average {load}")


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation between closest ranks."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def memory_mib(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MiB, from /proc/<pid>/status."""
    found: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0]) / 1024  # kB
    return found["VmRSS"], found["VmHWM"]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used (from /proc/<pid>/stat)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def bot_env(fake: Any, database: Path, **extra: str) -> dict[str, str]:
    """Environment for a Kindred child against `fake` with its own database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "KINDRED_"))}
    env.update(
        DISCORD_TOKEN=fake.token, DISCORD_API_BASE=fake.api_base, DISCORD_GATEWAY_URL=fake.gateway_url,
        KINDRED_DATABASE=str(database), KINDRED_LOG_LEVEL="INFO", PYTHONUNBUFFERED="1",
        PYTHONPATH=str(ROOT),
    )
    env.update(extra)
    return env


@dataclass
class Child:
    """A bot in a child process, driven by JSON lines."""

    proc: asyncio.subprocess.Process
    log_path: Path
    ready: dict[str, Any] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def command(self, cmd: str, timeout: float = 600.0, **args: Any) -> dict[str, Any]:
        """Send one command; return the child's JSON answer."""
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps({"cmd": cmd, **args}) + "\n").encode())
        await self.proc.stdin.drain()
        return await self._read(timeout)

    async def _read(self, timeout: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not line:
            await self.proc.wait()
            raise RuntimeError(f"bot child exited with {self.proc.returncode}; log:\n{self.tail()}")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"bot child: {answer['error']}; log:\n{self.tail()}")
        return answer

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    async def stop(self) -> int:
        """Ask the child to close the bot cleanly; kill it if it does not."""
        if self.proc.returncode is None:
            try:
                await self.command("quit", timeout=30)
            except (RuntimeError, TimeoutError, ConnectionError):
                pass
            try:
                await asyncio.wait_for(self.proc.wait(), 30)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        return self.proc.returncode or 0


async def start_child(mode: str, env: dict[str, str], log_path: Path) -> Child:
    """Start `bench/_child.py <mode>` and wait until its bot is connected and ready."""
    log_file = log_path.open("ab")
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(CHILD), mode, cwd=str(log_path.parent), env=env,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=log_file,
            limit=1 << 20)
    finally:
        log_file.close()
    child = Child(proc, log_path)
    child.ready = await child._read(READY_TIMEOUT)
    return child
