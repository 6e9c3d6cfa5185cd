"""The demo's web page: a small JSON API over the sandbox, and the static page that uses it.

Every action goes through the loopback Discord exactly as a member's client would send it
(slash commands, autocomplete, buttons, selects, modals), so the bot cannot tell the page
from Discord. The page asks for the state about twice a second.
"""

from __future__ import annotations

import logging
import mimetypes
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.demo.commands import CommandError, Typed, leaves, parse, values_for
from bot.demo.sandbox import Sandbox
from bot.fakediscord import VIEW_CHANNEL, FakeDiscordError, Message
from bot.fakediscord import interactions as ix
from bot.fakediscord.state import Attachment, Channel, User

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
INLINE_TEXT_LIMIT = 200_000  # bytes of a text attachment (the /privacy export) shown in the page
SKIPS = {"hour": timedelta(hours=1), "day": timedelta(days=1)}


class Refused(Exception):
    """A request the page should show as a message, not a failure."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class DemoPage:
    """The aiohttp application serving the page and its API."""

    def __init__(self, sandbox: Sandbox, port: int) -> None:
        self.sandbox = sandbox
        self.fake = sandbox.fake
        self.port = port
        self.dismissed: set[int] = set()  # interactions whose modal their member closed without sending

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard])
        app.add_routes([
            web.get("/", self._index),
            web.get("/static/{name}", self._static),
            web.get("/api/world", self._world),
            web.get("/api/state", self._state),
            web.get("/api/commands", self._commands),
            web.get("/api/attachments/{message}/{index}", self._attachment),
            web.post("/api/command", self._command),
            web.post("/api/autocomplete", self._autocomplete),
            web.post("/api/say", self._say),
            web.post("/api/click", self._click),
            web.post("/api/select", self._select),
            web.post("/api/modal", self._modal),
            web.post("/api/modal/dismiss", self._dismiss),
            web.post("/api/clock", self._clock),
        ])
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        response = await self._answer(request, handler)
        response.headers["Cache-Control"] = "no-store"
        # No other site may frame the page and steer a visitor's clicks (clickjacking).
        response.headers["Content-Security-Policy"] = ("default-src 'self'; img-src 'self' data:; base-uri 'none'; "
                                                       "form-action 'none'; frame-ancestors 'none'")
        response.headers["X-Frame-Options"] = "DENY"  # the same, for browsers without frame-ancestors
        return response

    async def _answer(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        # Only this page may drive the sandbox: another site open in the same browser could post
        # to 127.0.0.1 (a simple cross-site POST cannot send JSON) or reach it by DNS rebinding.
        if request.host not in (f"127.0.0.1:{self.port}", f"localhost:{self.port}"):
            return web.json_response({"error": "this demo answers only http://127.0.0.1"}, status=403)
        if request.method == "POST" and request.content_type != "application/json":
            return web.json_response({"error": "JSON only"}, status=415)
        try:
            return await handler(request)
        except (Refused, CommandError, FakeDiscordError, KeyError, ValueError) as exc:
            status = exc.status if isinstance(exc, Refused) else 400
            message = str(exc) if not isinstance(exc, KeyError) else f"missing {exc}"
            return web.json_response({"error": message}, status=status)
        except TypeError:  # e.g. {"as": [1]}: every field the handlers read comes from the body
            log.debug("refused a request with a field of the wrong type", exc_info=True)
            return web.json_response({"error": "a field of the request has the wrong type"}, status=400)

    # -- the page ------------------------------------------------------------------------------

    async def _index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "index.html")

    async def _static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        path = STATIC / name
        if "/" in name or name.startswith(".") or not path.is_file():
            raise web.HTTPNotFound()
        return web.FileResponse(path)

    # -- reading -------------------------------------------------------------------------------

    async def _world(self, request: web.Request) -> web.StreamResponse:
        world = self.sandbox.world
        return web.json_response({
            "server": world.guild.name,
            "bot": {"id": str(self.fake.bot.id), "name": self.fake.bot.name},
            "people": [{"id": str(p.user.id), "name": p.user.name, "moderator": p.moderator} for p in world.people],
            "roles": [r.name for r in world.guild.roles if not r.managed and r.name != "@everyone"],
        })

    async def _state(self, request: web.Request) -> web.StreamResponse:
        viewer = self._viewer(request.query)
        channels = self._channels(viewer)
        wanted = request.query.get("channel")
        channel = next((c for c in channels if str(c.id) == wanted), channels[0])
        next_event = await self.sandbox.next_event()
        now = self.sandbox.clock.now()
        return web.json_response({
            "now": now.isoformat(),
            "next": None if next_event is None else {"at": next_event.to.isoformat(), "what": next_event.reason},
            "channels": [self._channel_json(c) for c in channels],
            "channel": str(channel.id),
            "messages": [self._message_json(m, viewer) for m in self._visible(channel, viewer)],
            "modal": self._open_modal(viewer),
        })

    async def _commands(self, request: web.Request) -> web.StreamResponse:
        viewer = self._viewer(request.query)
        channel = self._channel(request.query, viewer)
        guild = self.fake.world.guild_of(channel)
        usable = []
        for path, top, leaf in leaves(self.fake.commands()):
            try:
                ix.check_usable(self.fake.world, top, viewer, guild, channel, False)
            except FakeDiscordError:
                continue  # Discord's client does not offer it here, or to this member
            usable.append({"path": path, "description": leaf.get("description", ""),
                           "options": [_option_json(o) for o in leaf.get("options") or []]})
        people = [m.user.name for m in guild.members.values() if not m.user.bot] if guild else []
        return web.json_response({
            "commands": usable,
            "channels": [c.name for c in guild.text_channels] if guild else [],
            "people": people,
        })

    async def _attachment(self, request: web.Request) -> web.StreamResponse:
        viewer = self._viewer(request.query)
        message = self.fake.world.messages.get(int(request.match_info["message"]))
        if message is None or not self._sees(viewer, message):
            raise web.HTTPNotFound()
        index = int(request.match_info["index"])
        if not 0 <= index < len(message.attachments):
            raise web.HTTPNotFound()
        attachment = message.attachments[index]
        return web.Response(body=attachment.data, content_type=_content_type(attachment),
                            headers={"Content-Disposition": f'inline; filename="{attachment.filename}"'})

    # -- acting --------------------------------------------------------------------------------

    async def _command(self, request: web.Request) -> web.StreamResponse:
        body = await _json_object(request)
        viewer = self._viewer(body)
        channel = self._channel(body, viewer)
        guild = self.fake.world.guild_of(channel)
        typed = parse(str(body["text"]), self.fake.commands())
        missing = [o["name"] for o in typed.schema if o.get("required") and o["name"] not in typed.values]
        if missing:
            raise CommandError(f"{typed.path} needs {', '.join(f'{name}:' for name in missing)}")
        await self.fake.slash(typed.path, user=viewer, guild=guild, in_channel=channel,
                              options=values_for(self.fake.world, guild, typed))
        return web.json_response({"ok": True})

    async def _autocomplete(self, request: web.Request) -> web.StreamResponse:
        body = await _json_object(request)
        viewer = self._viewer(body)
        channel = self._channel(body, viewer)
        guild = self.fake.world.guild_of(channel)
        typed = parse(str(body["text"]), self.fake.commands())
        focused = _focused(typed)
        if focused is None:
            return web.json_response({"choices": []})
        others = values_for(self.fake.world, guild, typed, skip=focused, lenient=True)
        choices = await self.fake.autocomplete(typed.path, focused, typed.values[focused], user=viewer, guild=guild,
                                               in_channel=channel, options=others, timeout=5.0)
        return web.json_response({"option": focused, "choices": [{"name": c["name"], "value": str(c["value"])}
                                                                 for c in choices]})

    async def _say(self, request: web.Request) -> web.StreamResponse:
        body = await _json_object(request)
        viewer = self._viewer(body)
        text = str(body["text"]).strip()
        if not text:
            raise Refused("type a message first")
        await self.fake.say(self._channel(body, viewer), text[:2000], user=viewer)
        return web.json_response({"ok": True})

    async def _click(self, request: web.Request) -> web.StreamResponse:
        body = await _json_object(request)
        viewer = self._viewer(body)
        await self.fake.click(self._message(body, viewer), user=viewer, custom_id=str(body["custom_id"]))
        return web.json_response({"ok": True})

    async def _select(self, request: web.Request) -> web.StreamResponse:
        body = await _json_object(request)
        viewer = self._viewer(body)
        values = [str(v) for v in body["values"]]
        await self.fake.select(self._message(body, viewer), values, user=viewer, custom_id=str(body["custom_id"]))
        return web.json_response({"ok": True})

    async def _modal(self, request: web.Request) -> web.StreamResponse:
        body = await _json_object(request)
        viewer = self._viewer(body)
        opened = self._open_modal(viewer)
        if opened is None or opened["handle"] != str(body["handle"]):
            raise Refused("that form is no longer open")
        values = {str(k): v if isinstance(v, list) else str(v) for k, v in dict(body["values"]).items()}
        await self.fake.submit_modal(opened["custom_id"], values, user=viewer)
        return web.json_response({"ok": True})

    async def _dismiss(self, request: web.Request) -> web.StreamResponse:
        body = await _json_object(request)
        viewer = self._viewer(body)
        opened = self._open_modal(viewer)
        if opened is None or opened["handle"] != str(body["handle"]):
            raise Refused("that form is no longer open")  # or it is someone else's: only its member closes it
        self.dismissed.add(int(opened["handle"]))
        return web.json_response({"ok": True})

    async def _clock(self, request: web.Request) -> web.StreamResponse:
        body = await _json_object(request)
        skip = str(body.get("skip", "next"))
        if skip != "next" and skip not in SKIPS:
            raise Refused(f"skip is next, {' or '.join(SKIPS)}")
        jump = await self.sandbox.fast_forward(SKIPS.get(skip))
        if jump is None:
            return web.json_response({"jumped": None, "message": "Nothing is scheduled yet: a moderator can set the "
                                      "daily prompt with /config checkins, a member a reminder with /reminder set."})
        return web.json_response({"jumped": jump.to.isoformat(), "message": f"Moved Kindred's clock to {jump.reason}."})

    # -- helpers -------------------------------------------------------------------------------

    def _viewer(self, source: Any) -> User:
        person = self.sandbox.world.person(int(source.get("as") or 0))
        if person is None:
            raise Refused("choose who you are first")
        return person.user

    def _channels(self, viewer: User) -> list[Channel]:
        guild = self.sandbox.world.guild
        shown = [c for c in guild.text_channels if guild.permissions_in(c, viewer) & VIEW_CHANNEL]
        return [*shown, self.fake.dm_channel(viewer)]

    def _channel(self, source: Any, viewer: User) -> Channel:
        wanted = str(source.get("channel") or "")
        channel = next((c for c in self._channels(viewer) if str(c.id) == wanted), None)
        if channel is None:
            raise Refused("that channel is not one you can see")
        return channel

    def _message(self, source: Any, viewer: User) -> Message:
        message = self.fake.world.messages.get(int(source["message"]))
        if message is None or message.deleted or not self._sees(viewer, message):
            raise Refused("that message is gone")
        return message

    def _channel_json(self, channel: Channel) -> dict[str, Any]:
        if channel.is_dm:
            return {"id": str(channel.id), "name": f"{self.fake.bot.name} (direct messages)", "dm": True}
        return {"id": str(channel.id), "name": channel.name, "dm": False}

    def _sees(self, viewer: User, message: Message) -> bool:
        return self.fake.can_see(viewer, message)

    def _visible(self, channel: Channel, viewer: User) -> list[Message]:
        return [m for m in self.fake.world.messages.values()
                if m.channel is channel and not m.deleted and self._sees(viewer, m)]

    def _open_modal(self, viewer: User) -> dict[str, Any] | None:
        shown = [h for h in self.fake.interactions if h.user is viewer and h.modal_data is not None
                 and not h.modal_submitted and h.id not in self.dismissed]
        if not shown:
            return None
        handle = shown[-1]
        assert handle.modal_data is not None
        return {"handle": str(handle.id), "custom_id": handle.modal_data.get("custom_id"),
                "title": handle.modal_data.get("title"), "components": handle.modal_data.get("components") or []}

    def _message_json(self, message: Message, viewer: User) -> dict[str, Any]:
        handle = next((h for h in self.fake.interactions if h.id == message.interaction_id), None)
        used = None
        if handle is not None and handle.type == ix.APPLICATION_COMMAND:
            used = {"by": handle.user.name, "command": handle.label}
        attachments = []
        for index, attachment in enumerate(message.attachments):
            kind = _content_type(attachment)
            item: dict[str, Any] = {"filename": attachment.filename, "content_type": kind,
                                    "url": f"/api/attachments/{message.id}/{index}?as={viewer.id}"}
            if kind.startswith(("text/", "application/json")) and attachment.size <= INLINE_TEXT_LIMIT:
                item["text"] = attachment.data.decode("utf-8", errors="replace")
            attachments.append(item)
        return {
            "id": str(message.id),
            "author": {"id": str(message.author.id), "name": message.author.name, "bot": message.author.bot},
            "content": message.content,
            "embeds": message.embeds,
            "components": message.components,
            "attachments": attachments,
            "ephemeral": message.ephemeral,
            "thinking": message.loading,
            "edited": message.edited_at is not None,
            "used": used,
            "mentions": {str(u.id): u.name for u in self.fake.world.users.values()},
            "channels": {str(c.id): c.name for c in self.sandbox.world.guild.channels},
        }


async def _json_object(request: web.Request) -> dict[str, Any]:
    """The request's body, which the page always sends as a JSON object."""
    body = await request.json()
    if not isinstance(body, dict):
        raise Refused("the request body is a JSON object")
    return body


def _focused(typed: Typed) -> str | None:
    """The option being typed (the last one) if the bot autocompletes it."""
    if not typed.values:
        return None
    last = list(typed.values)[-1]
    option = next((o for o in typed.schema if o["name"] == last), None)
    return last if option is not None and option.get("autocomplete") else None


def _option_json(option: dict[str, Any]) -> dict[str, Any]:
    keep = ("name", "description", "type", "required", "choices", "autocomplete", "min_value", "max_value",
            "min_length", "max_length")
    return {k: option[k] for k in keep if k in option}


def _content_type(attachment: Attachment) -> str:
    """The attachment's type as sent, else as its name says (discord.py sends files without one)."""
    sent = (attachment.content_type or "").split(";")[0].strip()
    if sent and sent != "application/octet-stream":
        return sent
    return mimetypes.guess_type(attachment.filename)[0] or "application/octet-stream"
