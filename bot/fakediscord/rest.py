"""REST under /api/v10: the routes Kindred uses, recorded, with faults injected before the handler runs."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from . import messages
from .records import RequestRecord, UploadedFile
from .state import (
    ADD_REACTIONS,
    ATTACH_FILES,
    READ_MESSAGE_HISTORY,
    SEND_MESSAGES,
    VIEW_CHANNEL,
    ApiError,
    Channel,
    Guild,
    Message,
)

if TYPE_CHECKING:
    from .server import FakeDiscord

API = "/api/v10"
Handler = Callable[[web.Request], Awaitable[Any]]
# Typed request keys arrived in aiohttp 3.14; older versions (the lowest allowed) take a string.
RECORD: Any = web.RequestKey("record", RequestRecord) if hasattr(web, "RequestKey") else "fakediscord.record"
NO_AUTH_PREFIXES = ("/interactions/", "/webhooks/")  # authorised by the interaction token in the path


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # discord.py only parses JSON when Content-Type is exactly "application/json" (no charset).
    return web.Response(body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json", **(headers or {})})


class NotJson(Exception):
    """A body that does not say it is JSON (or multipart) is not read as JSON."""


async def read_body(request: web.Request) -> tuple[Any, list[UploadedFile]]:
    """JSON body, or multipart `payload_json` plus `files[n]` parts."""
    if request.content_type.startswith("multipart/"):
        payload, files = None, []
        reader = await request.multipart()
        async for part in reader:
            data = await part.read()  # type: ignore[union-attr]
            if part.name == "payload_json":  # type: ignore[union-attr]
                payload = json.loads(data)
            elif part.filename:  # type: ignore[union-attr]
                files.append(UploadedFile(part.name or "", part.filename, bytes(data), part.headers.get("Content-Type")))  # type: ignore[union-attr]
        return payload, files
    text = await request.text()
    if text and request.content_type != "application/json":
        # Discord reads no other body; and text/plain is what a cross-site page can send unasked.
        raise NotJson(request.content_type)
    return (json.loads(text) if text else None), []


class Rest:
    def __init__(self, fake: FakeDiscord) -> None:
        self.fake = fake
        self.world = fake.world

    def routes(self) -> list[web.RouteDef]:
        r = [
            ("GET", "/gateway", self.get_gateway),
            ("GET", "/gateway/bot", self.get_gateway_bot),
            ("GET", "/users/@me", self.get_me),
            ("POST", "/users/@me/channels", self.create_dm),
            ("GET", "/users/{user_id}", self.get_user),
            ("GET", "/oauth2/applications/@me", self.get_application),
            ("GET", "/applications/{application_id}/commands", self.get_commands),
            ("PUT", "/applications/{application_id}/commands", self.put_commands),
            ("GET", "/applications/{application_id}/guilds/{guild_id}/commands", self.get_commands),
            ("PUT", "/applications/{application_id}/guilds/{guild_id}/commands", self.put_commands),
            ("POST", "/interactions/{interaction_id}/{token}/callback", self.interaction_callback),
            ("POST", "/webhooks/{application_id}/{token}", self.followup),
            ("GET", "/webhooks/{application_id}/{token}/messages/{message_id}", self.get_webhook_message),
            ("PATCH", "/webhooks/{application_id}/{token}/messages/{message_id}", self.edit_webhook_message),
            ("DELETE", "/webhooks/{application_id}/{token}/messages/{message_id}", self.delete_webhook_message),
            ("GET", "/channels/{channel_id}", self.get_channel),
            ("GET", "/channels/{channel_id}/messages", self.list_messages),
            ("POST", "/channels/{channel_id}/messages", self.create_message),
            ("GET", "/channels/{channel_id}/messages/{message_id}", self.get_message),
            ("PATCH", "/channels/{channel_id}/messages/{message_id}", self.edit_message),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}", self.delete_message),
            ("PUT", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me", self.add_reaction),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me", self.remove_reaction),
            ("POST", "/channels/{channel_id}/typing", self.typing),
            ("GET", "/guilds/{guild_id}", self.get_guild),
            ("GET", "/guilds/{guild_id}/channels", self.get_guild_channels),
            ("GET", "/guilds/{guild_id}/roles", self.get_roles),
            ("GET", "/guilds/{guild_id}/members/{user_id}", self.get_member),
            ("GET", "/guilds/{guild_id}/scheduled-events", self.list_scheduled_events),
            ("POST", "/guilds/{guild_id}/scheduled-events", self.create_scheduled_event),
            ("GET", "/guilds/{guild_id}/scheduled-events/{event_id}", self.get_scheduled_event),
            ("PATCH", "/guilds/{guild_id}/scheduled-events/{event_id}", self.modify_scheduled_event),
            ("DELETE", "/guilds/{guild_id}/scheduled-events/{event_id}", self.delete_scheduled_event),
        ]
        defs = [web.route(method, API + path, handler) for method, path, handler in r]
        defs.append(web.get("/attachments/{channel_id}/{attachment_id}/{filename}", self.get_attachment))
        return defs

    # middleware: record, authenticate, inject faults ----------------------------------------------

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(API + "/"):
            return await handler(request)
        fake = self.fake
        resource = request.match_info.route.resource
        template = resource.canonical[len(API):] if resource is not None else request.path[len(API):]
        record = RequestRecord(request.method, request.path[len(API):], template, dict(request.query))
        request[RECORD] = record
        try:
            try:
                record.json, record.files = await read_body(request)
            except NotJson as exc:
                record.status = 415
                return json_response({"message": f"415: a body is application/json or multipart/form-data, not {exc}", "code": 0}, 415)
            response = await self._answer(request, handler, record)
        finally:
            fake.record_request(record)
        return response

    async def _answer(self, request: web.Request, handler: Handler, record: RequestRecord) -> web.Response:
        fake = self.fake
        if fake.latency:
            await asyncio.sleep(fake.latency)
        if request.match_info.http_exception is not None:
            fake.unhandled.append(record)
            record.status = request.match_info.http_exception.status
            return json_response({"message": f"{record.status}: Not Found (fakediscord does not model {record.method} {record.route})", "code": 0}, record.status)
        if not record.path.startswith(NO_AUTH_PREFIXES) and request.headers.get("Authorization") != f"Bot {self.world.token}":
            record.status = 401
            return json_response({"message": "401: Unauthorized", "code": 0}, 401)
        fault = fake.faults.check(record.method, record.route, record.path)
        if fault is not None and not fault.after_handling:
            record.status, record.response = fault.status, fault.body()
            return json_response(fault.body(), fault.status, fault.headers())
        try:
            data = await handler(request)
        except ApiError as exc:
            record.status, record.response = exc.status, exc.body()
            return json_response(exc.body(), exc.status)
        if fault is not None:  # done, but the client hears only the error
            record.status, record.response = fault.status, fault.body()
            return json_response(fault.body(), fault.status, fault.headers())
        if data is None:
            record.status = 204
            return web.Response(status=204)
        record.status, record.response = 200, data
        return json_response(data)

    # helpers ---------------------------------------------------------------------------------------

    @staticmethod
    def _body(request: web.Request) -> tuple[Any, list[UploadedFile]]:
        """The body the middleware already read: JSON (or `payload_json`) and uploaded files."""
        record: RequestRecord = request[RECORD]
        return (record.json if record.json is not None else {}), record.files

    def _channel(self, request: web.Request) -> Channel:
        return self.world.channel(request.match_info["channel_id"])

    def _message(self, request: web.Request) -> Message:
        return self.world.message(self._channel(request), request.match_info["message_id"])

    def _require(self, channel: Channel, needed: int) -> None:
        """Check the bot's permissions in a guild channel: 50001 without View Channel, 50013 otherwise."""
        guild = self.world.guild_of(channel)
        if guild is None:
            return
        perms = guild.permissions_in(channel, self.world.bot)
        if not perms & VIEW_CHANNEL:
            raise ApiError(403, 50001, "Missing Access")
        if perms & needed != needed:
            raise ApiError(403, 50013, "Missing Permissions")

    def _interaction(self, request: web.Request) -> Any:
        token = request.match_info["token"]
        handle = self.fake.interactions_by_token.get(token)
        if handle is None:
            raise ApiError(404, 10015, "Unknown Webhook") if "webhook" in request.path else ApiError(404, 10062, "Unknown interaction")
        return handle

    # gateway, identity, application ----------------------------------------------------------------

    async def get_gateway(self, request: web.Request) -> Any:
        return {"url": self.fake.gateway_url}

    async def get_gateway_bot(self, request: web.Request) -> Any:
        limit = {"total": 1000, "remaining": 999, "reset_after": 14_400_000, "max_concurrency": 1}
        return {"url": self.fake.gateway_url, "shards": self.fake.shard_count, "session_start_limit": limit}

    async def get_me(self, request: web.Request) -> Any:
        return {**self.world.bot.payload(), "verified": True, "mfa_enabled": False, "flags": 0}

    async def get_user(self, request: web.Request) -> Any:
        user = self.world.users.get(int(request.match_info["user_id"]))
        if user is None:
            raise ApiError(404, 10013, "Unknown User")
        return user.payload()

    async def get_application(self, request: web.Request) -> Any:
        world = self.world
        owner = next(iter(world.guilds.values())).owner_id if world.guilds else world.bot.id
        return {
            "id": str(world.application_id), "name": world.bot.name, "icon": None, "description": "", "summary": "",
            "type": None, "rpc_origins": [], "bot_public": False, "bot_require_code_grant": False,
            "owner": world.users[owner].payload(), "team": None, "verify_key": "0" * 64, "flags": 0,
            "bot": world.bot.payload(), "interactions_endpoint_url": None, "tags": [], "redirect_uris": [],
            "approximate_guild_count": len(world.guilds),
        }

    # commands --------------------------------------------------------------------------------------

    def _command_list(self, request: web.Request) -> tuple[int | None, list[dict[str, Any]]]:
        if request.match_info["application_id"] != str(self.world.application_id):
            raise ApiError(404, 10002, "Unknown Application")
        guild_id = request.match_info.get("guild_id")
        if guild_id is None:
            return None, self.world.global_commands
        self.world.guild(guild_id)
        return int(guild_id), self.world.guild_commands.setdefault(int(guild_id), [])

    async def get_commands(self, request: web.Request) -> Any:
        return self._command_list(request)[1]

    async def put_commands(self, request: web.Request) -> Any:
        guild_id, current = self._command_list(request)
        body, _ = self._body(request)
        schemas = list(body) if isinstance(body, list) else []
        existing = {(c["name"], c.get("type", 1)): c["id"] for c in current}
        stored = []
        for schema in schemas:
            key = (schema["name"], schema.get("type", 1))
            command = {
                **schema,
                "id": existing.get(key) or str(self.world.snowflake()),
                "application_id": str(self.world.application_id),
                "version": str(self.world.snowflake()),
                "type": schema.get("type", 1),
                "description": schema.get("description", ""),
                "options": schema.get("options", []),
                "default_member_permissions": schema.get("default_member_permissions"),
                "nsfw": schema.get("nsfw", False),
            }
            if guild_id is not None:
                command["guild_id"] = str(guild_id)
            stored.append(command)
        current[:] = stored
        return stored

    # interactions ---------------------------------------------------------------------------------

    async def interaction_callback(self, request: web.Request) -> Any:
        handle = self._interaction(request)
        if str(handle.id) != request.match_info["interaction_id"]:
            raise ApiError(404, 10062, "Unknown interaction")
        body, files = self._body(request)
        response = await handle.on_callback(int(body.get("type", 0)), dict(body.get("data") or {}), files)
        return response if request.query.get("with_response") in ("1", "true", "True") else None

    async def followup(self, request: web.Request) -> Any:
        handle = self._interaction(request)
        body, files = self._body(request)
        msg = await handle.on_followup(body, files)
        return self.fake.message_payload(msg) if request.query.get("wait", "1") not in ("0", "false") else None

    async def get_webhook_message(self, request: web.Request) -> Any:
        return self.fake.message_payload(self._interaction(request).message_for(request.match_info["message_id"]))

    async def edit_webhook_message(self, request: web.Request) -> Any:
        handle = self._interaction(request)
        body, files = self._body(request)
        return self.fake.message_payload(handle.on_edit(request.match_info["message_id"], body, files))

    async def delete_webhook_message(self, request: web.Request) -> Any:
        self._interaction(request).message_for(request.match_info["message_id"]).deleted = True
        return None

    # channels and messages --------------------------------------------------------------------------

    async def get_channel(self, request: web.Request) -> Any:
        channel = self._channel(request)
        self._require(channel, 0)
        return channel.payload()

    async def list_messages(self, request: web.Request) -> Any:
        channel = self._channel(request)
        self._require(channel, READ_MESSAGE_HISTORY)
        limit = int(request.query.get("limit", 50))
        before, after = int(request.query.get("before", 1 << 63)), int(request.query.get("after", 0))
        found = [m for m in self.fake.messages_in(channel, by="anyone") if after < m.id < before]
        return [self.fake.message_payload(m) for m in sorted(found, key=lambda m: -m.id)[:limit]]

    async def create_message(self, request: web.Request) -> Any:
        channel = self._channel(request)
        body, files = self._body(request)
        world, fake = self.world, self.fake
        if channel.is_dm:
            user = channel.recipient
            assert user is not None
            if user.id in fake.faults.closed_dms or user.bot or not world.shares_guild_with_bot(user):
                raise ApiError(403, 50007, "Cannot send messages to this user")
        else:
            self._require(channel, SEND_MESSAGES | (ATTACH_FILES if files else 0))
        nonce = body.get("nonce")
        if nonce is not None and body.get("enforce_nonce"):
            earlier = fake.nonces.get((world.bot.id, str(nonce)))
            if earlier is not None and time.monotonic() - earlier[1] < fake.nonce_window:
                return fake.message_payload(earlier[0])
        msg = await fake.post_message(channel, world.bot, body, files)
        if nonce is not None:
            fake.nonces[(world.bot.id, str(nonce))] = (msg, time.monotonic())
        return fake.message_payload(msg)

    async def get_message(self, request: web.Request) -> Any:
        channel = self._channel(request)
        self._require(channel, READ_MESSAGE_HISTORY)
        return self.fake.message_payload(self._message(request))

    async def edit_message(self, request: web.Request) -> Any:
        msg = self._message(request)
        body, files = self._body(request)
        if msg.author is not self.world.bot and set(body) - {"flags"}:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        messages.edit(self.world, msg, body, files)
        return self.fake.message_payload(msg)

    async def delete_message(self, request: web.Request) -> Any:
        msg = self._message(request)
        if msg.author is not self.world.bot:
            self._require(msg.channel, 1 << 13)  # MANAGE_MESSAGES
        msg.deleted = True
        await self.fake.gateway.dispatch("MESSAGE_DELETE", {"id": str(msg.id), "channel_id": str(msg.channel.id), **({"guild_id": str(msg.guild_id)} if msg.guild_id else {})},
                                         guild_id=msg.guild_id)
        return None

    async def add_reaction(self, request: web.Request) -> Any:
        msg = self._message(request)
        self._require(msg.channel, ADD_REACTIONS | READ_MESSAGE_HISTORY)
        emoji = request.match_info["emoji"]
        if emoji not in msg.reactions:
            msg.reactions.append(emoji)
        return None

    async def remove_reaction(self, request: web.Request) -> Any:
        msg = self._message(request)
        emoji = request.match_info["emoji"]
        if emoji in msg.reactions:
            msg.reactions.remove(emoji)
        return None

    async def typing(self, request: web.Request) -> Any:
        self._channel(request)
        return None

    async def create_dm(self, request: web.Request) -> Any:
        body, _ = self._body(request)
        user = self.world.users.get(int(body.get("recipient_id", 0)))
        if user is None:
            raise ApiError(400, 50033, "Invalid Recipient(s)")
        return self.world.dm_channel(user).payload()

    # guilds ----------------------------------------------------------------------------------------

    async def get_guild(self, request: web.Request) -> Any:
        guild = self.world.guild(request.match_info["guild_id"])
        payload = self.world.guild_payload(guild, intents=0)
        for key in ("members", "channels", "threads", "presences", "voice_states", "joined_at", "large", "member_count"):
            payload.pop(key, None)
        return payload

    async def get_guild_channels(self, request: web.Request) -> Any:
        return [c.payload() for c in self.world.guild(request.match_info["guild_id"]).channels]

    async def get_roles(self, request: web.Request) -> Any:
        return [r.payload() for r in self.world.guild(request.match_info["guild_id"]).roles]

    async def get_member(self, request: web.Request) -> Any:
        guild = self.world.guild(request.match_info["guild_id"])
        member = guild.members.get(int(request.match_info["user_id"]))
        if member is None:
            raise ApiError(404, 10007, "Unknown Member")
        return member.payload()

    # scheduled events (rules in events.py) ---------------------------------------------------------

    def _event_guild(self, request: web.Request) -> Guild:
        guild = self.world.guild(request.match_info["guild_id"])
        if self.world.bot.id not in guild.members:
            raise ApiError(403, 50001, "Missing Access")
        return guild

    async def list_scheduled_events(self, request: web.Request) -> Any:
        return self.fake.events.list_events(self._event_guild(request), dict(request.query))

    async def create_scheduled_event(self, request: web.Request) -> Any:
        body, _ = self._body(request)
        return await self.fake.events.create(self._event_guild(request), body)

    async def get_scheduled_event(self, request: web.Request) -> Any:
        return self.fake.events.get_event(self._event_guild(request), request.match_info["event_id"], dict(request.query))

    async def modify_scheduled_event(self, request: web.Request) -> Any:
        body, _ = self._body(request)
        return await self.fake.events.modify(self._event_guild(request), request.match_info["event_id"], body)

    async def delete_scheduled_event(self, request: web.Request) -> Any:
        await self.fake.events.delete(self._event_guild(request), request.match_info["event_id"])
        return None

    # CDN -------------------------------------------------------------------------------------------

    async def get_attachment(self, request: web.Request) -> web.StreamResponse:
        for msg in self.world.messages.values():
            for att in msg.attachments:
                if str(att.id) == request.match_info["attachment_id"]:
                    return web.Response(body=att.data, content_type=att.content_type or "application/octet-stream")
        raise web.HTTPNotFound()
