"""The fake's world: users, guilds, channels, roles, members and messages, plus their JSON shapes."""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

DISCORD_EPOCH_MS = 1_420_070_400_000

# Permission bits (https://discord.com/developers/docs/topics/permissions).
ADD_REACTIONS = 1 << 6
ADMINISTRATOR = 1 << 3
MANAGE_CHANNELS = 1 << 4
MANAGE_GUILD = 1 << 5
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
CONNECT = 1 << 20
MUTE_MEMBERS = 1 << 22
MOVE_MEMBERS = 1 << 24
USE_APPLICATION_COMMANDS = 1 << 31
MANAGE_EVENTS = 1 << 33
CREATE_EVENTS = 1 << 44
ALL_PERMISSIONS = (1 << 51) - 1
# @everyone's defaults on a new server include Connect (joining voice channels).
MEMBER_DEFAULT = (VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | ATTACH_FILES | ADD_REACTIONS | READ_MESSAGE_HISTORY
                  | CONNECT | USE_APPLICATION_COMMANDS)
# The SPEC's invite: the message permissions, plus Manage Events and Create Events for meetings.
BOT_INVITE_PERMISSIONS = (VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | ATTACH_FILES | ADD_REACTIONS | READ_MESSAGE_HISTORY
                          | MANAGE_EVENTS | CREATE_EVENTS)

# Gateway intent bits.
INTENT_GUILDS = 1 << 0
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15
INTENT_GUILD_SCHEDULED_EVENTS = 1 << 16

# Channel types.
GUILD_TEXT = 0
DM = 1
GUILD_VOICE = 2
GUILD_CATEGORY = 4
GUILD_STAGE_VOICE = 13

EPHEMERAL = 1 << 6
LOADING = 1 << 7


class ApiError(Exception):
    """An error answered to the client as Discord would: HTTP status plus a JSON code and message."""

    def __init__(self, status: int, code: int, message: str, *, errors: dict[str, Any] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.errors = status, code, message, errors

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.errors:
            body["errors"] = self.errors
        return body


class FakeDiscordError(AssertionError):
    """A test asked for something a real Discord client could not do (misspelt command, hidden button...)."""


def iso(ts: float | None = None) -> str:
    return datetime.fromtimestamp(time.time() if ts is None else ts, UTC).isoformat()


class Snowflakes:
    """Real-looking, strictly increasing snowflakes (discord.py reads their timestamps)."""

    def __init__(self) -> None:
        self._last = 0

    def __call__(self) -> int:
        candidate = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
        self._last = max(candidate, self._last + 1)
        return self._last

    def on_shard(self, shard_id: int, count: int) -> int:
        """Return the next snowflake of a server on shard `shard_id` of `count` ((id >> 22) % count)."""
        flake = self()
        ms = flake >> 22
        ahead = (shard_id - ms) % count  # a few milliseconds on, at most
        if ahead:
            flake = (ms + ahead) << 22
        self._last = flake
        return flake


@dataclass(eq=False)
class User:
    id: int
    name: str
    bot: bool = False
    global_name: str | None = None

    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "username": self.name,
            "discriminator": "0",
            "global_name": self.global_name or self.name,
            "avatar": None,
            "public_flags": 0,
        }
        if self.bot:
            data["bot"] = True
        return data

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"


@dataclass(eq=False)
class Role:
    id: int
    guild_id: int
    name: str
    permissions: int
    position: int = 0
    managed: bool = False

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "managed": self.managed,
            "mentionable": False,
            "icon": None,
            "unicode_emoji": None,
            "flags": 0,
        }

    @property
    def mention(self) -> str:
        return f"<@&{self.id}>"


@dataclass(eq=False)
class Channel:
    id: int
    type: int
    name: str | None = None
    guild_id: int | None = None
    position: int = 0
    parent_id: int | None = None
    recipient: User | None = None  # DMs only
    overwrites: dict[int, dict[str, Any]] = field(default_factory=dict)
    last_message_id: int | None = None

    @property
    def is_dm(self) -> bool:
        return self.type == DM

    @property
    def mention(self) -> str:
        return f"<#{self.id}>"

    def payload(self, *, permissions: int | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "type": self.type,
            "last_message_id": str(self.last_message_id) if self.last_message_id else None,
            "flags": 0,
        }
        if self.is_dm:
            assert self.recipient is not None
            data["recipients"] = [self.recipient.payload()]
        else:
            data.update(
                guild_id=str(self.guild_id),
                name=self.name,
                position=self.position,
                parent_id=str(self.parent_id) if self.parent_id else None,
                topic=None,
                nsfw=False,
                rate_limit_per_user=0,
                permission_overwrites=list(self.overwrites.values()),
            )
            if self.type in (GUILD_VOICE, GUILD_STAGE_VOICE):
                data.update(bitrate=64000, user_limit=0, rtc_region=None)
        if permissions is not None:
            data["permissions"] = str(permissions)
        return data


@dataclass(eq=False)
class Member:
    user: User
    guild: Guild
    roles: list[Role] = field(default_factory=list)
    nick: str | None = None
    joined_at: str = field(default_factory=iso)

    def payload(self, *, with_user: bool = True, permissions: int | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "roles": [str(r.id) for r in self.roles],
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = self.user.payload()
        if permissions is not None:
            data["permissions"] = str(permissions)
        return data


@dataclass(eq=False)
class Guild:
    id: int
    name: str
    owner_id: int
    roles: list[Role] = field(default_factory=list)
    channels: list[Channel] = field(default_factory=list)
    members: dict[int, Member] = field(default_factory=dict)
    locale: str = "en-US"

    @property
    def everyone(self) -> Role:
        return self.roles[0]

    def channel(self, name: str) -> Channel:
        """Return the channel called `name` (without '#')."""
        for channel in self.channels:
            if channel.name == name.lstrip("#"):
                return channel
        raise FakeDiscordError(f"guild {self.name!r} has no channel {name!r}; it has {[c.name for c in self.channels]}")

    def role(self, name: str) -> Role:
        for role in self.roles:
            if role.name == name:
                return role
        raise FakeDiscordError(f"guild {self.name!r} has no role {name!r}; it has {[r.name for r in self.roles]}")

    @property
    def text_channels(self) -> list[Channel]:
        return [c for c in self.channels if c.type == GUILD_TEXT]

    def channel_by_id(self, channel_id: int) -> Channel | None:
        return next((c for c in self.channels if c.id == channel_id), None)

    def base_permissions(self, user: User) -> int:
        """Guild-level permissions of `user` from @everyone and their roles (ownership and admin grant all)."""
        member = self.members.get(user.id)
        if member is None:
            return 0
        if user.id == self.owner_id:
            return ALL_PERMISSIONS
        perms = self.everyone.permissions
        for role in member.roles:
            perms |= role.permissions
        return ALL_PERMISSIONS if perms & ADMINISTRATOR else perms

    def permissions_in(self, channel: Channel, user: User) -> int:
        """Channel-level permissions of `user`, applying overwrites in Discord's order."""
        perms = self.base_permissions(user)
        if perms == ALL_PERMISSIONS or perms == 0:
            return perms
        member = self.members[user.id]

        def apply(target_id: int, perms: int) -> int:
            ow = channel.overwrites.get(target_id)
            return perms if ow is None else (perms & ~int(ow["deny"])) | int(ow["allow"])

        perms = apply(self.id, perms)
        allow = deny = 0
        for role in member.roles:
            ow = channel.overwrites.get(role.id)
            if ow is not None:
                allow, deny = allow | int(ow["allow"]), deny | int(ow["deny"])
        perms = (perms & ~deny) | allow
        return apply(user.id, perms)


@dataclass(eq=False)
class Attachment:
    id: int
    filename: str
    data: bytes
    content_type: str | None = None
    description: str | None = None

    @property
    def size(self) -> int:
        return len(self.data)

    def payload(self, url_base: str, channel_id: int) -> dict[str, Any]:
        url = f"{url_base}/attachments/{channel_id}/{self.id}/{self.filename}"
        data: dict[str, Any] = {
            "id": str(self.id),
            "filename": self.filename,
            "size": self.size,
            "url": url,
            "proxy_url": url,
            "content_type": self.content_type,
        }
        if self.description:
            data["description"] = self.description
        return data


def walk_components(components: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for comp in components:
        yield comp
        yield from walk_components(comp.get("components", []))
        if isinstance(comp.get("component"), dict):
            yield from walk_components([comp["component"]])
        if isinstance(comp.get("accessory"), dict):
            yield from walk_components([comp["accessory"]])


@dataclass(eq=False)
class Message:
    """A message as stored by the fake; also what tests inspect (`.content`, `.ephemeral`, `.custom_ids`...)."""

    id: int
    channel: Channel
    author: User
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    flags: int = 0
    nonce: str | int | None = None
    allowed_mentions: dict[str, Any] | None = None
    mentions: list[User] = field(default_factory=list)
    reactions: list[str] = field(default_factory=list)  # emoji added by the bot, in order
    deleted: bool = False
    edited_at: str | None = None
    created_at: str = field(default_factory=iso)
    webhook_id: int | None = None
    interaction_id: int | None = None
    history: list[dict[str, Any]] = field(default_factory=list)  # earlier versions, oldest first

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & EPHEMERAL)

    @property
    def loading(self) -> bool:
        return bool(self.flags & LOADING)

    @property
    def guild_id(self) -> int | None:
        return self.channel.guild_id

    def walk_components(self) -> Iterator[dict[str, Any]]:
        return walk_components(self.components)

    @property
    def custom_ids(self) -> list[str]:
        """Custom ids of every interactive component (buttons, selects), in layout order."""
        return [c["custom_id"] for c in self.walk_components() if "custom_id" in c]

    @property
    def buttons(self) -> list[dict[str, Any]]:
        return [c for c in self.walk_components() if c.get("type") == 2]

    @property
    def text(self) -> str:
        """Content plus every embed's visible text, for 'the reply mentions X' assertions."""
        parts = [self.content]
        for embed in self.embeds:
            parts += [embed.get("title", ""), embed.get("description", "")]
            for f in embed.get("fields", []):
                parts += [f.get("name", ""), f.get("value", "")]
            parts += [embed.get("footer", {}).get("text", ""), embed.get("author", {}).get("name", "")]
        for comp in self.walk_components():  # components v2 text displays
            if comp.get("type") == 10:
                parts.append(comp.get("content", ""))
        return "\n".join(p for p in parts if p)

    def attachment(self, filename: str) -> Attachment:
        for a in self.attachments:
            if a.filename == filename:
                return a
        raise FakeDiscordError(f"message {self.id} has no attachment {filename!r}: {[a.filename for a in self.attachments]}")

    def snapshot(self) -> dict[str, Any]:
        return {"content": self.content, "embeds": self.embeds, "components": self.components, "flags": self.flags}

    def payload(self, url_base: str, *, guild: Guild | None = None, member: Member | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "type": 0 if self.interaction_id is None else 20,
            "channel_id": str(self.channel.id),
            "author": self.author.payload(),
            "content": self.content,
            "timestamp": self.created_at,
            "edited_timestamp": self.edited_at,
            "tts": False,
            "mention_everyone": False,
            "mentions": [u.payload() for u in self.mentions],
            "mention_roles": [],
            "attachments": [a.payload(url_base, self.channel.id) for a in self.attachments],
            "embeds": self.embeds,
            "components": self.components,
            "reactions": [
                {"emoji": _emoji_payload(e), "count": 1, "count_details": {"burst": 0, "normal": 1}, "me": True, "me_burst": False, "burst_colors": []}
                for e in self.reactions
            ],
            "pinned": False,
            "flags": self.flags,
        }
        if self.guild_id is not None:
            data["guild_id"] = str(self.guild_id)
            if member is not None:
                data["member"] = member.payload(with_user=False)
        if self.nonce is not None:
            data["nonce"] = self.nonce
        if self.webhook_id is not None:
            data["webhook_id"] = str(self.webhook_id)
            data["application_id"] = str(self.webhook_id)
        return data


# Guild scheduled events: entity types, statuses, privacy.
STAGE_INSTANCE, VOICE_EVENT, EXTERNAL = 1, 2, 3
SCHEDULED, ACTIVE, COMPLETED, CANCELED = 1, 2, 3, 4
GUILD_ONLY = 2


@dataclass(eq=False)
class ScheduledEvent:
    """A guild scheduled event as stored by the fake (`fake.scheduled_events(guild)` returns these)."""

    id: int
    guild_id: int
    name: str
    entity_type: int
    start: datetime
    end: datetime | None = None
    channel_id: int | None = None
    location: str | None = None
    description: str | None = None
    status: int = SCHEDULED
    creator_id: int | None = None
    privacy_level: int = GUILD_ONLY
    user_count: int = 0
    deleted: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)  # earlier versions (payloads), oldest first

    @property
    def is_open(self) -> bool:
        """Scheduled or active: what Discord lists and counts toward a server's 100."""
        return not self.deleted and self.status in (SCHEDULED, ACTIVE)

    @property
    def url(self) -> str:
        return f"https://discord.com/events/{self.guild_id}/{self.id}"

    def payload(self, users: dict[int, User], *, with_user_count: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "guild_id": str(self.guild_id),
            "channel_id": str(self.channel_id) if self.channel_id else None,
            "creator_id": str(self.creator_id) if self.creator_id else None,
            "name": self.name,
            "description": self.description,
            "scheduled_start_time": self.start.isoformat(),
            "scheduled_end_time": self.end.isoformat() if self.end else None,
            "privacy_level": self.privacy_level,
            "status": self.status,
            "entity_type": self.entity_type,
            "entity_id": None,
            "entity_metadata": {"location": self.location} if self.entity_type == EXTERNAL else None,
            "image": None,
            "recurrence_rule": None,
        }
        creator = users.get(self.creator_id) if self.creator_id else None
        if creator is not None:
            data["creator"] = creator.payload()
        if with_user_count:
            data["user_count"] = self.user_count
        return data


def _emoji_payload(emoji: str) -> dict[str, Any]:
    match = re.fullmatch(r"<?a?:?(\w+):(\d+)>?", emoji)
    if match:
        return {"id": match[2], "name": match[1]}
    return {"id": None, "name": emoji}


class World:
    """Everything the fake knows. Builders return the created objects so tests can hold on to them."""

    def __init__(self, *, token: str, bot_name: str = "Kindred") -> None:
        self.snowflake = Snowflakes()
        self.token = token
        self.application_id = self.snowflake()
        # Modern bots share their application's id.
        self.bot = User(self.application_id, bot_name, bot=True)
        self.users: dict[int, User] = {self.bot.id: self.bot}
        self.guilds: dict[int, Guild] = {}
        self.channels: dict[int, Channel] = {}
        self.messages: dict[int, Message] = {}
        self.dm_channels: dict[int, Channel] = {}  # by recipient id
        self.global_commands: list[dict[str, Any]] = []
        self.guild_commands: dict[int, list[dict[str, Any]]] = {}
        self.scheduled_events: dict[int, ScheduledEvent] = {}  # deleted ones stay, marked `deleted`
        self._names = itertools.count(1)

    # builders -----------------------------------------------------------------------------------

    def add_user(self, name: str | None = None, *, bot: bool = False) -> User:
        user = User(self.snowflake(), name or f"user{next(self._names)}", bot=bot)
        self.users[user.id] = user
        return user

    def add_guild(
        self,
        name: str = "Recovery Circle",
        *,
        channels: tuple[str, ...] | list[str] = ("general",),
        owner: User | None = None,
        everyone_permissions: int = MEMBER_DEFAULT,
        bot_permissions: int = BOT_INVITE_PERMISSIONS,
        shard: tuple[int, int] | None = None,
    ) -> Guild:
        gid = self.snowflake() if shard is None else self.snowflake.on_shard(*shard)
        owner = owner or self.add_user(f"{name.lower().replace(' ', '-')}-owner")
        guild = Guild(gid, name, owner.id)
        guild.roles.append(Role(gid, gid, "@everyone", everyone_permissions))
        bot_role = self.add_role(guild, self.bot.name, permissions=bot_permissions)
        bot_role.managed = True
        for channel_name in channels:
            self.add_channel(guild, channel_name)
        self.guilds[gid] = guild
        self.add_member(guild, self.bot, roles=[bot_role])
        self.add_member(guild, owner)
        return guild

    def add_channel(self, guild: Guild, name: str, *, type: int = GUILD_TEXT, parent: Channel | None = None) -> Channel:
        channel = Channel(self.snowflake(), type, name=name.lstrip("#"), guild_id=guild.id, position=len(guild.channels),
                          parent_id=parent.id if parent else None)
        guild.channels.append(channel)
        self.channels[channel.id] = channel
        return channel

    def add_role(self, guild: Guild, name: str, *, permissions: int = 0) -> Role:
        role = Role(self.snowflake(), guild.id, name, permissions, position=len(guild.roles))
        guild.roles.append(role)
        return role

    def add_member(self, guild: Guild, user: User, *, roles: list[Role] | tuple[Role, ...] = (), manage_guild: bool = False, nick: str | None = None) -> Member:
        roles = list(roles)
        if manage_guild:
            roles.append(self.manager_role(guild))
        member = Member(user, guild, roles, nick=nick)
        guild.members[user.id] = member
        return member

    def manager_role(self, guild: Guild) -> Role:
        """The guild's 'Moderators' role (Manage Server), created on first use."""
        for role in guild.roles:
            if role.name == "Moderators":
                return role
        return self.add_role(guild, "Moderators", permissions=MANAGE_GUILD)

    def set_overwrite(self, channel: Channel, target: Role | User, *, allow: int = 0, deny: int = 0) -> None:
        kind = 0 if isinstance(target, Role) else 1
        channel.overwrites[target.id] = {"id": str(target.id), "type": kind, "allow": str(allow), "deny": str(deny)}

    def dm_channel(self, user: User) -> Channel:
        channel = self.dm_channels.get(user.id)
        if channel is None:
            channel = Channel(self.snowflake(), DM, recipient=user)
            self.dm_channels[user.id] = channel
            self.channels[channel.id] = channel
        return channel

    # lookups -------------------------------------------------------------------------------------

    def guild_of(self, channel: Channel) -> Guild | None:
        return self.guilds.get(channel.guild_id) if channel.guild_id else None

    def shares_guild_with_bot(self, user: User) -> bool:
        return any(user.id in g.members for g in self.guilds.values())

    def channel(self, channel_id: int | str) -> Channel:
        channel = self.channels.get(int(channel_id))
        if channel is None:
            raise ApiError(404, 10003, "Unknown Channel")
        return channel

    def message(self, channel: Channel, message_id: int | str) -> Message:
        msg = self.messages.get(int(message_id))
        if msg is None or msg.deleted or msg.channel is not channel:
            raise ApiError(404, 10008, "Unknown Message")
        return msg

    def guild(self, guild_id: int | str) -> Guild:
        guild = self.guilds.get(int(guild_id))
        if guild is None:
            raise ApiError(404, 10004, "Unknown Guild")
        return guild

    def guild_payload(self, guild: Guild, *, intents: int) -> dict[str, Any]:
        """A GUILD_CREATE payload. Without the members intent only the bot's own member is included."""
        members = guild.members.values() if intents & INTENT_GUILD_MEMBERS else [guild.members[self.bot.id]]
        return {
            "id": str(guild.id),
            "name": guild.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "owner_id": str(guild.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "roles": [r.payload() for r in guild.roles],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "vanity_url_code": None,
            "description": None,
            "banner": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": guild.locale,
            "public_updates_channel_id": None,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "joined_at": guild.members[self.bot.id].joined_at,
            "large": False,
            "unavailable": False,
            "member_count": len(guild.members),
            "members": [m.payload() for m in members],
            "channels": [c.payload() for c in guild.channels],
            "threads": [],
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [e.payload(self.users) for e in self.scheduled_events.values()
                                       if e.guild_id == guild.id and e.is_open],
            "soundboard_sounds": [],
        }
