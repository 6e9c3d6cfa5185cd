"""The buddy request DM's Accept / Not right now buttons (made in `cogs.request_buttons`)."""

from __future__ import annotations

from bot.services.buddies import ACCEPT_ID, DECLINE_ID
from cogs.buddies._messages import ACCEPTED_IN_DM, DECLINED_IN_DM
from cogs.request_buttons import request_buttons

AcceptButton, DeclineButton = request_buttons(
    "buddy", lambda services: services.buddies, accept_id=ACCEPT_ID, decline_id=DECLINE_ID,
    accepted=ACCEPTED_IN_DM, declined=DECLINED_IN_DM)
