"""The composition root: `KindredBot` wires database, services, views, cogs and scheduler."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

import discord
import yarl
from discord.ext import commands

from bot.config import Config
from bot.db.database import Database
from bot.discord_notifier import DiscordNotifier
from bot.domain.clock import Clock, SystemClock
from bot.domain.messages import OutgoingMessage
from bot.errors import DatabaseUnavailableError, MigrationError
from bot.services.container import Services, build_services
from bot.tree import KindredTree

log = logging.getLogger(__name__)

# Extensions loaded in this order; each module's `setup(bot)` registers its persistent
# components first and then adds its cog with the services it needs.
EXTENSIONS: tuple[str, ...] = (
    "cogs.settings",
    "cogs.config",
    "cogs.privacy",
    "cogs.checkins",
    "cogs.recovery",
    "cogs.buddies",
    "cogs.crisis",
)


def intents_for(config: Config) -> discord.Intents:
    """Return the minimal intents: guilds, plus message content only for passive detection."""
    intents = discord.Intents.none()
    intents.guilds = True
    if config.crisis.detection_intent:
        intents.guild_messages = True
        intents.message_content = True
    return intents


def apply_endpoints(config: Config) -> None:
    """Point discord.py at the configured REST base and gateway (proxies, local test servers)."""
    discord.http.Route.BASE = config.api_base
    if config.gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(config.gateway_url)


class KindredBot(commands.Bot):
    """Kindred's Discord client."""

    def __init__(self, config: Config, *, clock: Clock | None = None, start_scheduler: bool = True,
                 **options: Any) -> None:
        options.setdefault("guild_ready_timeout", 2.0)
        super().__init__(
            command_prefix=commands.when_mentioned,
            help_command=None,
            tree_cls=KindredTree,
            intents=intents_for(config),
            allowed_mentions=discord.AllowedMentions.none(),
            member_cache_flags=discord.MemberCacheFlags.none(),
            chunk_guilds_at_startup=False,
            max_messages=None,
            **options,
        )
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self.start_scheduler = start_scheduler
        self.db = Database(config.database_path)
        self._services: Services | None = None
        self._announced = False
        self._db_retry: asyncio.Task[None] | None = None
        # Features add lines to `/settings show` (e.g. the reminder time) here.
        self.settings_show_providers: list[Callable[[int, int], Awaitable[list[str]]]] = []

    @property
    def services(self) -> Services:
        """The wired services (available from `setup_hook` on)."""
        if self._services is None:
            raise RuntimeError("services are built in setup_hook")
        return self._services

    async def start(self, token: str, *, reconnect: bool = True) -> None:
        """Point discord.py at the configured endpoints, then log in and connect."""
        apply_endpoints(self.config)
        await super().start(token, reconnect=reconnect)

    async def setup_hook(self) -> None:
        """Open and migrate the database, build services, register views and cogs, start sweeps.

        This runs once per process, before the gateway connects; `on_ready` is not used
        for set-up because it fires again after every reconnect. If the database cannot be
        opened, the bot still starts: crisis help is served from memory, other commands
        answer kindly that records are unreachable, and the database is retried.
        """
        database_ready = await self.try_open_database()
        self._services = build_services(self.config, self.db, self.clock, DiscordNotifier(self))
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        if database_ready:
            self._start_sweeps()
        else:
            self._db_retry = asyncio.create_task(self._retry_database(), name="kindred-db-retry")

    async def try_open_database(self) -> bool:
        """Open and migrate the database; on failure log it (ids only) and return False."""
        if self.db.is_open:
            return True
        try:
            await self.db.open()
            version = await self.db.migrate()
        except (DatabaseUnavailableError, MigrationError, sqlite3.Error, OSError) as exc:
            await self.db.close()
            log.error("database unavailable (%s): serving crisis help from memory, retrying",
                      type(exc).__name__)
            return False
        log.info("database ready at schema version %d", version)
        return True

    async def _retry_database(self) -> None:
        # A plain periodic retry: nothing signals "the disk is back", so polling is the honest way.
        while not await self.try_open_database():  # noqa: ASYNC110
            await asyncio.sleep(self.config.scheduler.sweep_seconds)
        self._start_sweeps()

    def _start_sweeps(self) -> None:
        if self.start_scheduler:
            self.services.scheduler.start()

    async def run_sweeps_once(self) -> int:
        """Run every due-work sweep once and drain the outbox (tests drive time with a FakeClock)."""
        return await self.services.scheduler.run_all_once()

    async def on_ready(self) -> None:
        """Log the connection (ids only); tell the operator channel once per process."""
        log.info("connected as %s to %d guild(s)", self.user.id if self.user else "?", len(self.guilds))
        try:
            # Servers that re-added the bot while it was offline are not "left" any more.
            await self.services.guilds.mark_present([g.id for g in self.guilds], self.clock.now())
            version: int | str = await self.db.schema_version()
        except DatabaseUnavailableError:
            log.warning("database unavailable at ready; server presence not recorded")
            version = "unavailable"
        if self.config.bot.ops_channel_id and not self._announced:
            self._announced = True
            await self.services.notifier.send_channel(self.config.bot.ops_channel_id, OutgoingMessage(
                f"Kindred is up: database schema {version}, {len(self.guilds)} server(s)."))

    async def on_guild_join(self, guild: discord.Guild) -> None:
        """Create the server's row when the bot joins (or clear its "left" mark)."""
        await self.services.guilds.mark_present([guild.id], self.clock.now())
        log.info("joined guild %s", guild.id)

    async def on_guild_remove(self, guild: discord.Guild) -> None:
        """Remember when the bot left a server so its data can be purged later."""
        await self.services.guilds.mark_left(guild.id, self.clock.now())
        log.info("left guild %s", guild.id)

    async def close(self) -> None:
        """Stop the scheduler, then the gateway, then the database."""
        if self._db_retry is not None:
            self._db_retry.cancel()
        if self._services is not None:
            self._services.scheduler.shutdown()
        try:
            await super().close()
        finally:
            await self.db.close()
            log.info("shut down cleanly")
