"""Which servers belong to a process that runs some of a bot's shards (Discord's rule)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

_PART = re.compile(r"([0-9]+)(?:-([0-9]+))?")  # ASCII digits: \d (and int()) read "٣" as 3


@dataclass(frozen=True, slots=True)
class Shards:
    """Shards `ids` of a bot with `count` shards."""

    count: int
    ids: frozenset[int]

    # Discord asks for a shard per 1,000 servers at most 2,500: the largest bots run a few
    # thousand to some ten thousand. 2**16 is room for any of them; a count past it is a typo,
    # refused before shard ids are read, so no range expanded from the environment is longer.
    MAX_COUNT: ClassVar[int] = 65_536

    def __post_init__(self) -> None:
        if not 1 <= self.count <= self.MAX_COUNT:
            raise ValueError(self.count_problem(str(self.count)))
        if not self.ids or not all(0 <= i < self.count for i in self.ids):
            raise ValueError(f"shards {sorted(self.ids)} of {self.count}")

    @classmethod
    def count_problem(cls, text: str) -> str:
        """Return what is wrong with a shard count written as text, or "" if it is one."""
        if not re.fullmatch(r"[0-9]+", text) or not text.strip("0"):
            return f"{_short(text)!r} must be a whole number of shards, 1 or more"
        if _past(text, cls.MAX_COUNT):
            return (f"Kindred runs at most {cls.MAX_COUNT:,} shards (Discord asks for one per 1,000 to 2,500 "
                    f"servers), not {_short(text)}")
        return ""

    @staticmethod
    def of(guild_id: int, count: int) -> int:
        """Return the shard a server's events come through: (guild_id >> 22) % count."""
        return (guild_id >> 22) % count

    @staticmethod
    def parse_ids(text: str, count: int) -> frozenset[int]:
        """Read shard ids written as `0,1`, `0-3` or both (`0-1,3`); ValueError says what is wrong."""
        if problem := Shards.count_problem(str(count)):
            raise ValueError(problem)
        ids: set[int] = set()
        for part in text.split(","):
            match = _PART.fullmatch(part.strip())
            if match is None:
                raise ValueError(f"{_short(text.strip())!r} is not a list of shard ids such as 0,1 or 0-3")
            for digits in match.groups(default="0"):
                # Each id is checked against the count before it is read or a range is built.
                if _past(digits, count - 1):
                    raise ValueError(f"shard {_short(digits)} does not exist: a bot with {count} shard(s) "
                                     f"has shards 0 to {count - 1}")
            first = int(match[1])
            last = first if match[2] is None else int(match[2])
            if last < first:
                raise ValueError(f"the range {first}-{last} runs backwards (write {last}-{first})")
            ids.update(range(first, last + 1))
        return frozenset(ids)

    @property
    def complete(self) -> bool:
        """Tell whether these are all the bot's shards (one process runs every server)."""
        return len(self.ids) == self.count

    def owns(self, guild_id: int) -> bool:
        """Tell whether a server belongs to these shards."""
        return self.of(guild_id, self.count) in self.ids

    def describe(self) -> str:
        """Return the ids as ranges (`0-1,3`), as the environment writes them."""
        ranges: list[str] = []
        ordered = sorted(self.ids)
        start = prev = ordered[0]
        for i in [*ordered[1:], None]:
            if i is not None and i == prev + 1:
                prev = i
                continue
            ranges.append(str(start) if start == prev else f"{start}-{prev}")
            if i is not None:
                start = prev = i
        return ",".join(ranges)

    def label(self) -> str:
        """Return how people are told which process speaks (`shards 0-1 of 4`)."""
        return f"shards {self.describe()} of {self.count}"

    def scope(self) -> str:
        """Return the name this process's sweeps and outbox claims carry (one process runs it at a time)."""
        return f"shards-{self.describe()}-of-{self.count}"

    def sql(self, column: str) -> str:
        """Return an SQL condition true for rows whose server (`column`) is in these shards.

        The numbers are written into the text (they are integers from the configuration), so
        a query gains no parameters; the same text works on SQLite and PostgreSQL.
        """
        return f"(({column} >> 22) % {self.count}) IN ({','.join(str(i) for i in sorted(self.ids))})"


def _past(digits: str, limit: int) -> bool:
    """Tell whether a number written in ASCII digits is above `limit`, without reading a huge one."""
    significant = digits.lstrip("0") or "0"
    return len(significant) > len(str(limit)) or int(significant) > limit


def _short(text: str) -> str:
    """Return text cut to a readable length for a one-line error."""
    return text if len(text) <= 24 else f"{text[:20]}…"
