"""Outgoing messages and delivery outcomes, described without Discord types."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class ButtonStyle(StrEnum):
    """How a button looks."""

    PRIMARY = "primary"
    SECONDARY = "secondary"
    SUCCESS = "success"
    DANGER = "danger"


@dataclass(frozen=True, slots=True)
class Button:
    """A button with a fixed custom id."""

    custom_id: str
    label: str
    style: ButtonStyle = ButtonStyle.SECONDARY
    emoji: str | None = None


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file to attach."""

    filename: str
    data: bytes


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """A message to post in a channel or DM, described without Discord types.

    `mention_role_id` is the only ping ever allowed (an urgent moderator alert); every
    other mention is suppressed. `react` is added by the bot after posting.
    `fallback_channel_id`/`fallback` say where to post instead if a DM cannot be
    delivered (the member closed their DMs).
    """

    content: str
    buttons: tuple[Button, ...] = ()
    embed_title: str | None = None
    embed_description: str | None = None
    mention_role_id: int | None = None
    react: str | None = None
    attachment: Attachment | None = field(default=None, compare=False)
    fallback_channel_id: int | None = None
    fallback: OutgoingMessage | None = None

    def to_json(self) -> str:
        """Serialise for the outbox (attachments are not stored there)."""
        if self.attachment is not None:
            raise ValueError("attachments are sent directly, never queued in the outbox")
        return json.dumps(_strip(asdict(self)), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> OutgoingMessage:
        """Rebuild a message from `to_json` output."""
        return cls._from_dict(json.loads(text))

    @classmethod
    def _from_dict(cls, data: dict[str, Any]) -> OutgoingMessage:
        buttons = tuple(
            Button(b["custom_id"], b["label"], ButtonStyle(b.get("style", "secondary")), b.get("emoji"))
            for b in data.get("buttons", ())
        )
        fallback = data.get("fallback")
        return cls(
            content=data["content"],
            buttons=buttons,
            embed_title=data.get("embed_title"),
            embed_description=data.get("embed_description"),
            mention_role_id=data.get("mention_role_id"),
            react=data.get("react"),
            fallback_channel_id=data.get("fallback_channel_id"),
            fallback=cls._from_dict(fallback) if fallback else None,
        )


def _strip(data: dict[str, Any]) -> dict[str, Any]:
    return {k: (_strip(v) if isinstance(v, dict) else v) for k, v in data.items()
            if v not in (None, ()) and k != "attachment"}


class SendStatus(StrEnum):
    """What happened to a message."""

    SENT = "sent"
    DM_CLOSED = "dm_closed"        # 403 / 50007: the member does not accept DMs from us
    FORBIDDEN = "forbidden"        # missing access or permissions in a channel
    NOT_FOUND = "not_found"        # channel or user gone
    REJECTED = "rejected"          # any other 4xx: the request itself is wrong
    TRANSIENT = "transient"        # 429 / 5xx / network after discord.py's own retries


@dataclass(frozen=True, slots=True)
class SendResult:
    """The outcome of one send."""

    status: SendStatus
    message_id: int | None = None
    detail: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the message was delivered."""
        return self.status is SendStatus.SENT
