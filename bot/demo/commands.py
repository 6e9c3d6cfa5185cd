"""What the demo's message box understands: `/command sub option:value …` read against the synced schemas."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot.fakediscord import FakeDiscordError
from bot.fakediscord.state import Guild, World

SUBCOMMAND, GROUP = 1, 2
STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = 3, 4, 5, 6, 7, 8, 9, 10, 11
TRUE, FALSE = {"true", "yes", "on", "1"}, {"false", "no", "off", "0"}


class CommandError(ValueError):
    """What the visitor typed cannot be sent as this command (said as Discord's client would)."""


@dataclass(frozen=True, slots=True)
class Typed:
    """A command line split into the command's path and its options' raw text."""

    path: str  # "/config checkins"
    schema: tuple[dict[str, Any], ...]  # the leaf's options, as the bot synced them
    values: dict[str, str]  # option name → text as typed, in the order typed


def leaves(commands: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """Every runnable command as (path, top-level command, leaf) — subcommands flattened."""
    found: list[tuple[str, dict[str, Any], dict[str, Any]]] = []

    def walk(path: str, top: dict[str, Any], node: dict[str, Any]) -> None:
        subs = [o for o in node.get("options") or [] if o.get("type") in (SUBCOMMAND, GROUP)]
        if not subs:
            found.append((path, top, node))
        for sub in subs:
            walk(f"{path} {sub['name']}", top, sub)

    for command in commands:
        if command.get("type", 1) == 1:
            walk(f"/{command['name']}", command, command)
    return sorted(found, key=lambda item: item[0])


def parse(text: str, commands: list[dict[str, Any]]) -> Typed:
    """Split `/checkin mood:4 note:a good day` into the command and its options' text."""
    line = " ".join(text.split()) if "\n" not in text else text.strip()
    if not line.startswith("/"):
        raise CommandError("a command starts with /")
    known = leaves(commands)
    matches = [(path, leaf) for path, _, leaf in known if line == path or line.startswith(path + " ")]
    if not matches:
        word = line.split()[0]
        near = [path for path, _, _ in known if path.startswith(word)]
        hint = f" (did you mean {', '.join(near[:5])}?)" if near else ""
        raise CommandError(f"there is no command {line.split(' ')[0]!r} here{hint}")
    path, leaf = max(matches, key=lambda m: len(m[0]))
    schema = tuple(leaf.get("options") or ())
    rest = line[len(path):].strip()
    values: dict[str, str] = {}
    if rest:
        names = sorted((o["name"] for o in schema), key=len, reverse=True)
        if not names:
            raise CommandError(f"{path} takes no options")
        marker = re.compile(r"(?:^|\s)(" + "|".join(map(re.escape, names)) + r"):")
        found = list(marker.finditer(rest))
        if not found or rest[:found[0].start()].strip():
            raise CommandError(f"write options as name:value, e.g. {names[-1]}:…; {path} has {', '.join(sorted(names))}")
        by_name = {o["name"]: o for o in schema}
        starts: list[re.Match[str]] = []
        for here in found:
            if starts and _is_words(here, rest, by_name[starts[-1].group(1)], {s.group(1) for s in starts}):
                continue
            if any(s.group(1) == here.group(1) for s in starts):
                raise CommandError(f"{here.group(1)} is given twice")
            starts.append(here)
        for here, after in zip(starts, [*starts[1:], None], strict=True):
            values[here.group(1)] = rest[here.end():after.start() if after else len(rest)].strip()
    return Typed(path, schema, values)


def _is_words(here: re.Match[str], rest: str, current: dict[str, Any], given: set[str]) -> bool:
    """Whether `name:` inside the value of `current` is part of that value, not the next option.

    Free text (a string option without choices) may say "what a day: exhausting" though `day`
    is an option: there a name followed by a space (or nothing) or naming an option already
    given is words; `day:2027-01-02`, its value right after the colon, starts the option.
    """
    if current.get("type") != STRING or current.get("choices"):
        return False
    return here.group(1) in given or not rest[here.end():here.end() + 1].strip()


def convert(world: World, guild: Guild | None, option: dict[str, Any], text: str) -> Any:
    """Turn an option's text into the value the loopback Discord sends (a User for a user option, …)."""
    kind, name = option.get("type"), option["name"]
    choices = option.get("choices") or []
    if choices:
        for choice in choices:
            if text.lower() in (str(choice["value"]).lower(), str(choice["name"]).lower()):
                return choice["value"]
        raise CommandError(f"{name} is one of: {', '.join(str(c['name']) for c in choices)}")
    if kind == STRING:
        return text
    if kind == INTEGER:
        if not re.fullmatch(r"[+-]?\d+", text):
            raise CommandError(f"{name} is a whole number")
        return int(text)
    if kind == NUMBER:
        try:
            return float(text)
        except ValueError:
            raise CommandError(f"{name} is a number") from None
    if kind == BOOLEAN:
        if text.lower() in TRUE | FALSE:
            return text.lower() in TRUE
        raise CommandError(f"{name} is true or false")
    if kind in (USER, MENTIONABLE):
        wanted = text.lstrip("@").lower()
        members = [m.user for m in guild.members.values()] if guild else list(world.users.values())
        user = next((u for u in members if wanted in (u.name.lower(), str(u.id))), None)
        if user is not None:
            return user
        if kind == USER:
            raise CommandError(f"{name}: nobody called {text!r} is in this server")
    if kind in (ROLE, MENTIONABLE) and guild is not None:
        wanted = text.lstrip("@").lower()
        role = next((r for r in guild.roles if r.name.lower() == wanted), None)
        if role is not None:
            return role
        raise CommandError(f"{name}: there is no role {text!r}")
    if kind == CHANNEL and guild is not None:
        wanted = text.lstrip("#").lower()
        channel = next((c for c in guild.channels if (c.name or "").lower() == wanted), None)
        if channel is None:
            raise CommandError(f"{name}: there is no channel {text!r}")
        return channel
    if kind == ATTACHMENT:
        raise CommandError(f"{name} is a file, and the demo cannot attach files")
    raise CommandError(f"{name} cannot be used here")


def values_for(world: World, guild: Guild | None, typed: Typed, *, skip: str | None = None,
               lenient: bool = False) -> dict[str, Any]:
    """Convert every typed option (but `skip`); with `lenient`, leave out what does not convert yet."""
    by_name = {o["name"]: o for o in typed.schema}
    converted = {}
    for name, text in typed.values.items():
        if name == skip:
            continue
        try:
            if not text:
                raise CommandError(f"{name} needs a value")
            converted[name] = convert(world, guild, by_name[name], text)
        except (CommandError, FakeDiscordError):
            if not lenient:
                raise
    return converted
