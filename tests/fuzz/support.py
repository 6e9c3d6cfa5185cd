"""Shared pieces of the fuzz suites: hostile inputs, database snapshots, and the reply properties.

The inputs are what a member can type into a Discord text option or modal field: near-valid
values with stray whitespace, invisible or look-alike characters, control characters, RTL
marks, emoji, markup and mention syntax, SQL and format-string look-alikes, and very long
text. Service-level properties draw them with hypothesis (`hostile_text`); the end-to-end
suites draw them with a seeded `random.Random` (`RandomText`) so one running bot can answer
many examples.
"""

from __future__ import annotations

import asyncio
import random
import re
import sqlite3
import string
import threading
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

import asyncpg
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from bot.config import Config

# Deterministic and bounded: the same examples on every run, no example database on disk.
FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=150,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.filter_too_much],
)

WHITESPACE = [" ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "\u2003", "\x1c", "\x0b"]
INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\u180e",
             "\u200e", "\u200f", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067",
             "\u2068", "\u2069", "\u061c"]
CONTROL = [chr(c) for c in (*range(0, 9), 11, 12, *range(14, 32), 127, 0x85, 0x9b)]
LOOKALIKE_DIGITS = {"0": "０", "1": "١", "2": "²", "3": "٣", "4": "४", "5": "５", "6": "६", "7": "⁷", "8": "８", "9": "九"}
INJECTIONS = [
    "'); DROP TABLE members;--", "\"; DELETE FROM checkins; --", "' OR '1'='1", "1; SELECT * FROM members",
    "@everyone", "@here", "<@&123456789012345678>", "<@123456789012345678>", "<@!1>", "<#1>", "<@&0>",
    "@everyone please look", "hi @here", "{0.__class__}", "{0.__class__.__init__.__globals__}", "{}", "{name}",
    "{user_id}", "%s%s%s%n", "%(name)s", "${jndi:ldap://x/a}", "**bold** __u__ ~~s~~ ||spoiler||",
    "`code`", "```py\nprint(1)\n```", "[link](https://example.com)", "# heading", "> quote", "-# small",
    "<script>alert(1)</script>", "\\", "\\n", "../../etc/passwd", "/", ".", "..", "NaN", "inf", "-0", "1e9",
    "0x1F", "+5", "5.0", "05", "005", "0005", "-1", "", " ", "None", "null", "undefined", "true",
    "🙂", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇬🇧", "Z̷̢͈a̵l̸g̵o", "\u202eevil", "ﷺ", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "١٢:٣٠", "１２：００",
    "Ꭺ", "ǅ", "ß", "İ", "\x00", "a\x00b", "\ud7ff", "\U0010fffd", "e\u0301", "ｅｕｒｏｐｅ/ｌｏｎｄｏｎ",
]
_CHARS = sorted({c for c in "".join(WHITESPACE + INVISIBLE + CONTROL) + string.printable})
_LONG_UNITS = ["a", "é", "🙂", "\u200b", "@everyone ", "{0} ", "'); --", "\n", "ab cd ", "x" * 7]

T = TypeVar("T")


def _mutate(value: str, how: int, where: int, extra: str) -> str:
    """Apply one of a few small, realistic damages to a valid value."""
    at = where % (len(value) + 1)
    match how:
        case 0:
            return value
        case 1:
            return extra + value + extra
        case 2:
            return value[:at] + extra + value[at:]
        case 3:
            return value.upper()
        case 4:
            return value.lower()
        case 5:
            return value.swapcase()
        case 6:
            return "".join(LOOKALIKE_DIGITS.get(c, c) for c in value)
        case 7:
            return value[:at] + value[at + 1:]
        case 8:
            return value + value
        case 9:
            return value.replace("-", "/").replace(":", ".")
        case _:
            return value + extra


@st.composite
def _near(draw: st.DrawFn, valid: Sequence[str]) -> str:
    value = draw(st.sampled_from(list(valid)))
    extra = draw(st.sampled_from(WHITESPACE + INVISIBLE + CONTROL + INJECTIONS[:20]))
    return _mutate(value, draw(st.integers(0, 10)), draw(st.integers(0, 64)), extra)


def hostile_text(*valid: str, max_size: int = 120) -> st.SearchStrategy[str]:
    """Text a member might type: valid, near-valid, hostile, arbitrary unicode, or very long."""
    parts: list[st.SearchStrategy[str]] = [
        st.sampled_from(INJECTIONS),
        st.text(max_size=max_size),  # any code point except surrogates
        st.text(alphabet=st.sampled_from(_CHARS), max_size=max_size),
        st.builds(lambda unit, n: unit * n, st.sampled_from(_LONG_UNITS), st.integers(40, 1200)),
    ]
    if valid:
        parts.insert(0, st.sampled_from(list(valid)))
        parts.insert(1, _near(valid))
    return st.one_of(parts)


class RandomText:
    """The same kinds of text from a seeded `random.Random`, for end-to-end runs."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def text(self, valid: Sequence[str], *, min_size: int = 0, max_size: int = 200) -> str:
        """Return one value, fitted to Discord's length bounds for the option (min..max)."""
        rng = self.rng
        kinds = ("valid", "near", "injection", "long", "ascii-ish", "unicode") if valid else (
            "injection", "long", "ascii-ish", "unicode")
        kind = rng.choices(kinds, weights=(2, 2, 1, 1, 1, 1)[-len(kinds):])[0]
        if kind == "valid":
            value = rng.choice(list(valid))
        elif kind == "near":
            value = _mutate(rng.choice(list(valid)), rng.randrange(11), rng.randrange(64),
                            rng.choice(WHITESPACE + INVISIBLE + CONTROL + INJECTIONS[:20]))
        elif kind == "injection":
            value = rng.choice(INJECTIONS)
        elif kind == "long":
            value = rng.choice(_LONG_UNITS) * rng.randrange(1, 2000)
        elif kind == "ascii-ish":
            value = "".join(rng.choice(_CHARS) for _ in range(rng.randrange(1, 80)))
        else:
            value = "".join(_random_char(rng) for _ in range(rng.randrange(1, 80)))
        value = value[:max_size]
        return value if len(value) >= max(min_size, 1) else (value + "x" * max(min_size, 1))[:max_size]


def _random_char(rng: random.Random) -> str:
    while True:
        code = rng.choice((rng.randrange(32, 127), rng.randrange(0x80, 0x3000), rng.randrange(0x1F000, 0x1FAFF),
                           rng.randrange(0, 0x110000)))
        if not 0xD800 <= code <= 0xDFFF:  # JSON cannot carry lone surrogates; Discord never sends them
            return chr(code)


# -- properties ----------------------------------------------------------------------------

_CLASS_NAME = re.compile(r"\b[A-Z][A-Za-z]*(?:Error|Exception|Warning)\b|Traceback|<class |object at 0x|File \"")
ECHO_LIMIT = 41  # the services clip echoed input to 40 characters ("…" included)


def leaks(text: str) -> str | None:
    """Say what in a member-facing text looks like a fault leaking out, or None."""
    match = _CLASS_NAME.search(text)
    if match:
        return f"exception detail {match.group(0)!r}"
    odd = [c for c in text if not c.isprintable() and c != "\n"]
    if odd:
        return f"unprintable characters {odd[:5]!r}"
    return None


def echoes(text: str, raw: str, limit: int = ECHO_LIMIT) -> bool:
    """Tell whether `text` repeats more than `limit - 1` consecutive characters of `raw`."""
    return any(raw[i:i + limit] in text for i in range(len(raw) - limit + 1))


def assert_kind_message(message: str, *inputs: object) -> None:
    """A refusal a member reads: non-empty, no fault details, fits a message, echoes only a clip."""
    assert message.strip(), "an empty error message"
    problem = leaks(message)
    assert problem is None, f"{problem} in {message!r}"
    assert len(message) <= 2000, f"error message of {len(message)} characters"
    for raw in inputs:
        if isinstance(raw, str):
            assert not echoes(message, raw), f"the message repeats the raw input: {message!r}"


class Snapshots:
    """Reads every row of every table through its own connection, synchronously (no hop to the test's loop).

    It sees exactly what has been committed: SQLite runs in WAL mode; a PostgreSQL session of
    its own (on a thread with its own loop) reads committed rows in autocommit.
    """

    def __init__(self, config: Config) -> None:
        self.url = config.database_url
        if self.url is None:
            self.conn = sqlite3.connect(f"file:{config.database_path}?mode=ro", uri=True)
            return
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fuzz-snapshots", daemon=True)
        self.thread.start()
        self.session: asyncpg.Connection = self._call(asyncpg.connect(self.url))

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=60)

    def take(self) -> dict[str, list[tuple[Any, ...]]]:
        """Return every row of every table (sorted), so "nothing changed" is one equality."""
        if self.url is not None:
            return self._call(self._take_postgresql())
        names = [n for (n,) in self.conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        return {name: sorted(self.conn.execute(f'SELECT * FROM "{name}"'), key=repr)  # noqa: S608 - from sqlite_master
                for name in names}

    async def _take_postgresql(self) -> dict[str, list[tuple[Any, ...]]]:
        names = [r["relname"] for r in await self.session.fetch(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'r' "
            "AND n.nspname = current_schema() AND c.relname != 'schema_migrations' ORDER BY 1")]
        return {name: sorted((tuple(r) for r in await self.session.fetch(f'SELECT * FROM "{name}"')), key=repr)  # noqa: S608
                for name in names}

    def close(self) -> None:
        """Close the reader."""
        if self.url is None:
            self.conn.close()
            return
        self._call(self.session.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


def changed_tables(before: dict[str, list[tuple[Any, ...]]], after: dict[str, list[tuple[Any, ...]]]) -> list[str]:
    """Name the tables whose rows differ."""
    return sorted(t for t in before.keys() | after.keys() if before.get(t) != after.get(t))

