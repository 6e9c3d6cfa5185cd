"""The composition root: `KindredBot` wires database, services, views, cogs and scheduler."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import aiohttp
import discord
import yarl
from discord.ext import commands

from bot.config import Config
from bot.db.database import SHARD_WAIT, Database, database_for
from bot.discord_events import DiscordScheduledEvents
from bot.discord_notifier import DiscordNotifier, RequestPacer, global_share
from bot.domain.clock import Clock, SystemClock
from bot.domain.messages import OutgoingMessage
from bot.errors import DatabaseUnavailableError, MigrationError, OperatorError
from bot.logging_setup import log_context
from bot.memory import limit_arenas, trim
from bot.services.container import Services, build_services
from bot.tree import KindredTree

if TYPE_CHECKING:
    from bot.metrics import PrometheusMetrics

log = logging.getLogger(__name__)

TRIM_EVERY = 60.0  # seconds between handing freed memory back (bot.memory)
RATELIMIT_IDLE = 60.0  # seconds a rate-limit bucket may sit unused before it is dropped (drop_idle_ratelimits)
SHUTDOWN_GRACE = 10.0  # seconds a sweep, a send or a transaction in flight may take to finish at shutdown
# What "Discord cannot be reached" looks like: no route, refused, reset, timed out, DNS, or
# Discord's own 5xx after discord.py's retries. Worth waiting out; nothing to fix in config.
NETWORK_ERRORS: tuple[type[BaseException], ...] = (aiohttp.ClientError, OSError, TimeoutError,
                                                   discord.DiscordServerError)
# Waits between login attempts while Discord cannot be reached at start: 1, 2, 4 … 60 s.
LOGIN_RETRY_FIRST = 1.0
LOGIN_RETRY_MAX = 60.0
LOGIN_REFUSED = ("Discord rejected the token: check DISCORD_TOKEN (Developer Portal → Bot → Reset Token).")


def network_problem(exc: BaseException) -> str:
    """Describe a network failure in one line (its type and what it says)."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def operator_problem(exc: BaseException, config: Config) -> str | None:
    """Return the one line an operator should see for a failure to start, or None for a fault (a bug)."""
    if isinstance(exc, OperatorError):
        return str(exc)
    if isinstance(exc, discord.LoginFailure):
        return LOGIN_REFUSED
    if isinstance(exc, discord.PrivilegedIntentsRequired):
        return ("Discord refused the message-content intent: turn on Message Content Intent for the bot in the "
                "Developer Portal, or set [crisis] detection_intent = false.")
    if isinstance(exc, discord.ConnectionClosed):
        return f"Discord closed the gateway connection (code {exc.code}: {exc.reason or 'no reason given'})."
    if isinstance(exc, NETWORK_ERRORS):
        return (f"can't reach Discord at {config.api_base} ({network_problem(exc)}); check the network "
                "(or DISCORD_API_BASE) and try again.")
    return None

# Extensions loaded in this order; each module's `setup(bot)` registers its persistent
# components first and then adds its cog with the services it needs.
EXTENSIONS: tuple[str, ...] = (
    "cogs.settings",
    "cogs.config",
    "cogs.privacy",
    "cogs.checkins",
    "cogs.recovery",
    "cogs.buddies",
    "cogs.mentors",
    "cogs.meetings",
    "cogs.crisis",
    "cogs.coping",
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


def cancel_ready_wait(client: discord.Client) -> None:
    """Cancel discord.py's wait for a READY's servers if the client closed during it.

    discord.py (2.5-2.7) leaves that task pending on close, and the loop then reports it as
    destroyed while pending ("Task was destroyed but it is pending!") at exit.
    """
    ready = getattr(client._connection, "_ready_task", None)
    if ready is not None and not ready.done():
        ready.cancel()


def drop_idle_ratelimits(http: discord.http.HTTPClient) -> int:
    """Forget rate-limit buckets unused for RATELIMIT_IDLE seconds whose window has reset; return how many.

    discord.py keeps a bucket (~1 KB) for every channel, DM and interaction it has sent to, and
    drops idle ones only when it creates a new one and holds 256 or more: a burst of sends stays
    resident until the next one (4,500 buckets, ~4.5 MiB, after bench/bench_memory.py's day).
    A bucket with nothing in flight or waiting and its window reset knows only its limit; one
    made afresh learns it from its first response.
    """
    buckets = http._buckets
    now = asyncio.get_running_loop().time()
    idle = [key for key, bucket in buckets.items()
            if now - bucket._last_request >= RATELIMIT_IDLE and bucket.outgoing == 0 and not bucket._pending_requests
            and not bucket._sleeping.locked() and (bucket.expires is None or now > bucket.expires)]
    for key in idle:
        del buckets[key]
    return len(idle)


_INTERACTION_TYPES = {2: "command", 3: "component", 4: "autocomplete", 5: "modal"}


def interaction_label(data: dict[str, Any], known: Callable[[str], bool]) -> tuple[str, str]:
    """Name an interaction for metrics by what was used, never by whom: (command or custom id prefix, type).

    A command's name counts only if `known` (registered in the tree); a custom id is cut to
    its fixed prefix (`kindred:buddy:accept:<id>` → `kindred:buddy:accept`).
    """
    from bot.metrics import custom_id_label

    kind = _INTERACTION_TYPES.get(data.get("type", 0), "other")
    inner = data.get("data") or {}
    if kind in ("command", "autocomplete"):
        name = str(inner.get("name", ""))
        if not known(name):
            return "unknown", kind
        parts = [name]
        options = inner.get("options") or []
        # Subcommand groups (type 2) and subcommands (type 1) are part of the name.
        while options and options[0].get("type") in (1, 2):
            parts.append(str(options[0].get("name", "")))
            options = options[0].get("options") or []
        return " ".join(parts), kind
    if kind in ("component", "modal"):
        return custom_id_label(str(inner.get("custom_id", ""))), kind
    return "other", kind


class KindredBot(commands.Bot):
    """Kindred's Discord client."""

    def __init__(self, config: Config, *, clock: Clock | None = None, start_scheduler: bool = True,
                 metrics: PrometheusMetrics | None = None, **options: Any) -> None:
        options.setdefault("guild_ready_timeout", 2.0)
        limit_arenas()  # before the database's and the executor's threads start
        if metrics is not None:
            options.setdefault("http_trace", metrics.http_trace())
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
        self.metrics = metrics
        self._watch_interactions()
        self.clock: Clock = clock or SystemClock()
        self.start_scheduler = start_scheduler
        self.db: Database = database_for(config)
        self._services: Services | None = None
        self._announced = False
        self._db_retry: asyncio.Task[None] | None = None
        self.fatal: OperatorError | None = None  # why the bot stopped itself, for the command line
        self.db.on_shards_lost = self._stop_for_lost_shards
        self._stopping: asyncio.Task[None] | None = None
        self._trimmer: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()  # wakes a login that is waiting for the network
        self._setting_up = False
        self._commands_checked = False
        # Features add lines to `/settings show` (e.g. the reminder time) here.
        self.settings_show_providers: list[Callable[[int, int], Awaitable[list[str]]]] = []

    def _watch_interactions(self) -> None:
        """Tag everything done for an interaction with its ids (logs) and time its answer (metrics).

        discord.py starts each interaction's handler as a task from its INTERACTION_CREATE
        parser; a task inherits the context it is created in, so ids set around the parser
        reach every log line of the handler, library lines included.
        """
        parsers = self._connection.parsers
        parse = parsers["INTERACTION_CREATE"]

        def known(name: str) -> bool:
            return self.tree.get_command(name) is not None

        def parse_with_context(data: dict[str, Any]) -> None:
            if self.metrics is not None:
                command, kind = interaction_label(data, known)
                self.metrics.interaction_received(int(data["id"]), command, kind)
            guild_id = data.get("guild_id")
            with log_context(interaction=int(data["id"]), **({"guild_id": int(guild_id)} if guild_id else {})):
                log.debug("interaction received (type %s)", data.get("type"))
                parse(data)

        parsers["INTERACTION_CREATE"] = parse_with_context

    @property
    def services(self) -> Services:
        """The wired services (available from `setup_hook` on)."""
        if self._services is None:
            raise RuntimeError("services are built in setup_hook")
        return self._services

    async def start(self, token: str, *, reconnect: bool = True) -> None:
        """Point discord.py at the configured endpoints, then log in (waiting for the network) and connect."""
        apply_endpoints(self.config)
        await self.login_when_reachable(token)
        if not self.is_closed():
            await self.connect(reconnect=reconnect)

    async def login_when_reachable(self, token: str) -> None:
        """Log in; while Discord cannot be reached, try again after 1, 2, 4 … 60 s, one log line each.

        The gateway itself is retried by discord.py once logged in; this covers the first
        request, which discord.py does not retry (a server that boots before its network).
        A wrong token or any other error is raised at once.
        """
        delay = LOGIN_RETRY_FIRST
        attempt = 0
        while not self._closing.is_set():
            try:
                await self.login(token)
                return
            except NETWORK_ERRORS as exc:
                if self._setting_up:  # login() reached setup_hook: not the network, a real failure
                    raise
                attempt += 1
                log.warning("can't reach Discord at %s (%s); retrying in %.0fs (attempt %d)",
                            self.config.api_base, network_problem(exc), delay, attempt)
                # login() opens a new HTTP session each time; close this one (and the connector
                # it owns) so the next attempt starts clean.
                await self.http.close()
                self.http.connector = discord.utils.MISSING
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), delay)
            delay = min(delay * 2, LOGIN_RETRY_MAX)

    async def setup_hook(self) -> None:
        """Open and migrate the database, build services, register views and cogs, start sweeps.

        This runs once per process, before the gateway connects; `on_ready` is not used
        for set-up because it fires again after every reconnect. If the database cannot be
        opened, the bot still starts: crisis help is served from memory, other commands
        answer kindly that records are unreachable, and the database is retried.
        """
        self._setting_up = True
        self._trimmer = asyncio.create_task(self._trim_memory(), name="kindred-memory-trim")
        database_ready = await self.try_open_database()
        notifier = DiscordNotifier(self, pacer=RequestPacer(global_share(self.config)))
        # Event requests share the notifier's pace: Discord's global limit belongs to the token.
        events = DiscordScheduledEvents(self, pacer=notifier.pacer)
        self._services = build_services(self.config, self.db, self.clock, notifier, self.metrics, events)
        if self.metrics is not None:
            self.metrics.watch_gateway(self.gateway_connected, lambda: self.latency)
        fresh = self.services.crisis.data_freshness()
        log.log(logging.WARNING if fresh.stale else logging.INFO, "%s", fresh.describe())
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
            # A shard another process runs is refused (OperatorError): its members would be answered twice.
            await self.db.hold_shards(wait=SHARD_WAIT)
        except OperatorError:
            await self.db.close()
            raise
        except (DatabaseUnavailableError, MigrationError, sqlite3.Error, OSError) as exc:
            await self.db.close()
            if self.metrics is not None:
                self.metrics.database_unavailable("startup")
                self.metrics.database_state(False)
            log.error("database unavailable (%s): serving crisis help from memory, retrying",
                      type(exc).__name__)
            return False
        log.info("database ready at schema version %d", version)
        return True

    async def _trim_memory(self) -> None:
        # A plain periodic task: freed heap pages go back to the system once a minute. A failure
        # (it reaches into discord.py's internals and the database's threads) is logged and the
        # loop goes on: ended, it would never hand memory back again, and nothing would say so.
        last_error: str | None = None
        while True:
            await asyncio.sleep(TRIM_EVERY)
            try:
                await self.release_memory()
            except Exception as exc:
                if type(exc).__name__ == last_error:
                    log.warning("memory release still failing (%s)", last_error)  # the traceback was logged once
                else:
                    log.warning("memory release failed", exc_info=True)
                last_error = type(exc).__name__
            else:
                last_error = None

    async def release_memory(self) -> None:
        """Forget idle rate-limit buckets and the database's page caches, then hand freed heap pages back."""
        dropped = drop_idle_ratelimits(self.http)
        if dropped:
            log.debug("dropped %d idle rate-limit bucket(s)", dropped)
        await self.db.release_memory()
        trim()

    async def _retry_database(self) -> None:
        # A plain periodic retry: nothing signals "the disk is back", so polling is the honest way.
        ops = self.services.scheduler.ops
        if ops is not None:
            await ops.database(False)
        try:
            while not await self.try_open_database():  # noqa: ASYNC110
                await asyncio.sleep(self.config.scheduler.sweep_seconds)
        except OperatorError as exc:
            log.error("%s", exc)
            self.fatal = exc
            await self.close()
            return
        if ops is not None:
            await ops.database(True)
        self._start_sweeps()

    def _stop_for_lost_shards(self, exc: OperatorError) -> None:
        # Another process runs this one's shards now (taken while the database restarted): both
        # would answer the same members, so this one stops, saying why (`fatal`).
        self.fatal = exc
        self._stopping = asyncio.get_running_loop().create_task(self.close(), name="kindred-stop")

    def _start_sweeps(self) -> None:
        if self.start_scheduler:
            self.services.scheduler.gateway_probe = self.gateway_connected
            self.services.scheduler.start()

    def gateway_connected(self) -> bool:
        """Tell whether the gateway websocket is open (discord.py closes it after 60 s without a frame)."""
        return self.ws is not None and self.ws.open

    async def run_sweeps_once(self) -> int:
        """Run every due-work sweep once and drain the outbox (tests drive time with a FakeClock)."""
        return await self.services.scheduler.run_all_once()

    async def on_ready(self) -> None:
        """Log the connection (ids only); tell the operator channel once per process."""
        log.info("connected as %s to %d guild(s)", self.user.id if self.user else "?", len(self.guilds))
        try:
            # READY lists every server the bot is in: one that re-added it while it was offline is
            # present again, and one that removed it meanwhile has left (its data is then purged
            # after the retention period, as the data statement promises).
            await self.services.guilds.reconcile([g.id for g in self.guilds], self.clock.now(),
                                                 shards=self.config.shards)
            version: int | str = await self.db.schema_version()
            await self._record_gateway()
        except DatabaseUnavailableError:
            log.warning("database unavailable at ready; server presence not recorded")
            version = "unavailable"
        if not self._commands_checked:
            self._commands_checked = True
            await self._warn_if_no_commands()
        if self.config.bot.ops_channel_id and not self._announced:
            self._announced = True
            fresh = self.services.crisis.data_freshness()
            who = f" ({self.config.shards.label()})" if self.config.shards else ""  # several processes, one channel
            await self.services.notifier.send_channel(self.config.bot.ops_channel_id, OutgoingMessage(
                f"Kindred is up{who}: database schema {version}, {len(self.guilds)} server(s); {fresh.describe()}."))

    async def on_resumed(self) -> None:
        """Record that the gateway is back (status need not wait for the next minute)."""
        await self._record_gateway()

    async def _record_gateway(self) -> None:
        if self.start_scheduler and self.db.is_open:
            await self.services.scheduler.record_gateway()

    async def _warn_if_no_commands(self) -> None:
        """Say once if Discord has no global commands for this application: members would see none."""
        try:
            registered = await self.tree.fetch_commands()
        except Exception as exc:
            if self.is_closed():  # shutting down while asking: nothing to report
                return
            if not isinstance(exc, discord.HTTPException | aiohttp.ClientError | OSError | TimeoutError):
                raise
            log.warning("could not check the registered slash commands (%s)", network_problem(exc))
            return
        if not registered:
            log.warning("no slash commands are registered for this application, so members see none: run "
                        "`python -m bot sync` once (and after upgrades); commands synced with --guild show "
                        "in that server only")

    async def on_guild_join(self, guild: discord.Guild) -> None:
        """Create the server's row when the bot joins (or clear its "left" mark)."""
        await self.services.guilds.mark_present([guild.id], self.clock.now())
        log.info("joined guild %s", guild.id)

    async def on_guild_remove(self, guild: discord.Guild) -> None:
        """Remember when the bot left a server so its data can be purged later."""
        await self.services.guilds.mark_left(guild.id, self.clock.now())
        log.info("left guild %s", guild.id)

    async def close(self) -> None:
        """Stop the scheduler (letting a running sweep and send finish), then the gateway, then the database."""
        self._closing.set()
        if self._db_retry is not None:
            self._db_retry.cancel()
        if self._trimmer is not None:
            self._trimmer.cancel()
        if self._services is not None:
            await self._services.scheduler.stop(grace=SHUTDOWN_GRACE)
        try:
            await super().close()
        finally:
            cancel_ready_wait(self)
            await self.db.close(grace=SHUTDOWN_GRACE)
            log.info("shut down cleanly")


class ShardedKindredBot(KindredBot, commands.AutoShardedBot):
    """Kindred running some (or all) of a bot's shards in this process (`KINDRED_SHARD_*`).

    discord.py opens one gateway connection per shard; Discord sends each connection the
    servers of its shard, (guild_id >> 22) % count, so `self.guilds` holds this process's
    servers only, and the database does the scheduled work of those only (`Database.shards`).
    """

    def __init__(self, config: Config, **options: Any) -> None:
        if config.shards is None:
            raise ValueError("a sharded bot needs config.shards")
        super().__init__(config, shard_ids=sorted(config.shards.ids), shard_count=config.shards.count, **options)

    def gateway_connected(self) -> bool:
        """Tell whether every shard's websocket is open."""
        shards = self.shards.values()
        return bool(shards) and all(not shard.is_closed() for shard in shards)


def make_bot(config: Config, **options: Any) -> KindredBot:
    """Return the bot for this configuration: one connection, or this process's shards."""
    if config.shards is None:
        return KindredBot(config, **options)
    return ShardedKindredBot(config, **options)
