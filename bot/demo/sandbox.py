"""The demo's world: a sandbox server on the loopback Discord, the real bot against it, and its clock."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.config import Config
from bot.domain.clock import ShiftedClock
from bot.fakediscord import VIEW_CHANNEL, Channel, FakeDiscord, Guild, User

if TYPE_CHECKING:
    from bot.app import KindredBot
    from bot.domain.clock import Clock

log = logging.getLogger(__name__)

READY_TIMEOUT = 30.0
# The scheduled work the clock control can skip to, by sweep (SPEC §4: prompts, reminders, milestones).
SKIPPABLE = {
    "checkin-prompts": "the daily check-in prompt",
    "checkin-reminders": "a check-in reminder",
    "recovery-milestones": "a milestone celebration",
}


@dataclass(frozen=True, slots=True)
class Person:
    """Someone the visitor can act as."""

    user: User
    moderator: bool


@dataclass(frozen=True, slots=True)
class World:
    """The sandbox server and the people in it."""

    guild: Guild
    people: tuple[Person, ...]

    def person(self, user_id: int) -> Person | None:
        return next((p for p in self.people if p.user.id == user_id), None)


def build_world(fake: FakeDiscord) -> World:
    """A small recovery community: three members, a moderator, and a channel only moderators see."""
    guild = fake.add_guild("Recovery Circle (sandbox)",
                           channels=["general", "check-ins", "celebrations", "mod-alerts"])
    people = []
    for name, moderator in (("Alex", False), ("Jordan", False), ("Sam", False), ("Robin", True)):
        user = fake.add_user(name)
        fake.add_member(guild, user, manage_guild=moderator)
        people.append(Person(user, moderator))
    alerts = guild.channel("mod-alerts")
    fake.set_overwrite(alerts, guild.everyone, deny=VIEW_CHANNEL)
    fake.set_overwrite(alerts, guild.role("Moderators"), allow=VIEW_CHANNEL)
    fake.set_overwrite(alerts, fake.bot, allow=VIEW_CHANNEL)
    return World(guild, tuple(people))


def demo_config(fake: FakeDiscord, database: Path) -> Config:
    """Kindred's defaults (not the operator's config.toml), a throw-away database, and the loopback Discord.

    Unlike the defaults, the message-content intent is asked for (the loopback Discord grants it,
    as the Developer Portal would once switched on), so a moderator can try passive detection.
    """
    defaults = Config()
    return dataclasses.replace(defaults, token=fake.token, api_base=fake.api_base, gateway_url=fake.gateway_url,
                               database_path=database,
                               crisis=dataclasses.replace(defaults.crisis, detection_intent=True))


@contextlib.asynccontextmanager
async def running_kindred(fake: FakeDiscord, config: Config, *, clock: Clock | None = None, sync: bool = True,
                          start_scheduler: bool = False, **options: Any) -> AsyncIterator[KindredBot]:
    """Run KindredBot in this event loop until the block ends.

    Ready means: discord.py's ready event fired and (with `sync`) the commands are synced
    globally to the fake. The scheduler is off by default (tests drive sweeps with
    `bot.run_sweeps_once()`); the demo turns it on.
    """
    from bot.app import make_bot

    options.setdefault("guild_ready_timeout", 0.05)
    bot = make_bot(config, clock=clock, start_scheduler=start_scheduler, **options)
    runner = asyncio.create_task(bot.start(fake.token), name="kindred")
    try:
        ready = asyncio.create_task(bot.wait_until_ready())
        done, _ = await asyncio.wait({runner, ready}, timeout=READY_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
        if ready not in done:
            ready.cancel()
            if runner in done:
                runner.result()  # raises the start-up error
            raise TimeoutError(f"Kindred was not ready after {READY_TIMEOUT}s; requests: {fake.request_log[-10:]}")
        if sync:
            await bot.tree.sync()
        yield bot
    finally:
        await bot.close()
        try:
            await asyncio.wait_for(runner, 10)
        except (TimeoutError, asyncio.CancelledError):
            runner.cancel()


@dataclass(frozen=True, slots=True)
class Jump:
    """Where a fast-forward took the bot's clock, and why."""

    to: datetime
    reason: str


class Sandbox:
    """The running demo: the loopback Discord, its world, the bot and the bot's clock."""

    def __init__(self, fake: FakeDiscord, world: World, bot: KindredBot, clock: ShiftedClock) -> None:
        self.fake, self.world, self.bot, self.clock = fake, world, bot, clock

    async def next_event(self) -> Jump | None:
        """The earliest prompt, reminder or milestone the bot has scheduled, as its own sweeps see it."""
        found = []
        for sweep in self.bot.services.scheduler.sweeps:
            if sweep.name in SKIPPABLE and sweep.oldest_due is not None:
                due = await sweep.oldest_due()
                if due is not None:
                    found.append(Jump(due, SKIPPABLE[sweep.name]))
        return min(found, key=lambda j: j.to, default=None)

    async def fast_forward(self, by: timedelta | None = None) -> Jump | None:
        """Move the bot's clock to its next scheduled event (or `by` ahead); its running scheduler does the rest."""
        if by is not None:
            jump: Jump | None = Jump(self.clock.now() + by, f"{_describe(by)} later")
        else:
            jump = await self.next_event()
            if jump is None:
                return None
        assert jump is not None
        self.clock.jump_to(jump.to)
        log.info("demo clock moved forward to %s", jump.to.isoformat())
        await self.bot.services.scheduler.run_now()
        return jump

    def channel(self, channel_id: int) -> Channel | None:
        return self.fake.world.channels.get(channel_id)


def _describe(delta: timedelta) -> str:
    hours = int(delta.total_seconds() // 3600)
    return f"{hours // 24} day{'s' * (hours // 24 != 1)}" if hours % 24 == 0 else f"{hours} hour{'s' * (hours != 1)}"
