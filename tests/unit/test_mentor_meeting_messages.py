"""What `/mentor` and `/meeting` replies say about what is shared and what others typed."""

from __future__ import annotations

from bot.services.mentors import SharingOutcome
from cogs.mentors._messages import sharing_reply


def test_sharing_counters_says_private_counters_stay_private() -> None:
    text = sharing_reply(SharingOutcome(mentor_user=1, checkins=False, counters=True, changed=True))
    assert "not marked private" in text and "counters" in text
