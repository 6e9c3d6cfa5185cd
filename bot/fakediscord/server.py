"""FakeDiscord: the loopback server and the test-facing API (builders, actions, queries, waiters)."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from aiohttp import hdrs, web

from . import interactions as ix
from . import messages
from .events import ScheduledEvents
from .faults import Faults, _matches
from .gateway import Gateway
from .interactions import InteractionHandle
from .records import Changes, RequestRecord, UploadedFile
from .rest import Rest, json_response
from .state import (
    BOT_INVITE_PERMISSIONS,
    EPHEMERAL,
    INTENT_DIRECT_MESSAGES,
    INTENT_GUILD_MESSAGES,
    INTENT_MESSAGE_CONTENT,
    MEMBER_DEFAULT,
    SEND_MESSAGES,
    VIEW_CHANNEL,
    Channel,
    FakeDiscordError,
    Guild,
    Member,
    Message,
    Role,
    ScheduledEvent,
    User,
    World,
)

T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Author = Literal["bot", "anyone"] | User


class FakeDiscord:
    """A Discord-compatible server on 127.0.0.1 for end-to-end tests.

    >>> async with FakeDiscord() as fake:
    ...     guild = fake.add_guild("Circle", channels=["general"])
    ...     alice = fake.add_user("alice"); fake.add_member(guild, alice)
    """

    def __init__(self, *, token: str | None = None, heartbeat_interval_ms: int = 45_000, seed: int = 0, compress: bool = True, bot_name: str = "Kindred") -> None:
        # A new bot token each run: a constant one would let any web page the demo's visitor opens
        # IDENTIFY on the gateway (WebSockets are not covered by CORS) and read every event.
        self.world = World(token=token or secrets.token_urlsafe(32), bot_name=bot_name)
        self.changes = Changes()
        self.faults = Faults(seed)
        self.gateway = Gateway(self.world, self.changes, heartbeat_interval_ms=heartbeat_interval_ms, compress=compress,
                               resume_url=lambda: f"{self.origin.replace('http', 'ws', 1)}/resume-gateway")
        self.rest = Rest(self)
        self.request_log: list[RequestRecord] = []
        self.unhandled: list[RequestRecord] = []  # requests to routes the fake does not model
        self.interactions: list[InteractionHandle] = []
        self.interactions_by_token: dict[str, InteractionHandle] = {}
        self.nonces: dict[tuple[int, str], tuple[Message, float]] = {}
        self.nonce_window = 300.0  # seconds during which enforce_nonce deduplicates
        self.interaction_deadline: float | None = None  # seconds to answer an interaction; Discord's is 3.0
        # The shard count GET /gateway/bot recommends (a bot IDENTIFYing with `shard: [id, count]`
        # gets only that shard's servers and their events).
        self.shard_count = 1
        self.latency = 0.0  # seconds every REST request takes before it is answered (Discord: ~0.05-0.15)
        self.token_lifetime = 15 * 60.0  # seconds an interaction token accepts follow-ups and edits
        # "Now" for rules about time that the bot's clock must agree with (a scheduled event's start
        # must be in the future): the real clock unless a test points it at its FakeClock or live clock.
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self.events = ScheduledEvents(self)
        self._runner: web.AppRunner | None = None
        self.port = 0

    # lifecycle ---------------------------------------------------------------------------------

    async def start(self, port: int = 0) -> FakeDiscord:
        """Serve on 127.0.0.1: a free port, or `port` (to come back where a stopped fake was)."""
        app = web.Application(middlewares=[self._local_clients_only, self.rest.middleware], client_max_size=64 * 1024 * 1024)
        app.add_routes(self.rest.routes())
        app.add_routes([web.get("/gateway", self.gateway.handle), web.get("/resume-gateway", self.gateway.handle)])
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self

    @web.middleware
    async def _local_clients_only(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Refuse what a web page could send: another Host (DNS rebinding) or any Origin (browsers send one)."""
        # discord.py sends no Origin and the Host it was given; a browser sends Origin on every
        # WebSocket and cross-origin request, so no page in the demo visitor's browser gets in.
        if request.host not in (f"127.0.0.1:{self.port}", f"localhost:{self.port}"):
            return json_response({"message": "403: fakediscord answers only 127.0.0.1", "code": 0}, 403)
        if hdrs.ORIGIN in request.headers:
            return json_response({"message": "403: fakediscord does not answer web pages", "code": 0}, 403)
        return await handler(request)

    async def stop(self) -> None:
        for conn in list(self.gateway.connections):
            await conn.ws.close(code=1001)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        return f"{self.origin}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    @property
    def token(self) -> str:
        return self.world.token

    @property
    def bot(self) -> User:
        return self.world.bot

    @property
    def application_id(self) -> int:
        return self.world.application_id

    # builders ----------------------------------------------------------------------------------

    def add_user(self, name: str | None = None, *, bot: bool = False) -> User:
        return self.world.add_user(name, bot=bot)

    def add_guild(self, name: str = "Recovery Circle", *, channels: tuple[str, ...] | list[str] = ("general",), owner: User | None = None,
                  everyone_permissions: int = MEMBER_DEFAULT, bot_permissions: int = BOT_INVITE_PERMISSIONS,
                  shard: tuple[int, int] | None = None) -> Guild:
        """A guild with text channels, an @everyone role, the bot (with its invite permissions) and an owner.

        `shard=(id, count)` gives it an id on that shard of a bot with `count` shards.
        """
        return self.world.add_guild(name, channels=channels, owner=owner, everyone_permissions=everyone_permissions,
                                    bot_permissions=bot_permissions, shard=shard)

    def add_channel(self, guild: Guild, name: str, *, type: int = 0) -> Channel:
        return self.world.add_channel(guild, name, type=type)

    def add_role(self, guild: Guild, name: str, *, permissions: int = 0) -> Role:
        return self.world.add_role(guild, name, permissions=permissions)

    def add_member(self, guild: Guild, user: User, *, roles: list[Role] | tuple[Role, ...] = (), manage_guild: bool = False, nick: str | None = None) -> Member:
        """Make `user` a member; `manage_guild=True` gives them the guild's 'Moderators' role (Manage Server)."""
        return self.world.add_member(guild, user, roles=roles, manage_guild=manage_guild, nick=nick)

    def remove_member(self, guild: Guild, user: User) -> None:
        guild.members.pop(user.id, None)

    def set_overwrite(self, channel: Channel, target: Role | User, *, allow: int = 0, deny: int = 0) -> None:
        """A channel permission overwrite for a role or member (e.g. deny the bot SEND_MESSAGES)."""
        self.world.set_overwrite(channel, target, allow=allow, deny=deny)

    def dm_channel(self, user: User) -> Channel:
        return self.world.dm_channel(user)

    async def join_guild(self, guild: Guild) -> None:
        """Announce `guild` to a connected bot (GUILD_CREATE after READY: discord.py's on_guild_join)."""
        await self.gateway.dispatch("GUILD_CREATE", lambda session: self.world.guild_payload(guild, intents=session.intents),
                                    guild_id=guild.id)

    async def leave_guild(self, guild: Guild) -> None:
        """Remove the bot from `guild` (GUILD_DELETE: discord.py's on_guild_remove)."""
        self.world.guilds.pop(guild.id, None)
        await self.gateway.dispatch("GUILD_DELETE", {"id": str(guild.id)}, guild_id=guild.id)

    # member actions ------------------------------------------------------------------------------

    async def slash(self, command: str, *, user: User, guild: Guild | None = None, in_channel: Channel | None = None,
                    bypass_permissions: bool = False, options: dict[str, Any] | None = None, **kwargs: Any) -> InteractionHandle:
        """Run a slash command as `user`, e.g. ``await fake.slash("/settings timezone", user=alice, guild=g, tz="Europe/London")``.

        Options are keyword arguments (or `options={...}` for names like "public-nudge" or "channel").
        The payload is built from the schema the bot synced, so a misspelt name fails the test. Without
        `guild` the command runs in the member's DM with the bot; `in_channel` defaults to the first
        text channel.
        """
        guild, channel = self._where(user, guild, in_channel)
        top, chain, leaf = ix.find_command(self.world, command, guild)
        ix.check_usable(self.world, top, user, guild, channel, bypass_permissions)
        resolved = ix._Resolved(guild, channel, user, self.origin)
        opts = ix.build_options(self.world, leaf, {**(options or {}), **kwargs}, resolved)
        data = ix.command_data(top, chain, opts, resolved)
        return await self._send(ix.APPLICATION_COMMAND, user, guild, channel, data, label=command)

    async def autocomplete(self, command: str, option: str, typed: str, *, user: User, guild: Guild | None = None, in_channel: Channel | None = None,
                           options: dict[str, Any] | None = None, timeout: float = 10.0, **kwargs: Any) -> list[dict[str, Any]]:
        """Type `typed` into `option` of `command`; return the choices the bot offered ({"name", "value"} dicts)."""
        guild, channel = self._where(user, guild, in_channel)
        top, chain, leaf = ix.find_command(self.world, command, guild)
        ix.check_usable(self.world, top, user, guild, channel, True)
        resolved = ix._Resolved(guild, channel, user, self.origin)
        opts = ix.build_options(self.world, leaf, {**(options or {}), **kwargs, option: typed}, resolved, focused=option)
        handle = await self._send(ix.AUTOCOMPLETE, user, guild, channel, ix.command_data(top, chain, opts, resolved), label=f"{command} [{option}]")
        return await handle.choices(timeout)

    async def click(self, target: Message | str, *, user: User, custom_id: str | None = None) -> InteractionHandle:
        """Click a button: on a given message (`custom_id` picks which), or the newest message `user` can see with that custom id."""
        message, component = self._component(target, custom_id, user)
        if component.get("type") != 2:
            raise FakeDiscordError(f"{component.get('custom_id')!r} is not a button; use select()")
        data = {"custom_id": component["custom_id"], "component_type": 2}
        return await self._send(ix.MESSAGE_COMPONENT, user, self.world.guild_of(message.channel), message.channel, data, message, label=component["custom_id"])

    async def select(self, target: Message | str, values: list[str], *, user: User, custom_id: str | None = None) -> InteractionHandle:
        """Choose `values` in a select menu (string selects: option values; others: ids)."""
        message, component = self._component(target, custom_id, user)
        if component.get("type") not in (3, 5, 6, 7, 8):
            raise FakeDiscordError(f"{component.get('custom_id')!r} is not a select menu")
        if component["type"] == 3:
            allowed = [o["value"] for o in component.get("options", [])]
            if set(values) - set(allowed):
                raise FakeDiscordError(f"select {component['custom_id']!r} offers {allowed}; got {values}")
        data = {"custom_id": component["custom_id"], "component_type": component["type"], "values": list(values)}
        return await self._send(ix.MESSAGE_COMPONENT, user, self.world.guild_of(message.channel), message.channel, data, message, label=component["custom_id"])

    async def submit_modal(self, custom_id: str, values: dict[str, Any], *, user: User) -> InteractionHandle:
        """Submit the newest unsubmitted modal `custom_id` shown to `user`, with text input values keyed by custom id."""
        opened = [h for h in self.interactions if h.user is user and h.modal_data is not None and not h.modal_submitted]
        shown = [h for h in opened if h.modal_data and h.modal_data.get("custom_id") == custom_id]
        if not shown:
            raise FakeDiscordError(f"no modal {custom_id!r} is open for {user.name}; open ones: {[h.modal_data.get('custom_id') for h in opened if h.modal_data]}")
        opener = shown[-1]
        assert opener.modal_data is not None
        components = ix.modal_submit_components(opener.modal_data, values)
        opener.modal_submitted = True
        data = {"custom_id": custom_id, "components": components}
        return await self._send(ix.MODAL_SUBMIT, user, opener.guild, opener.channel, data, opener.message, label=custom_id)

    async def set_event_status(self, event: ScheduledEvent, status: int) -> None:
        """A moderator starts (2), ends (3) or cancels (4) an event in the Discord client (GUILD_SCHEDULED_EVENT_UPDATE)."""
        event.history.append(event.payload(self.world.users))
        event.status = status
        await self.events.dispatch("GUILD_SCHEDULED_EVENT_UPDATE", event)

    async def delete_event(self, event: ScheduledEvent) -> None:
        """A moderator deletes an event in the Discord client (GUILD_SCHEDULED_EVENT_DELETE)."""
        event.deleted = True
        await self.events.dispatch("GUILD_SCHEDULED_EVENT_DELETE", event)

    async def say(self, channel: Channel, text: str, *, user: User) -> Message:
        """`user` posts `text` in `channel` (a guild channel or their DM with the bot); dispatched as MESSAGE_CREATE."""
        guild = self.world.guild_of(channel)
        if guild is not None:
            if user.id not in guild.members:
                raise FakeDiscordError(f"{user.name} is not a member of {guild.name!r}")
            if guild.permissions_in(channel, user) & (VIEW_CHANNEL | SEND_MESSAGES) != VIEW_CHANNEL | SEND_MESSAGES:
                raise FakeDiscordError(f"{user.name} cannot post in #{channel.name}")
        elif channel.recipient is not user:
            raise FakeDiscordError(f"{user.name} is not in that DM")
        return await self.post_message(channel, user, {"content": text}, [])

    # used by the REST layer and the actions --------------------------------------------------------

    async def post_message(self, channel: Channel, author: User, payload: dict[str, Any], files: list[UploadedFile], **extra: Any) -> Message:
        msg = messages.create(self.world, channel, author, payload, files, **extra)
        if not msg.ephemeral:
            guild = self.world.guild_of(msg.channel)
            await self.gateway.dispatch("MESSAGE_CREATE", lambda session: self._message_event(msg, session.intents),
                                        guild_id=guild.id if guild else None)
        self.changes.notify()
        return msg

    def _message_event(self, msg: Message, intents: int) -> dict[str, Any] | None:
        """MESSAGE_CREATE as a session with `intents` sees it (content only with MESSAGE_CONTENT, in DMs, or when mentioned)."""
        guild = self.world.guild_of(msg.channel)
        if not intents & (INTENT_GUILD_MESSAGES if guild else INTENT_DIRECT_MESSAGES):
            return None
        member = guild.members.get(msg.author.id) if guild else None
        payload = msg.payload(self.origin, member=member)
        exempt = guild is None or msg.author is self.bot or self.bot in msg.mentions
        if not intents & INTENT_MESSAGE_CONTENT and not exempt:
            payload.update(content="", embeds=[], attachments=[], components=[])
        return payload

    def message_payload(self, msg: Message) -> dict[str, Any]:
        return msg.payload(self.origin)

    def record_request(self, record: RequestRecord) -> None:
        self.request_log.append(record)
        self.changes.notify()

    async def _send(self, kind: int, user: User, guild: Guild | None, channel: Channel, data: dict[str, Any], message: Message | None = None, *, label: str = "") -> InteractionHandle:
        handle = InteractionHandle(self, type=kind, user=user, guild=guild, channel=channel, data=data, message=message, label=label)
        self.interactions.append(handle)
        self.interactions_by_token[handle.token] = handle
        if not await self.gateway.dispatch("INTERACTION_CREATE", handle.payload(), guild_id=guild.id if guild else None):
            raise FakeDiscordError("no bot session is connected to the gateway")
        return handle

    def _where(self, user: User, guild: Guild | None, channel: Channel | None) -> tuple[Guild | None, Channel]:
        if channel is not None:
            owner = self.world.guild_of(channel)
            if guild is not None and owner is not guild:
                raise FakeDiscordError(f"#{channel.name} is not in {guild.name!r}")
            return owner, channel
        if guild is None:
            return None, self.world.dm_channel(user)
        if not guild.text_channels:
            raise FakeDiscordError(f"{guild.name!r} has no text channel to run the command in")
        return guild, guild.text_channels[0]

    def _component(self, target: Message | str, custom_id: str | None, user: User) -> tuple[Message, dict[str, Any]]:
        if isinstance(target, Message):
            message = target
            candidates = [c for c in message.walk_components() if "custom_id" in c and (custom_id is None or c["custom_id"] == custom_id)]
            if len(candidates) != 1:
                raise FakeDiscordError(f"message {message.id} has components {message.custom_ids}; say which with custom_id=")
        else:
            custom_id = target
            visible = [m for m in self.world.messages.values() if custom_id in m.custom_ids and not m.deleted and self.can_see(user, m)]
            if not visible:
                raise FakeDiscordError(f"{user.name} can see no message with a component {custom_id!r}")
            message = max(visible, key=lambda m: m.id)
            candidates = [c for c in message.walk_components() if c.get("custom_id") == custom_id]
        if not self.can_see(user, message):
            raise FakeDiscordError(f"{user.name} cannot see message {message.id}")
        component = candidates[0]
        if component.get("disabled"):
            raise FakeDiscordError(f"{component['custom_id']!r} is disabled")
        return message, component

    def can_see(self, user: User, msg: Message) -> bool:
        """Whether `user` sees `msg`: their own ephemeral replies, their DMs, channels they can view."""
        if msg.ephemeral:
            owner = next((h for h in self.interactions if h.id == msg.interaction_id), None)
            return owner is not None and owner.user is user
        if msg.channel.is_dm:
            return msg.channel.recipient is user
        guild = self.world.guild_of(msg.channel)
        return guild is not None and bool(guild.permissions_in(msg.channel, user) & VIEW_CHANNEL)

    # queries ---------------------------------------------------------------------------------------

    def requests(self, route: str | None = None) -> list[RequestRecord]:
        """Recorded REST requests, optionally only those matching `route` (as in faults: "POST /channels/{channel_id}/messages")."""
        return [r for r in self.request_log if route is None or _matches(route, r.method, r.route, r.path)]

    def messages_in(self, channel: Channel, *, by: Author = "bot", include_ephemeral: bool = False) -> list[Message]:
        """Messages in `channel`, oldest first: by default the bot's public ones (interaction replies included)."""
        return [
            m for m in self.world.messages.values()
            if m.channel is channel and not m.deleted and not m.loading and (include_ephemeral or not m.ephemeral)
            and (by == "anyone" or (by == "bot" and m.author is self.bot) or m.author is by)
        ]

    def dms_to(self, user: User) -> list[Message]:
        """The bot's DMs that reached `user` (refused ones are not stored), oldest first."""
        channel = self.world.dm_channels.get(user.id)
        return [] if channel is None else self.messages_in(channel)

    def ephemeral_replies(self, user: User | None = None) -> list[Message]:
        """Ephemeral interaction replies (to `user`, if given), oldest first."""
        owners: dict[int | None, User] = {h.id: h.user for h in self.interactions}
        return [m for m in self.world.messages.values() if m.ephemeral and not m.loading and not m.deleted and (user is None or owners.get(m.interaction_id) is user)]

    def scheduled_events(self, guild: Guild, *, include_closed: bool = False) -> list[ScheduledEvent]:
        """The server's scheduled events not deleted, oldest first: scheduled and active ones (or all, with `include_closed`)."""
        return self.events.in_guild(guild, include_closed=include_closed)

    def find_messages(self, custom_id: str) -> list[Message]:
        return [m for m in self.world.messages.values() if custom_id in m.custom_ids and not m.deleted]

    def commands(self, guild: Guild | None = None) -> list[dict[str, Any]]:
        """The synced command schemas: global, or for `guild`."""
        return self.world.guild_commands.get(guild.id, []) if guild else self.world.global_commands

    @property
    def ready(self) -> bool:
        """The gateway sent READY to a session that is still connected."""
        return bool(self.gateway.connected_sessions)

    async def wait_for(self, predicate: Callable[[], T], timeout: float = 10.0, what: str | None = None) -> T:
        """Return the first truthy `predicate()`, re-checked whenever a request or gateway frame is recorded."""
        return await self.changes.wait_for(predicate, timeout=timeout, what=what)

    async def wait_for_request(self, route: str, *, count: int = 1, timeout: float = 10.0) -> RequestRecord:
        """Wait until `count` requests matched `route`; return the last of them."""
        found = await self.wait_for(lambda: self.requests(route)[count - 1:], timeout, f"{count}x {route}")
        return found[0]

    # gateway outages -----------------------------------------------------------------------------------

    def outage(self, how: str = "close") -> Any:
        """``async with fake.outage("close"|"reconnect"|"abort"):`` — events inside are missed, then replayed on RESUME."""
        return self.gateway.outage(how)

    async def reconnect(self, how: str = "reconnect") -> None:
        async with self.gateway.outage(how):
            pass


__all__ = ["FakeDiscord", "EPHEMERAL"]
