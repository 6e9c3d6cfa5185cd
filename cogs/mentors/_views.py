"""The mentor request DM's Accept / Not right now buttons (made in `cogs.request_buttons`)."""

from __future__ import annotations

from bot.services.mentors import ACCEPT_ID, DECLINE_ID
from cogs.mentors._messages import ACCEPTED_IN_DM, DECLINED_IN_DM
from cogs.request_buttons import request_buttons

AcceptButton, DeclineButton = request_buttons(
    "mentor", lambda services: services.mentors, accept_id=ACCEPT_ID, decline_id=DECLINE_ID,
    accepted=ACCEPTED_IN_DM, declined=DECLINED_IN_DM)
