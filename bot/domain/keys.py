"""How outbox dedupe keys name rows, so a row given a deleted row's id never inherits its keys.

SQLite hands the id of a deleted newest row to the next row, while the outbox keeps a sent
message's key (and Discord a nonce made from it) for a while. A key that names a row by
`<id>.<incarnation>` — a random text stored on the row when it is made — stays unique for
that row's life. Rows made before incarnations existed have none and keep their old keys
(`<id>`), so messages already queued under those keys are still found.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

INCARNATION_BYTES = 8  # 64 random bits: two rows with one id and one incarnation never happen
# A key fragment as `RowRef.__str__` writes it (and as custom ids carry it).
REF_PATTERN = r"[0-9]{1,19}(?:\.[0-9a-f]{1,32})?"
_REF = re.compile(rf"({REF_PATTERN})")


def new_incarnation() -> str:
    """Return a fresh incarnation for a row about to be inserted."""
    return secrets.token_hex(INCARNATION_BYTES)


@dataclass(frozen=True, slots=True)
class RowRef:
    """A row as dedupe keys name it: its id and the incarnation it was made with (if any)."""

    row_id: int
    incarnation: str | None

    def __str__(self) -> str:
        """Return the key fragment: `<id>.<incarnation>`, or `<id>` for a row older than incarnations."""
        return str(self.row_id) if self.incarnation is None else f"{self.row_id}.{self.incarnation}"

    @classmethod
    def parse(cls, text: str) -> RowRef:
        """Return the row a key fragment (`<id>` or `<id>.<incarnation>`) names; ValueError if it names none."""
        if _REF.fullmatch(text) is None:
            raise ValueError(f"not a row reference: {text!r}")
        row_id, _, incarnation = text.partition(".")
        return cls(int(row_id), incarnation or None)
