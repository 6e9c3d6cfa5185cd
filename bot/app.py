"""The composition root: `KindredBot` wires database, services, views, cogs and scheduler."""

from __future__ import annotations

import logging
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
        for set-up because it fires again after every reconnect.
        """
        await self.db.open()
        version = await self.db.migrate()
        log.info("database ready at schema version %d", version)
        self._services = build_services(self.config, self.db, self.clock, DiscordNotifier(self))
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        if self.start_scheduler:
            self.services.scheduler.start()

    async def run_sweeps_once(self) -> int:
        """Run every due-work sweep once and drain the outbox (tests drive time with a FakeClock)."""
        return await self.services.scheduler.run_all_once()

    async def on_ready(self) -> None:
        """Log the connection (ids only); tell the operator channel once per process."""
        log.info("connected as %s to %d guild(s)", self.user.id if self.user else "?", len(self.guilds))
        # Servers that re-added the bot while it was offline are not "left" any more.
        await self.services.guilds.mark_present([g.id for g in self.guilds], self.clock.now())
        if self.config.bot.ops_channel_id and not self._announced:
            self._announced = True
            version = await self.db.schema_version()
            await self.services.notifier.send_channel(self.config.bot.ops_channel_id, OutgoingMessage(
                f"Kindred is up: schema version {version}, {len(self.guilds)} server(s)."))

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
        if self._services is not None:
            self._services.scheduler.shutdown()
        try:
            await super().close()
        finally:
            await self.db.close()
            log.info("shut down cleanly")
