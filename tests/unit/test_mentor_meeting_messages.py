"""What `/mentor` and `/meeting` replies say about what is shared and what others typed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.db.mentors import Offer
from bot.domain.plaintext import escape_markup
from bot.services.meetings import ListedMeeting
from bot.services.mentors import FindOutcome, FoundMentor, MentorStatus, SharingOutcome
from cogs.meetings._messages import list_reply
from cogs.mentors._messages import find_reply, sharing_reply, status_reply

NOW = datetime(2027, 3, 2, 12, 0, tzinfo=UTC)


def test_sharing_counters_says_private_counters_stay_private() -> None:
    text = sharing_reply(SharingOutcome(mentor_user=1, checkins=False, counters=True, changed=True))
    assert "not marked private" in text and "counters" in text


# -- review 17: other members' words are shown as typed, never as the bot's formatting -----------

TRICKS = ["[Free chips](https://evil.example)", "@everyone **x**", "<@&123> ||meeting||"]


@pytest.mark.parametrize("words", TRICKS)
def test_find_and_status_show_a_stored_focus_escaped(words: str) -> None:
    found = find_reply(FindOutcome((FoundMentor(1, words, 120),), 0), None)
    assert words not in found and escape_markup(words) in found
    offer = Offer(member_id=1, guild_id=2, user_id=1, focus=words, capacity=2, qualified_role_id=None,
                  offered_at=NOW, stopped_at=None)
    status = status_reply(MentorStatus(None, (), offer, None, (), True))
    assert words not in status and escape_markup(words) in status


@pytest.mark.parametrize("words", TRICKS)
def test_meeting_list_shows_a_stored_name_and_location_escaped(words: str) -> None:
    listed = ListedMeeting(words, NOW, NOW, "UTC", 60, None, words, None, None)
    text = list_reply([listed])
    assert words not in text and text.count(escape_markup(words)) == 2
