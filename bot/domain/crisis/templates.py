"""Fixed, reviewed crisis reply templates: load them and fill in a fixed set of fields."""

from __future__ import annotations

import string
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

__all__ = [
    "CrisisTemplates",
    "FIELDS",
    "Label",
    "Language",
    "TemplateError",
    "TemplateFields",
    "TemplateKey",
    "language_for_locale",
    "template_for",
]


class TemplateError(ValueError):
    """The template file is malformed, or a render was asked for a missing template."""


class Language(StrEnum):
    """A language the templates are written in."""

    EN = "en"
    ES = "es"


class TemplateKey(StrEnum):
    """A member-facing crisis text."""

    DM_IMMINENT = "dm_imminent"
    DM_OVERDOSE = "dm_overdose"
    DM_IDEATION = "dm_ideation"
    DM_DISTRESS = "dm_distress"
    DM_RELAPSE = "dm_relapse"
    DM_WORRIED_OTHER = "dm_worried_other"
    CRISIS_COMMAND = "crisis_command"
    PUBLIC_NUDGE = "public_nudge"


# DMs sent after passive detection: each must offer the "I'm OK / not about me" way out.
DM_KEYS = frozenset(k for k in TemplateKey if k.value.startswith("dm_"))


class Label(StrEnum):
    """A short fixed string for resource blocks, buttons and moderator alerts."""

    EMERGENCY_HEADING = "emergency_heading"
    CALL_LOCAL_EMERGENCY = "call_local_emergency"
    TALK_HEADING = "talk_heading"
    SUBSTANCE_HEADING = "substance_heading"
    MORE_OPTIONS = "more_options"
    WORLDWIDE_HEADING = "worldwide_heading"
    SERVER_RESOURCES = "server_resources"
    HOURS = "hours"
    TEXT = "text"
    CHAT = "chat"
    PHONE = "phone"
    IM_OK_BUTTON = "im_ok_button"
    NOT_ABOUT_ME_BUTTON = "not_about_me_button"
    IM_OK_ACK = "im_ok_ack"
    ALERT_TITLE = "alert_title"
    ALERT_ABUSE_TITLE = "alert_abuse_title"
    ALERT_TIER_3 = "alert_tier_3"
    ALERT_TIER_2 = "alert_tier_2"
    ALERT_TIER_1 = "alert_tier_1"
    ALERT_PATH_SELF = "alert_path_self"
    ALERT_PATH_OTHER = "alert_path_other"
    ALERT_PATH_ABUSE = "alert_path_abuse"
    ALERT_CHANNEL = "alert_channel"
    ALERT_JUMP = "alert_jump"
    ALERT_RULE = "alert_rule"
    ALERT_WHY = "alert_why"
    ALERT_PRIOR = "alert_prior"
    ALERT_RESOURCES_SENT = "alert_resources_sent"
    ALERT_RESOURCES_NOT_SENT = "alert_resources_not_sent"
    ALERT_DM_FAILED = "alert_dm_failed"
    ALERT_DM_FAILED_NO_NUDGE = "alert_dm_failed_no_nudge"
    ALERT_MEMBER_OPTED_OUT = "alert_member_opted_out"
    ALERT_ACK_BUTTON = "alert_ack_button"
    ALERT_RESOLVE_BUTTON = "alert_resolve_button"
    ALERT_FALSE_BUTTON = "alert_false_button"
    ALERT_ACKED_BY = "alert_acked_by"
    ALERT_RESOLVED_BY = "alert_resolved_by"
    ALERT_FALSE_BY = "alert_false_by"
    ALERT_REMINDER = "alert_reminder"
    ALERT_MEMBER = "alert_member"
    ALERT_STATUS = "alert_status"
    ALERT_STATUS_OPEN = "alert_status_open"
    ALERT_DM_PENDING = "alert_dm_pending"
    ALERT_DM_COOLDOWN = "alert_dm_cooldown"
    ALERT_DM_UNDELIVERED = "alert_dm_undelivered"
    ALERT_REPEATS = "alert_repeats"
    ALERT_REQUEST_TITLE = "alert_request_title"
    ALERT_REQUEST_MESSAGE = "alert_request_message"
    ALERT_TEXT_NOT_COPIED = "alert_text_not_copied"
    COUNTRY_NOT_COVERED = "country_not_covered"
    COUNTRY_UNKNOWN = "country_unknown"


@dataclass(frozen=True, slots=True)
class TemplateFields:
    """The only values a template may use; nothing else reaches the text."""

    server: str
    emergency: str
    resources: str
    crisis_command: str = "/crisis"
    optout_command: str = "/settings crisis-replies off"


FIELDS: frozenset[str] = frozenset(TemplateFields.__dataclass_fields__)
_SUPPORTED_VERSION = 1
_FORMATTER = string.Formatter()


def _check_placeholders(text: str, where: str) -> None:
    """Raise unless every placeholder in `text` is a bare known field name."""
    try:
        parsed = list(_FORMATTER.parse(text))
    except ValueError as exc:
        raise TemplateError(f"{where}: bad braces: {exc}") from exc
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in FIELDS or spec or conversion:
            raise TemplateError(
                f"{where}: placeholder {{{name}}} is not allowed; use one of {sorted(FIELDS)}"
            )


def language_for_locale(locale: str | None) -> Language:
    """Return the template language for a Discord locale such as "es-ES"; English otherwise."""
    if locale:
        base = locale.replace("_", "-").split("-", 1)[0].casefold()
        for lang in Language:
            if lang.value == base:
                return lang
    return Language.EN


def template_for(tier: int, path: str, need: str) -> TemplateKey | None:
    """Return the DM for a detection (tier 0-3, path self/other/abuse, need), or None."""
    if tier <= 0 or path == "abuse":
        # Abuse aimed at someone else goes to moderators only; the author is not in crisis.
        return None
    if path == "other":
        return TemplateKey.DM_WORRIED_OTHER
    if need == "overdose":
        return TemplateKey.DM_OVERDOSE
    if need == "relapse":
        return TemplateKey.DM_RELAPSE
    if tier >= 3:
        return TemplateKey.DM_IMMINENT
    if tier == 2:
        return TemplateKey.DM_IDEATION
    return TemplateKey.DM_DISTRESS


@dataclass(frozen=True, slots=True)
class CrisisTemplates:
    """All crisis templates and labels, per language."""

    version: int
    review_status: str
    texts: Mapping[tuple[Language, TemplateKey], str]
    labels: Mapping[tuple[Language, Label], str]

    @classmethod
    def load(cls, path: str | Path) -> CrisisTemplates:
        """Read and validate the template file at `path`."""
        try:
            with open(path, "rb") as fh:
                raw = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise TemplateError(f"{path}: not valid TOML: {exc}") from exc
        return cls.from_mapping(raw)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> CrisisTemplates:
        """Validate an already-parsed template document."""
        if raw.get("version") != _SUPPORTED_VERSION:
            raise TemplateError(f"version is {raw.get('version')!r}; this code reads 1")
        texts: dict[tuple[Language, TemplateKey], str] = {}
        labels: dict[tuple[Language, Label], str] = {}
        known_top = {"version", "review_status", *(lang.value for lang in Language)}
        unknown_top = set(raw) - known_top
        if unknown_top:
            raise TemplateError(f"unknown top-level key(s) {sorted(unknown_top)}")
        for lang in Language:
            section = raw.get(lang.value)
            if not isinstance(section, dict):
                raise TemplateError(f"[{lang.value}] is missing")
            allowed = {k.value for k in TemplateKey} | {"labels"}
            unknown = set(section) - allowed
            if unknown:
                raise TemplateError(f"[{lang.value}]: unknown key(s) {sorted(unknown)}")
            for key in TemplateKey:
                text = section.get(key.value)
                where = f"[{lang.value}] {key.value}"
                if not isinstance(text, str) or not text.strip():
                    raise TemplateError(f"{where}: missing or empty")
                _check_placeholders(text, where)
                texts[lang, key] = text
            raw_labels = section.get("labels")
            if not isinstance(raw_labels, dict):
                raise TemplateError(f"[{lang.value}.labels] is missing")
            unknown = set(raw_labels) - {lb.value for lb in Label}
            if unknown:
                raise TemplateError(f"[{lang.value}.labels]: unknown key(s) {sorted(unknown)}")
            for label in Label:
                text = raw_labels.get(label.value)
                where = f"[{lang.value}.labels] {label.value}"
                if not isinstance(text, str) or not text.strip():
                    raise TemplateError(f"{where}: missing or empty")
                if "{" in text or "}" in text:
                    raise TemplateError(f"{where}: labels take no fields")
                labels[lang, label] = text
        return cls(
            version=_SUPPORTED_VERSION,
            review_status=str(raw.get("review_status", "")),
            texts=texts,
            labels=labels,
        )

    def raw(self, key: TemplateKey, lang: Language = Language.EN) -> str:
        """Return the unfilled template text."""
        return self.texts[lang, key]

    def render(
        self, key: TemplateKey, fields: TemplateFields, lang: Language = Language.EN
    ) -> str:
        """Return the template filled with `fields` (values are inserted verbatim)."""
        # format_map never re-reads braces inside values, so a server named "{x}" is safe.
        return self.texts[lang, key].format_map(asdict(fields))

    def label(self, label: Label, lang: Language = Language.EN) -> str:
        """Return a fixed label string."""
        return self.labels[lang, label]
