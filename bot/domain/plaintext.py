"""Words someone types that others will read under the bot's name: plain, and shown as typed.

Discord reads some characters as formatting (`**bold**`, `||spoiler||`), mentions (`<@&id>`,
`@everyone`) or masked links (`[Samaritans](https://elsewhere)`), and makes a clickable link
of a web address. A counter's name, a resource's name or a milestone's description must not
be able to pass for something else in a crisis list or a public post, so input is checked
with `has_markup` / `has_link`, and anything stored shows through `escape_markup`.
"""

from __future__ import annotations

import re

__all__ = ["MARKUP_CHARACTERS", "escape_markup", "has_link", "has_markup"]

# What Discord can read as formatting, a mention or a masked link anywhere in a line.
MARKUP_CHARACTERS = "< > @ * _ ~ | ` \\ [ ]"
_MARKUP = re.compile(r"[<>@*_~|`\\\[\]]")
# A scheme ("https://", "javascript:"), "www.", or a host name with a path ("discord.gg/abc",
# which Discord turns into an invite without a scheme). A bare "St. John's" is not a link.
_LINK = re.compile(r"(?i)\b[a-z][a-z0-9+.\-]*:/|\bwww\.|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,63}/")


def has_markup(text: str) -> bool:
    """Tell whether `text` has a character Discord reads as formatting, a mention or a link."""
    return _MARKUP.search(text) is not None


def has_link(text: str) -> bool:
    """Tell whether `text` has a web address (or something Discord would make a link of)."""
    return _LINK.search(text) is not None


def escape_markup(text: str) -> str:
    """Return `text` with Discord's formatting characters escaped, so it shows exactly as typed."""
    return _MARKUP.sub(lambda m: "\\" + m.group(0), text)
