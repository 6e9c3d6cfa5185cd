"""Level 5: the real `python -m bot run`, left running on a fast-forwarded clock.

The bot process runs under libfaketime (Debian's `faketime` package): its wall clock, its
monotonic clock, `asyncio.sleep`, epoll timeouts and so APScheduler all follow a timestamp
file that the test rewrites. Writing `@2027-03-13 13:59:00 x60` makes the process's clock read
that instant at once and then run 60 times faster; rewriting it jumps the running process
forward (wall and monotonic together). The test process itself, and the fake Discord, stay
on the real clock.

Nothing here runs a sweep by hand: if a scheduled behaviour shows up, the running process's
own scheduler made it happen. The bot is never restarted either, except by `restart(at)` in the
one test that proves a scheduled message goes out once across a restart (the urge check-back).

Facts this relies on (measured with Python 3.11-3.13, discord.py 2.x, APScheduler 3.x):
- Timed waits in *threads* never time out under libfaketime, so discord.py's heartbeat
  thread never beats; the fake gateway sends heartbeat requests (op 1) itself, and the
  client answers them from its event loop.
- After a jump, discord.py's receive timeout has expired: it closes the socket and RESUMEs,
  which the fake supports.
- Only jump forward, and only while the bot is idle.
"""

from __future__ import annotations

import glob
import os
import re
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from bot.domain.localtime import to_utc_text
from bot.fakediscord import FakeDiscord, Message, User
from bot.tree import DATABASE_TROUBLE
from tests.e2e.helpers import BotProcess, Community, run_cli

T = TypeVar("T")

_LIBRARY_PATTERNS = (
    "/usr/lib/*/faketime/libfaketimeMT.so.1",
    "/usr/lib/faketime/libfaketimeMT.so.1",
    "/usr/local/lib/faketime/libfaketimeMT.so.1",
)
ON_TIME = timedelta(seconds=10)  # work due at 09:00 starts in the first seconds of 09:00
# The bot's clock runs 40 of its seconds a real second between events (its own timeouts — 1.5 s
# for the database's write lock, 60 s for a send — are then 38 ms and 1.5 s of real time)...
CRUISE_RATE = 40
APPROACH_RATE = 3  # ...and slows down as a due instant comes, so "on time" is measured, not the machine's load
APPROACH = timedelta(seconds=6)  # two real seconds before the due instant
# The bot's seconds between the fake gateway's heartbeat requests: well inside the 60 of its
# seconds after which discord.py gives up on a silent connection, and well under the 120 sends a
# minute its gateway rate limiter allows (each request is answered with a heartbeat).
SERVER_HEARTBEAT_BOT_SECONDS = 5.0
# Discord remembers a nonce for about 5 minutes of real time: the bot's, in a live test.
NONCE_WINDOW_BOT_SECONDS = 300.0
_LOG_TIME = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")  # the text log's asctime (TZ=UTC)


def local(day: date, hh: int, mm: int, tz: str) -> datetime:
    """The UTC instant of a wall-clock time in a zone (the first one, on a fall-back night)."""
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=ZoneInfo(tz)).astimezone(UTC)


def find_libfaketime() -> Path | None:
    """Return the multi-threaded libfaketime library, if installed."""
    override = os.environ.get("KINDRED_LIBFAKETIME")
    candidates = [override] if override else [p for pattern in _LIBRARY_PATTERNS for p in sorted(glob.glob(pattern))]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


class LiveClock:
    """The clock of the bot process: libfaketime's timestamp file, rewritten to move it."""

    def __init__(self, path: Path, library: Path, start: datetime, rate: float) -> None:
        self.path, self.library = path, library
        self._write(start, rate)

    def env(self) -> dict[str, str]:
        """Environment that puts a process on this clock."""
        return {
            "LD_PRELOAD": str(self.library),
            "FAKETIME_TIMESTAMP_FILE": str(self.path),
            "FAKETIME_NO_CACHE": "1",  # read the file on every clock read, so a rewrite takes effect at once
            "NO_FAKE_STAT": "1",  # file times stay real (Python's .pyc checks)
            "TZ": "UTC",  # libfaketime reads '@' timestamps in the process's local zone
        }

    @property
    def rate(self) -> float:
        return self._rate

    def now(self) -> datetime:
        """Estimate the bot's current instant (to a few of its seconds: it notices a rewrite on its next clock read)."""
        return self._base + (datetime.now(UTC) - self._written) * self._rate

    def jump(self, to: datetime, rate: float | None = None) -> None:
        """Move the bot's clock forward to `to` (and optionally change its speed)."""
        if to <= self.now():
            raise ValueError(f"the live clock only moves forward: {to.isoformat()} is not after ~{self.now().isoformat()}")
        self._write(to, self._rate if rate is None else rate)

    def _write(self, instant: datetime, rate: float) -> None:
        instant = instant.astimezone(UTC).replace(microsecond=0)
        self._base, self._rate, self._written = instant, rate, datetime.now(UTC)
        spec = f"@{instant:%Y-%m-%d %H:%M:%S} x{rate:g}\n"
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(spec)
        os.replace(temporary, self.path)  # atomic: the process never reads half a file


def pace_heartbeats(fake: FakeDiscord, rate: float) -> None:
    """Make the fake keep time with the bot's clock running at `rate`: its heartbeat requests, and how
    long it remembers a nonce (so a resend Discord would no longer recognise shows up as a duplicate)."""
    fake.gateway.server_heartbeat_s = SERVER_HEARTBEAT_BOT_SECONDS / rate
    fake.nonce_window = NONCE_WINDOW_BOT_SECONDS / rate


@dataclass
class LiveKindred:
    """A running `python -m bot run` on a live clock, its fake Discord and its database."""

    fake: FakeDiscord
    community: Community
    proc: BotProcess
    clock: LiveClock
    database: Path
    # Every process started for this bot (the fixture stops them all and reads their logs).
    processes: list[BotProcess] = field(default_factory=list)

    # -- the database, read as an operator would (read-only; the bot keeps writing) ----------

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(f"file:{self.database}?mode=ro", uri=True, timeout=5)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def bot_time(self) -> datetime | None:
        """When the running bot's scheduler last finished its every-minute sweeps (its clock).

        The prompt sweep's row, not the gateway's: a RESUME records the gateway too, outside any tick.
        """
        try:
            rows = self.query("SELECT last_finished_at FROM sweep_health WHERE name = 'checkin-prompts'")
        except sqlite3.OperationalError:
            return None  # no such table: this bot records nothing about its sweeps
        return datetime.fromisoformat(rows[0][0]) if rows and rows[0][0] else None

    # -- waiting -------------------------------------------------------------------------

    async def wait_for(self, predicate: Callable[[], T], *, timeout: float = 20.0, what: str) -> T:
        """Wait (in real seconds) until `predicate()` is truthy; re-checked on every gateway frame."""
        try:
            return await self.fake.wait_for(predicate, timeout, what)
        except TimeoutError:
            raise AssertionError(
                f"timed out waiting for {what} (bot clock ~{self.clock.now():%Y-%m-%d %H:%M:%S}Z)\n"
                f"--- bot output (last 40 lines) ---\n{''.join(self.proc.lines[-40:])}"
            ) from None

    async def ticks_past(self, instant: datetime, *, timeout: float = 20.0) -> None:
        """Wait until the bot's own scheduler completed a minute tick at or after `instant` (its clock),
        and what that tick queued has been sent."""
        await self.wait_for(lambda: (t := self.bot_time()) is not None and t >= instant, timeout=timeout,
                            what=f"the bot's scheduler to tick at {instant:%Y-%m-%d %H:%M}Z")
        await self.idle(timeout=timeout)

    async def idle(self, *, timeout: float = 20.0) -> None:
        """Wait until the bot has nothing in flight (call before jumping: a jump expires every timeout in flight).

        Nothing due may be left unsent in the outbox, and the bot must have answered two heartbeat
        requests since, so its event loop has also read the answers to its last requests (the fake
        records an interaction reply before the bot has read Discord's answer to it).
        """
        def settled() -> bool:
            # The estimate of the bot's clock can be a moment off: count what is due a second later too.
            soon = to_utc_text(self.clock.now() + timedelta(seconds=1))
            rows = self.query("SELECT count(*) FROM outbox WHERE status = 'pending' AND not_before <= ?", (soon,))
            return rows[0][0] == 0
        await self.wait_for(settled, timeout=timeout, what="the outbox to be drained")
        answered = len(self.fake.gateway.received(1))
        await self.wait_for(lambda: len(self.fake.gateway.received(1)) >= answered + 2, timeout=timeout,
                            what="the bot to answer two heartbeat requests")

    async def jump(self, to: datetime, rate: float = CRUISE_RATE) -> None:
        """Let the bot finish what is due, then move its clock forward to `to`, running `rate` times faster."""
        await self.idle()
        pace_heartbeats(self.fake, rate)
        self.clock.jump(to, rate)

    async def approach(self, due: datetime) -> None:
        """Jump to just before `due`, slowed down so that how late the bot is can be measured in seconds."""
        await self.jump(due - APPROACH, APPROACH_RATE)

    async def restart(self, at: datetime, rate: float = APPROACH_RATE) -> None:
        """Stop the bot cleanly and start it again with its clock at `at` (later than now), running `rate` times faster.

        Slow by default: starting a process takes real seconds, and how late start-up work is
        should be measured in the bot's seconds, not the machine's load. Only for a test of
        exactly-once across a restart: everything else at this level must happen in one process
        that stays up.
        """
        await self.idle()
        code = await self.proc.stop()
        assert code == 0, f"the bot exited with {code} on SIGTERM"
        pace_heartbeats(self.fake, rate)
        self.clock.jump(at, rate)  # a process started now begins at `at`
        self.proc = BotProcess(self.fake, self.proc.env)
        self.processes.append(self.proc)
        await self.proc.start()
        await self.proc.wait_ready()

    async def cli(self, *args: str) -> tuple[int, str]:
        """Run `python -m bot *args` as the operator would, on the bot's clock and configuration."""
        return await run_cli(*args, env=self.proc.env)

    # -- acting as members -----------------------------------------------------------------

    async def run(self, command: str, *, user: User, **options: Any) -> Message:
        """Run a slash command as `user` in the community's server; return the bot's reply.

        The bot's clock runs at normal speed meanwhile: its time limits (how long a command may
        wait for the database's write lock, Discord's deadline) are on its clock, and at the
        cruising rate a loaded machine's pause would spend them and make a member's command fail.
        """
        guild = options.pop("guild", self.community.guild)
        rate = self.clock.rate
        if rate > 1:
            self._set_rate(1)
        try:
            handle = await self.fake.slash(command, user=user, guild=guild, **options)
            reply = await handle.reply(timeout=20)
        finally:
            if rate > 1:
                self._set_rate(rate)
        assert reply.text != DATABASE_TROUBLE, f"{command} was refused: the database was busy"
        return reply

    def _set_rate(self, rate: float) -> None:
        """Change how fast the bot's clock runs, from (about) where it is now."""
        pace_heartbeats(self.fake, rate)
        self.clock.jump(self.clock.now() + timedelta(seconds=1), rate)

    async def sent_at(self, message: Message) -> datetime:
        """When the bot's outbox recorded sending `message` (its clock; it records once Discord answered)."""
        def recorded() -> list[tuple[Any, ...]]:
            return self.query("SELECT sent_at FROM outbox WHERE message_id = ? AND sent_at IS NOT NULL", (message.id,))
        rows = await self.wait_for(recorded, what=f"the outbox record of message {message.id}")
        return datetime.fromisoformat(rows[0][0])

    async def expect(self, messages: Callable[[], list[Message]], count: int, due: datetime, what: str) -> Message:
        """Wait for the `count`-th of `messages()`; the bot must have sent it in the first seconds after `due`.

        Call `approach(due)` first: at the cruising rate a second of the machine's load is a minute of the bot's.
        """
        found = await self.wait_for(lambda: messages()[count - 1:], what=f"{what} #{count}, due {due:%Y-%m-%d %H:%M}Z")
        sent = await self.sent_at(found[0])
        assert due <= sent < due + ON_TIME, f"{what} #{count} was sent at {sent:%Y-%m-%d %H:%M:%S}Z, due {due:%H:%M:%S}Z"
        return found[0]

    def logged(self, pattern: str) -> list[datetime]:
        """When (by the bot's clock, from its log's timestamps) the bot logged lines matching `pattern`."""
        found = []
        for line in self.proc.lines:
            stamp = _LOG_TIME.match(line)
            if stamp and re.search(pattern, line):
                found.append(datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S,%f").replace(tzinfo=UTC))
        return found

    def dms(self, user: User, needle: str = "") -> list[Message]:
        """The bot's DMs to `user` containing `needle`, oldest first."""
        return [m for m in self.fake.dms_to(user) if needle in m.content]
