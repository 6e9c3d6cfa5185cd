"""Which servers belong to a process that runs some of a bot's shards (Discord's rule)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_PART = re.compile(r"(\d+)(?:-(\d+))?")


@dataclass(frozen=True, slots=True)
class Shards:
    """Shards `ids` of a bot with `count` shards."""

    count: int
    ids: frozenset[int]

    def __post_init__(self) -> None:
        if self.count < 1 or not self.ids or not all(0 <= i < self.count for i in self.ids):
            raise ValueError(f"shards {sorted(self.ids)} of {self.count}")

    @staticmethod
    def of(guild_id: int, count: int) -> int:
        """Return the shard a server's events come through: (guild_id >> 22) % count."""
        return (guild_id >> 22) % count

    @staticmethod
    def parse_ids(text: str, count: int) -> frozenset[int]:
        """Read shard ids written as `0,1`, `0-3` or both (`0-1,3`); ValueError says what is wrong."""
        ids: set[int] = set()
        for part in text.split(","):
            match = _PART.fullmatch(part.strip())
            if match is None:
                raise ValueError(f"{text.strip()!r} is not a list of shard ids such as 0,1 or 0-3")
            first = int(match[1])
            last = first if match[2] is None else int(match[2])
            if last < first:
                raise ValueError(f"the range {first}-{last} runs backwards (write {last}-{first})")
            if last >= count:
                raise ValueError(f"shard {last} does not exist: a bot with {count} shard(s) has shards 0 to {count - 1}")
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
