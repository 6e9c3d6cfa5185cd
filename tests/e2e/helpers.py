"""Helpers for end-to-end tests: a default community, Kindred in-process (started as the demo starts it), and Kindred as a subprocess."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import re
import signal
import sys
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from bot.demo.sandbox import READY_TIMEOUT, running_kindred  # noqa: F401 - e2e tests start Kindred as the demo does
from bot.fakediscord import GUILD_VOICE, Channel, FakeDiscord, Guild, User

if TYPE_CHECKING:
    from bot.config import Config

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[2]
# The bot logs this from on_ready; a subprocess counts as ready once it appears after IDENTIFY.
READY_LOG = re.compile(r"connected as")


@dataclass(frozen=True, slots=True)
class Community:
    """The default world of an e2e test: one server, its channels, two members and a moderator."""

    guild: Guild
    general: Channel
    checkins: Channel
    celebrations: Channel
    alerts: Channel
    alice: User
    bob: User
    mod: User
    meeting_room: Channel  # a voice channel


def build_community(fake: FakeDiscord) -> Community:
    guild = fake.add_guild("Recovery Circle", channels=["general", "check-ins", "celebrations", "mod-alerts"])
    room = fake.add_channel(guild, "meeting-room", type=GUILD_VOICE)
    alice, bob, mod = fake.add_user("alice"), fake.add_user("bob"), fake.add_user("mod")
    fake.add_member(guild, alice)
    fake.add_member(guild, bob)
    fake.add_member(guild, mod, manage_guild=True)
    return Community(guild, guild.channel("general"), guild.channel("check-ins"), guild.channel("celebrations"),
                     guild.channel("mod-alerts"), alice, bob, mod, room)


def config_for(fake: FakeDiscord, base: Config, **changes: Any) -> Config:
    """`base` pointed at the fake (token, REST base, gateway), with dataclass `changes` applied."""
    return dataclasses.replace(base, token=fake.token, api_base=fake.api_base, gateway_url=fake.gateway_url, **changes)


async def eventually(read: Callable[[], Awaitable[T]], done: Callable[[T], bool], timeout: float = 10.0) -> T:
    """Read until `done(value)` (for state a bot's listener task records a moment after an event); return it."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not done(value := await read()):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"still {value!r} after {timeout}s")
        await asyncio.sleep(0.01)
    return value


def bot_env(fake: FakeDiscord, database: Path, **extra: str) -> dict[str, str]:
    """Environment for `python -m bot ...` against the fake with its own database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "KINDRED_"))}
    env.update(
        DISCORD_TOKEN=fake.token,
        DISCORD_API_BASE=fake.api_base,
        DISCORD_GATEWAY_URL=fake.gateway_url,
        KINDRED_DATABASE=str(database),
        KINDRED_LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


async def run_cli(*args: str, env: Mapping[str, str], timeout: float = 60.0) -> tuple[int, str]:
    """Run `python -m bot *args` to completion; return (exit code, combined output)."""
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", *args, cwd=REPO, env=dict(env),
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    return proc.returncode or 0, out.decode(errors="replace")


class BotProcess:
    """`python -m bot run` as a child process talking to the fake."""

    def __init__(self, fake: FakeDiscord, env: Mapping[str, str]) -> None:
        self.fake, self.env = fake, dict(env)
        self.proc: asyncio.subprocess.Process | None = None
        self.lines: list[str] = []
        self._reader: asyncio.Task[None] | None = None
        self._identifies_before = 0

    @property
    def output(self) -> str:
        return "".join(self.lines)

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.returncode

    async def start(self) -> BotProcess:
        self._identifies_before = len(self.fake.gateway.received(2))
        self.proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot", "run", cwd=REPO, env=self.env,
                                                         stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        async for raw in self.proc.stdout:
            self.lines.append(raw.decode(errors="replace"))
            self.fake.changes.notify()
        await self.proc.wait()
        self.fake.changes.notify()

    async def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Wait until the fake saw this process IDENTIFY and the bot logged that it is ready."""
        def ready_or_dead() -> bool:
            identified = len(self.fake.gateway.received(2)) > self._identifies_before
            return self.returncode is not None or (identified and bool(READY_LOG.search(self.output)))

        try:
            await self.fake.wait_for(ready_or_dead, timeout, "the bot process to be ready")
        except TimeoutError:
            raise TimeoutError(f"bot process not ready after {timeout}s; output:\n{self.output}") from None
        if self.returncode is not None:
            raise RuntimeError(f"bot process exited with {self.returncode} before it was ready; output:\n{self.output}")

    async def kill(self) -> int:
        """SIGKILL at once (no clean shutdown, as in a crash or an OOM kill); return the exit code."""
        assert self.proc is not None
        if self.proc.returncode is None:
            self.proc.kill()
        return await self.stop()

    async def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM, wait up to `timeout`, then SIGKILL; return the exit code."""
        proc = self.proc
        if proc is None:
            return 0
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), timeout)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._reader, 5)
        assert proc.returncode is not None
        return proc.returncode
