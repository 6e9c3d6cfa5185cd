"""Turn message payloads (JSON or multipart) into stored messages, validating what Discord validates."""

from __future__ import annotations

import re
from typing import Any

from .records import UploadedFile
from .state import EPHEMERAL, ApiError, Attachment, Channel, Message, User, World, iso

SETTABLE_FLAGS = EPHEMERAL | (1 << 2) | (1 << 12) | (1 << 15)  # ephemeral, suppress embeds/notifications, components v2


def form_error(path: str, message: str) -> ApiError:
    """A 400/50035 'Invalid Form Body' with Discord's nested `errors` shape (discord.py prints it)."""
    errors: dict[str, Any] = {"_errors": [{"code": "BASE_TYPE_INVALID", "message": message}]}
    for key in reversed(path.split(".")):
        errors = {key: errors}
    return ApiError(400, 50035, "Invalid Form Body", errors=errors)


def validate(payload: dict[str, Any], *, creating: bool, has_files: bool) -> None:
    content = payload.get("content")
    if content is not None and len(str(content)) > 2000:
        raise form_error("content", "Must be 2000 or fewer in length.")
    embeds = payload.get("embeds") or []
    if len(embeds) > 10:
        raise form_error("embeds", "Must be 10 or fewer in length.")
    total = 0
    for i, embed in enumerate(embeds):
        limits = {"title": 256, "description": 4096}
        for key, limit in limits.items():
            if len(embed.get(key) or "") > limit:
                raise form_error(f"embeds.{i}.{key}", f"Must be {limit} or fewer in length.")
        fields = embed.get("fields") or []
        if len(fields) > 25:
            raise form_error(f"embeds.{i}.fields", "Must be 25 or fewer in length.")
        for j, f in enumerate(fields):
            if not f.get("name") or not f.get("value"):
                raise form_error(f"embeds.{i}.fields.{j}", "This field is required")
            if len(f["name"]) > 256 or len(f["value"]) > 1024:
                raise form_error(f"embeds.{i}.fields.{j}", "Field name/value too long.")
        total += len(embed.get("title") or "") + len(embed.get("description") or "")
        total += sum(len(f["name"]) + len(f["value"]) for f in fields)
        total += len((embed.get("footer") or {}).get("text", "")) + len((embed.get("author") or {}).get("name", ""))
    if total > 6000:
        raise form_error("embeds", "Embed size exceeds maximum size of 6000")
    _validate_components(payload.get("components") or [], int(payload.get("flags") or 0))
    if creating and not (content or embeds or payload.get("components") or has_files or payload.get("sticker_ids") or payload.get("poll")):
        raise ApiError(400, 50006, "Cannot send an empty message")


def _validate_components(rows: list[dict[str, Any]], flags: int) -> None:
    if flags & (1 << 15):  # components v2 layouts are not checked beyond custom ids
        limit_rows = 40
    else:
        limit_rows = 5
    if len(rows) > limit_rows:
        raise form_error("components", f"Must be {limit_rows} or fewer in length.")
    seen: set[str] = set()
    stack = list(rows)
    while stack:
        comp = stack.pop()
        stack.extend(comp.get("components") or [])
        if comp.get("type") == 1 and len(comp.get("components") or []) > 5:
            raise form_error("components", "An action row holds at most 5 components.")
        custom_id = comp.get("custom_id")
        if custom_id is not None:
            if not 1 <= len(custom_id) <= 100:
                raise form_error("components.custom_id", "Must be between 1 and 100 in length.")
            if custom_id in seen:
                raise form_error("components.custom_id", "Component custom id cannot be duplicated")
            seen.add(custom_id)
        if comp.get("type") == 2 and len(comp.get("label") or "") > 80:
            raise form_error("components.label", "Must be 80 or fewer in length.")


def attachments_for(world: World, payload: dict[str, Any], files: list[UploadedFile], existing: list[Attachment]) -> list[Attachment]:
    """Existing attachments the payload keeps (by id) plus the uploaded files (`files[n]`)."""
    listed = payload.get("attachments")
    keep = existing if listed is None else [a for a in existing if str(a.id) in {str(x.get("id")) for x in listed}]
    described = {str(x.get("id")): x for x in listed or []}
    new = []
    for up in files:
        match = re.fullmatch(r"files\[(\d+)\]", up.field)
        meta = described.get(match[1] if match else "", {})
        new.append(Attachment(world.snowflake(), meta.get("filename") or up.filename, up.data, up.content_type, meta.get("description")))
    return keep + new


def mentioned_users(world: World, content: str) -> list[User]:
    ids = [int(m) for m in re.findall(r"<@!?(\d+)>", content or "")]
    return [world.users[i] for i in ids if i in world.users]


def create(world: World, channel: Channel, author: User, payload: dict[str, Any], files: list[UploadedFile], **extra: Any) -> Message:
    validate(payload, creating=True, has_files=bool(files))
    content = str(payload.get("content") or "")
    msg = Message(
        id=world.snowflake(),
        channel=channel,
        author=author,
        content=content,
        embeds=list(payload.get("embeds") or []),
        components=list(payload.get("components") or []),
        attachments=attachments_for(world, payload, files, []),
        flags=int(payload.get("flags") or 0) & SETTABLE_FLAGS,
        nonce=payload.get("nonce"),
        allowed_mentions=payload.get("allowed_mentions"),
        mentions=mentioned_users(world, content),
        **extra,
    )
    world.messages[msg.id] = msg
    channel.last_message_id = msg.id
    return msg


def edit(world: World, msg: Message, payload: dict[str, Any], files: list[UploadedFile]) -> None:
    """Apply a PATCH: only the keys present change (`None` clears), as on Discord."""
    validate(payload, creating=False, has_files=bool(files))
    msg.history.append(msg.snapshot())
    if "content" in payload:
        msg.content = str(payload["content"] or "")
        msg.mentions = mentioned_users(world, msg.content)
    if "embeds" in payload:
        msg.embeds = list(payload["embeds"] or [])
    if "components" in payload:
        msg.components = list(payload["components"] or [])
    if "flags" in payload and payload["flags"] is not None:
        # Ephemeral-ness cannot change after the fact; other settable flags can.
        msg.flags = (msg.flags & EPHEMERAL) | (int(payload["flags"]) & SETTABLE_FLAGS & ~EPHEMERAL)
    if "allowed_mentions" in payload:
        msg.allowed_mentions = payload["allowed_mentions"]
    if "attachments" in payload or files:
        msg.attachments = attachments_for(world, payload, files, msg.attachments)
    msg.edited_at = iso()
