"""Interactions: payloads built from the synced command schemas, and the handle tests await replies on."""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING, Any

from . import messages
from .records import UploadedFile
from .state import (
    ALL_PERMISSIONS,
    EPHEMERAL,
    LOADING,
    VIEW_CHANNEL,
    ApiError,
    Attachment,
    Channel,
    FakeDiscordError,
    Guild,
    Member,
    Message,
    Role,
    User,
    World,
    walk_components,
)

if TYPE_CHECKING:
    from .server import FakeDiscord

# Interaction types and callback types.
PING, APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 1, 2, 3, 4, 5
MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE, AUTOCOMPLETE_RESULT, MODAL = 4, 5, 6, 7, 8, 9
ALLOWED_CALLBACKS = {
    APPLICATION_COMMAND: {MESSAGE, DEFERRED_MESSAGE, MODAL},
    MESSAGE_COMPONENT: {MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE, MODAL},
    AUTOCOMPLETE: {AUTOCOMPLETE_RESULT},
    MODAL_SUBMIT: {MESSAGE, DEFERRED_MESSAGE, DEFERRED_UPDATE, UPDATE},
}
OPTION_TYPE_NAMES = {3: "string", 4: "integer", 5: "boolean", 6: "user", 7: "channel", 8: "role", 9: "mentionable", 10: "number", 11: "attachment"}
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024


# --- slash commands from the synced schema ------------------------------------------------------


def find_command(world: World, path: str, guild: Guild | None) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """Resolve "/settings timezone" to (top-level command, [subcommand group/subcommand...], leaf options)."""
    names = path.strip().lstrip("/").split()
    if not names:
        raise FakeDiscordError("empty command path")
    synced = (world.guild_commands.get(guild.id, []) if guild else []) + world.global_commands
    top = next((c for c in synced if c["name"] == names[0] and c.get("type", 1) == 1), None)
    if top is None:
        where = f" to guild {guild.name!r} or globally" if guild else " globally (guild commands are not usable in DMs)"
        raise FakeDiscordError(f"no slash command /{names[0]} is synced{where}; synced: {sorted('/' + c['name'] for c in synced)}")
    chain: list[dict[str, Any]] = []
    node = top
    for name in names[1:]:
        subs = [o for o in node.get("options") or [] if o["type"] in (1, 2)]
        nxt = next((o for o in subs if o["name"] == name), None)
        if nxt is None:
            raise FakeDiscordError(f"/{' '.join(names[: len(chain) + 1])} has no subcommand {name!r}; it has {[o['name'] for o in subs]}")
        chain.append(nxt)
        node = nxt
    subs = [o["name"] for o in node.get("options") or [] if o["type"] in (1, 2)]
    if subs:
        raise FakeDiscordError(f"/{' '.join(names)} needs a subcommand: {subs}")
    return top, chain, list(node.get("options") or [])


def check_usable(world: World, top: dict[str, Any], user: User, guild: Guild | None, channel: Channel, bypass_permissions: bool) -> None:
    """Refuse what Discord's client would not let the member run: wrong context, or hidden by permissions."""
    contexts = top.get("contexts")
    if guild is None:
        if (contexts is not None and 1 not in contexts) or top.get("dm_permission") is False:
            raise FakeDiscordError(f"/{top['name']} is not available in DMs (contexts={contexts}, dm_permission={top.get('dm_permission')})")
        return
    if contexts is not None and 0 not in contexts:
        raise FakeDiscordError(f"/{top['name']} is not available in guilds (contexts={contexts})")
    if user.id not in guild.members:
        raise FakeDiscordError(f"{user.name} is not a member of {guild.name!r}; add_member() first")
    if not guild.permissions_in(channel, user) & VIEW_CHANNEL:
        raise FakeDiscordError(f"{user.name} cannot see #{channel.name}")
    required = top.get("default_member_permissions")
    if required is not None and not bypass_permissions:
        need = int(required)
        have = guild.permissions_in(channel, user)
        if (have & need) != need or (need == 0 and have != ALL_PERMISSIONS):
            raise FakeDiscordError(
                f"Discord hides /{top['name']} from {user.name} (default_member_permissions={required}); "
                "pass bypass_permissions=True to model a server that overrides command permissions"
            )


class _Resolved:
    def __init__(self, guild: Guild | None, channel: Channel, invoker: User, url_base: str) -> None:
        self.guild, self.channel, self.invoker, self.url_base = guild, channel, invoker, url_base
        self.data: dict[str, dict[str, Any]] = {}

    def add(self, kind: str, key: int, payload: dict[str, Any]) -> None:
        self.data.setdefault(kind, {})[str(key)] = payload

    def user(self, user: User) -> None:
        self.add("users", user.id, user.payload())
        if self.guild is not None and user.id in self.guild.members:
            perms = self.guild.permissions_in(self.channel, user)
            self.add("members", user.id, self.guild.members[user.id].payload(with_user=False, permissions=perms))

    def channel_(self, channel: Channel) -> None:
        perms = self.guild.permissions_in(channel, self.invoker) if self.guild else ALL_PERMISSIONS
        payload = {"id": str(channel.id), "name": channel.name, "type": channel.type, "permissions": str(perms)}
        if channel.parent_id:
            payload["parent_id"] = str(channel.parent_id)
        self.add("channels", channel.id, payload)


def _convert(world: World, opt: dict[str, Any], value: Any, resolved: _Resolved) -> Any:
    kind, name = opt["type"], opt["name"]

    def wrong() -> FakeDiscordError:
        return FakeDiscordError(f"option {name!r} is a {OPTION_TYPE_NAMES.get(kind, kind)}; got {value!r}")

    if isinstance(value, Member):
        value = value.user
    if kind == 3:
        if not isinstance(value, str):
            raise wrong()
        if not opt.get("min_length", 0) <= len(value) <= opt.get("max_length", 6000):
            raise FakeDiscordError(f"option {name!r} must be {opt.get('min_length', 0)}..{opt.get('max_length', 6000)} characters")
    elif kind in (4, 10):
        if isinstance(value, bool) or not isinstance(value, int | float) or (kind == 4 and not isinstance(value, int)):
            raise wrong()
        if "min_value" in opt and value < opt["min_value"] or "max_value" in opt and value > opt["max_value"]:
            raise FakeDiscordError(f"option {name!r} must be within {opt.get('min_value')}..{opt.get('max_value')}; got {value}")
    elif kind == 5:
        if not isinstance(value, bool):
            raise wrong()
    elif kind == 6 or (kind == 9 and isinstance(value, User)):
        if not isinstance(value, User):
            raise wrong()
        resolved.user(value)
        return str(value.id)
    elif kind == 7:
        if not isinstance(value, Channel):
            raise wrong()
        if opt.get("channel_types") and value.type not in opt["channel_types"]:
            raise FakeDiscordError(f"option {name!r} accepts channel types {opt['channel_types']}; #{value.name} is {value.type}")
        resolved.channel_(value)
        return str(value.id)
    elif kind in (8, 9):
        if not isinstance(value, Role):
            raise wrong()
        resolved.add("roles", value.id, value.payload())
        return str(value.id)
    elif kind == 11:
        if not (isinstance(value, tuple) and len(value) == 2):
            raise FakeDiscordError(f"option {name!r} is an attachment: pass (filename, bytes)")
        att = Attachment(world.snowflake(), value[0], value[1])
        resolved.add("attachments", att.id, att.payload(resolved.url_base, resolved.channel.id))
        return str(att.id)
    choices = opt.get("choices")
    if choices and value not in [c["value"] for c in choices]:
        raise FakeDiscordError(f"option {name!r} only accepts the choices {[c['value'] for c in choices]}; got {value!r}")
    return value


def build_options(world: World, schema: list[dict[str, Any]], values: dict[str, Any], resolved: _Resolved, *, focused: str | None = None) -> list[dict[str, Any]]:
    """Option payloads in schema order; a misspelt or missing required option fails the test."""
    known = {o["name"]: o for o in schema}
    unknown = set(values) - set(known)
    if unknown:
        raise FakeDiscordError(f"unknown option(s) {sorted(unknown)}; options are {list(known)}")
    out = []
    for opt in schema:
        name = opt["name"]
        if name == focused:
            if not opt.get("autocomplete"):
                raise FakeDiscordError(f"option {name!r} has no autocomplete")
            out.append({"name": name, "type": opt["type"], "value": str(values[name]), "focused": True})
        elif name in values:
            out.append({"name": name, "type": opt["type"], "value": _convert(world, opt, values[name], resolved)})
        elif opt.get("required") and focused is None:
            raise FakeDiscordError(f"option {name!r} is required")
    return out


def command_data(top: dict[str, Any], chain: list[dict[str, Any]], options: list[dict[str, Any]], resolved: _Resolved) -> dict[str, Any]:
    for sub in reversed(chain):
        options = [{"name": sub["name"], "type": sub["type"], "options": options}]
    data: dict[str, Any] = {"id": str(top["id"]), "name": top["name"], "type": 1, "options": options}
    if top.get("guild_id"):
        data["guild_id"] = str(top["guild_id"])
    if resolved.data:
        data["resolved"] = resolved.data
    return data


def modal_submit_components(modal: dict[str, Any], values: dict[str, Any]) -> list[dict[str, Any]]:
    """Mirror the modal's layout (action rows or labels) with the submitted values; validate like the client."""
    inputs = {c["custom_id"]: c for c in walk_components(modal.get("components") or []) if "custom_id" in c}
    unknown = set(values) - set(inputs)
    if unknown:
        raise FakeDiscordError(f"modal {modal.get('custom_id')!r} has no input(s) {sorted(unknown)}; inputs are {list(inputs)}")

    def walk(comp: dict[str, Any]) -> dict[str, Any] | None:
        kind = comp.get("type")
        if kind == 1:
            children = [c for c in (walk(x) for x in comp.get("components") or []) if c]
            return {"type": 1, "components": children}
        if kind == 18:
            inner = walk(comp["component"])
            return {"type": 18, "id": comp.get("id"), "component": inner} if inner else None
        if kind == 4:
            value = values.get(comp["custom_id"], comp.get("value") or "")
            if comp.get("required", True) and not value:
                raise FakeDiscordError(f"text input {comp['custom_id']!r} is required")
            if value and not comp.get("min_length", 0) <= len(value) <= comp.get("max_length", 4000):
                raise FakeDiscordError(f"text input {comp['custom_id']!r} must be {comp.get('min_length', 0)}..{comp.get('max_length', 4000)} characters")
            return {"type": 4, "id": comp.get("id"), "custom_id": comp["custom_id"], "value": value}
        if kind in (3, 5, 6, 7, 8) and "custom_id" in comp:
            chosen = values.get(comp["custom_id"], [])
            return {"type": kind, "id": comp.get("id"), "custom_id": comp["custom_id"], "values": list(chosen)}
        return None

    return [c for c in (walk(c) for c in modal.get("components") or []) if c]


# --- the handle --------------------------------------------------------------------------------


class InteractionHandle:
    """One interaction the fake sent to the bot, and everything the bot answered to it."""

    def __init__(self, fake: FakeDiscord, *, type: int, user: User, guild: Guild | None, channel: Channel, data: dict[str, Any], message: Message | None = None, label: str = "") -> None:
        world = fake.world
        self.fake = fake
        self.id = world.snowflake()
        self.token = secrets.token_urlsafe(32)
        self.type, self.user, self.guild, self.channel, self.data, self.message = type, user, guild, channel, data, message
        self.label = label or data.get("name") or data.get("custom_id") or f"interaction {self.id}"
        self.callback_type: int | None = None
        self.callback_data: dict[str, Any] | None = None
        self.original: Message | None = None
        self.followups: list[Message] = []
        self.replies: list[Message] = []  # messages this interaction made visible, in order
        self.modal_data: dict[str, Any] | None = None
        self.modal_submitted = False
        self.choice_list: list[dict[str, Any]] | None = None
        self.created_at = time.monotonic()
        self.acknowledged_at: float | None = None

    def __repr__(self) -> str:
        return f"<InteractionHandle {self.label!r} type={self.type} callback={self.callback_type} replies={len(self.replies)}>"

    # payload --------------------------------------------------------------------------------------

    def payload(self) -> dict[str, Any]:
        world, guild, channel = self.fake.world, self.guild, self.channel
        url = self.fake.origin
        payload: dict[str, Any] = {
            "id": str(self.id),
            "application_id": str(world.application_id),
            "type": self.type,
            "data": self.data,
            "token": self.token,
            "version": 1,
            "locale": "en-US",
            "entitlements": [],
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
            "channel_id": str(channel.id),
        }
        if guild is not None:
            perms = guild.permissions_in(channel, self.user)
            payload.update(
                guild_id=str(guild.id),
                guild={"id": str(guild.id), "locale": guild.locale, "features": []},
                guild_locale=guild.locale,
                member=guild.members[self.user.id].payload(permissions=perms),
                app_permissions=str(guild.permissions_in(channel, world.bot)),
                channel=channel.payload(permissions=perms),
                context=0,
                authorizing_integration_owners={"0": str(guild.id)},
            )
        else:
            payload.update(user=self.user.payload(), app_permissions=str(ALL_PERMISSIONS), channel=channel.payload(), context=1,
                           authorizing_integration_owners={"0": "0"})
        if self.message is not None:
            payload["message"] = self.message.payload(url)
        return payload

    # what the bot sends (called by the REST layer) -------------------------------------------------

    async def on_callback(self, kind: int, data: dict[str, Any], files: list[UploadedFile]) -> dict[str, Any]:
        deadline = self.fake.interaction_deadline
        if deadline is not None and time.monotonic() - self.created_at > deadline:
            raise ApiError(404, 10062, "Unknown interaction")
        if self.callback_type is not None:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        if kind not in ALLOWED_CALLBACKS.get(self.type, set()) or (kind in (DEFERRED_UPDATE, UPDATE) and self.message is None):
            raise messages.form_error("type", f"callback type {kind} is not valid for interaction type {self.type}")
        fake, world = self.fake, self.fake.world
        if kind == MESSAGE:
            self.original = await fake.post_message(self.channel, world.bot, data, files, interaction_id=self.id, webhook_id=world.application_id)
            self._visible(self.original)
        elif kind == DEFERRED_MESSAGE:
            flags = (int(data.get("flags") or 0) & EPHEMERAL) | LOADING
            self.original = Message(world.snowflake(), self.channel, world.bot, flags=flags, interaction_id=self.id, webhook_id=world.application_id)
            world.messages[self.original.id] = self.original
        elif kind == DEFERRED_UPDATE:
            self.original = self.message
        elif kind == UPDATE:
            assert self.message is not None
            messages.edit(world, self.message, data, files)
            self.original = self.message
            self._visible(self.message)
        elif kind == AUTOCOMPLETE_RESULT:
            choices = list(data.get("choices") or [])
            if len(choices) > 25:
                raise messages.form_error("data.choices", "Must be 25 or fewer in length.")
            self.choice_list = choices
        elif kind == MODAL:
            if not data.get("custom_id") or not 1 <= len(data.get("title") or "") <= 45:
                raise messages.form_error("data", "A modal needs a custom_id and a title of 1..45 characters.")
            self.modal_data = data
        self.callback_type, self.callback_data = kind, data
        self.acknowledged_at = time.monotonic()
        body: dict[str, Any] = {"interaction": {"id": str(self.id), "type": self.type, "response_message_loading": kind == DEFERRED_MESSAGE,
                                                "response_message_ephemeral": bool(self.original and self.original.ephemeral)}}
        if kind in (MESSAGE, DEFERRED_MESSAGE, UPDATE) and self.original is not None:
            body["interaction"]["response_message_id"] = str(self.original.id)
            body["resource"] = {"type": kind, "message": self.original.payload(fake.origin)}
        return body

    def check_token(self) -> None:
        """Follow-ups and edits use the interaction token, which Discord honours for 15 minutes."""
        if time.monotonic() - self.created_at > self.fake.token_lifetime:
            raise ApiError(401, 50027, "Invalid Webhook Token")

    async def on_followup(self, data: dict[str, Any], files: list[UploadedFile]) -> Message:
        self.check_token()
        if self.callback_type is None:
            raise ApiError(404, 10015, "Unknown Webhook")
        world = self.fake.world
        original = self.original
        if self.callback_type == DEFERRED_MESSAGE and original is not None and original.loading:
            # The first follow-up after a deferral fills the "thinking" message, keeping the deferral's ephemerality.
            messages.edit(world, original, {k: v for k, v in data.items() if k != "flags"}, files)
            original.flags &= ~LOADING
            original.history.clear()
            self._visible(original)
            return original
        msg = await self.fake.post_message(self.channel, world.bot, data, files, interaction_id=self.id, webhook_id=world.application_id)
        self.followups.append(msg)
        self._visible(msg)
        return msg

    def message_for(self, message_id: str) -> Message:
        self.check_token()
        if message_id == "@original":
            if self.original is None or self.original.deleted:
                raise ApiError(404, 10008, "Unknown Message")
            return self.original
        for msg in self.followups:
            if str(msg.id) == message_id and not msg.deleted:
                return msg
        raise ApiError(404, 10008, "Unknown Message")

    def on_edit(self, message_id: str, data: dict[str, Any], files: list[UploadedFile]) -> Message:
        msg = self.message_for(message_id)
        messages.edit(self.fake.world, msg, data, files)
        if msg.loading:
            msg.flags &= ~LOADING
            msg.history.clear()
        self._visible(msg)
        return msg

    def _visible(self, msg: Message) -> None:
        if msg not in self.replies:
            self.replies.append(msg)
        self.fake.changes.notify()

    # what tests await ---------------------------------------------------------------------------

    @property
    def deferred(self) -> bool:
        return self.callback_type in (DEFERRED_MESSAGE, DEFERRED_UPDATE)

    @property
    def response_time(self) -> float | None:
        """Seconds from dispatch to the callback (Discord gives up after 3)."""
        return None if self.acknowledged_at is None else self.acknowledged_at - self.created_at

    async def acknowledged(self, timeout: float = 10.0) -> int:
        """Wait for the bot's callback; return its type (4 message, 5 deferred, 6, 7, 8 choices, 9 modal)."""
        await self._wait(lambda: self.callback_type is not None, timeout, "a callback")
        assert self.callback_type is not None
        return self.callback_type

    async def reply(self, index: int = 0, timeout: float = 10.0) -> Message:
        """The `index`-th visible reply: the callback message, the filled deferral, an edit or a follow-up."""
        await self._wait(lambda: len(self.replies) > index, timeout, f"visible reply #{index}")
        return self.replies[index]

    async def modal(self, timeout: float = 10.0) -> dict[str, Any]:
        """The modal the bot opened (callback type 9): custom_id, title, components."""
        await self._wait(lambda: self.modal_data is not None or self.callback_type not in (None, MODAL), timeout, "a modal")
        if self.modal_data is None:
            raise AssertionError(f"{self.label}: expected a modal, got callback type {self.callback_type}")
        return self.modal_data

    async def choices(self, timeout: float = 10.0) -> list[dict[str, Any]]:
        await self._wait(lambda: self.choice_list is not None, timeout, "autocomplete choices")
        assert self.choice_list is not None
        return self.choice_list

    async def _wait(self, predicate: Any, timeout: float, what: str) -> None:
        try:
            await self.fake.changes.wait_for(predicate, timeout=timeout)
        except TimeoutError:
            failed = [r for r in self.fake.requests() if self.token in r.path and r.status >= 400]
            raise TimeoutError(
                f"{self.label}: no {what} within {timeout}s; callback type={self.callback_type}, "
                f"replies={len(self.replies)}, failed requests={failed}, unhandled={self.fake.unhandled}"
            ) from None
