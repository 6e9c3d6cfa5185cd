"""Which servers belong to a process that runs some of a bot's shards (Discord's rule)."""

from __future__ import annotations

from dataclasses import dataclass


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

    def owns(self, guild_id: int) -> bool:
        """Tell whether a server belongs to these shards."""
        return self.of(guild_id, self.count) in self.ids
