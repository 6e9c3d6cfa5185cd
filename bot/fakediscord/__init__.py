"""A small Discord-compatible server for end-to-end tests: REST under /api/v10 plus a gateway websocket.

See tests/README.md for what it models and how to write a test with it.
"""

from .client import discord_endpoints
from .interactions import InteractionHandle
from .records import GatewayRecord, RequestRecord
from .server import FakeDiscord
from .state import (
    ADMINISTRATOR,
    ATTACH_FILES,
    BOT_INVITE_PERMISSIONS,
    EPHEMERAL,
    MANAGE_GUILD,
    MEMBER_DEFAULT,
    SEND_MESSAGES,
    VIEW_CHANNEL,
    Attachment,
    Channel,
    FakeDiscordError,
    Guild,
    Member,
    Message,
    Role,
    User,
)

__all__ = [
    "ADMINISTRATOR",
    "ATTACH_FILES",
    "BOT_INVITE_PERMISSIONS",
    "EPHEMERAL",
    "MANAGE_GUILD",
    "MEMBER_DEFAULT",
    "SEND_MESSAGES",
    "VIEW_CHANNEL",
    "Attachment",
    "Channel",
    "FakeDiscord",
    "FakeDiscordError",
    "GatewayRecord",
    "Guild",
    "InteractionHandle",
    "Member",
    "Message",
    "RequestRecord",
    "Role",
    "User",
    "discord_endpoints",
]
