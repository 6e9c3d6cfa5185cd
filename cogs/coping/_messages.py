"""Member-facing wording for `/urge`, its buttons, and `/plan`, reviewed in one place.

Warm and plain, never shaming: an urge that is still strong, or stronger, is met with
"that's okay", not with "you failed". Every strong moment (8 or more out of 10) gets a
gentle pointer to `/crisis`, and the member's own plan comes before generic advice. The
urge-surfing steps and HALT suggestions themselves are data (`data/coping.toml`).
"""

from __future__ import annotations

import discord

from bot.domain.coping import STRONG_URGE, HaltAdvice, PlanPart, RelapsePlan, strong
from bot.services.coping import PLAN_LABELS, AfterResult, UrgeStart

EMBED_COLOUR = discord.Colour.from_rgb(88, 166, 140)
PRIVATE = "-# Only you can see this."

URGE_HEADER = "🌊 **Let's ride this one out.** {intro}"
URGE_STRENGTH = "You said it's **{strength}/10** right now — thank you for noticing it."
STRONG_OFFER = ("That's a strong urge. If it feels like too much, or you don't feel safe, `/crisis` lists people "
                "you can talk to right now, any time of day.")
URGE_CHECKBACK = "⏰ At **<t:{due}:t>** (<t:{due}:R>) I'll DM you to ask how strong it is then."
URGE_NO_RECORDS = ("I can't reach my records right now, so I couldn't set a check-back this time — everything "
                   "here still works. If you need support right now, `/crisis` always works.")
URGE_DMS_CLOSED = ("📭 I couldn't send you a DM — your DMs are closed to me — so the check-back can't reach you. "
                   "Instead, at **<t:{due}:t>** (<t:{due}:R>), tap how strong the urge is **below**; it's saved "
                   "the same way. To get check-backs by DM, allow direct messages from this server's members in "
                   "your privacy settings.")
URGE_STEPS_TITLE = "🌊 Surf the urge"
URGE_OWN_STEPS_TITLE = "📋 What helps you — from your plan"
URGE_DEFAULT_STEPS_TITLE = "🧰 Things that often help"
URGE_NO_PLAN = "-# Your own steps can go first here: `/plan edit` writes a private plan, whenever you feel up to it."
URGE_PLAN_BUTTON = "My plan"

HALT_FOOTER = "-# Then notice the urge again: is it the same, weaker, stronger? Any answer is okay."

AFTER_DROPPED = ("🌊 Thank you for checking in. It went from **{before}** to **{after}** — you rode that wave. "
                 "Urges pass, and you just watched one do it.")
AFTER_SAME = ("Thank you for checking in. It's still **{after}/10** — that's okay; some waves are long. The steps "
              "still work, and `/urge` starts another round whenever you want one.")
AFTER_ROSE = ("Thank you for being honest — it's stronger now (**{after}/10**). That happens, and it doesn't undo "
              "anything you've done. Be gentle with yourself, and reach for one thing that helps.")
AFTER_ONLY = ("Thank you for checking in: **{after}/10** now. I've noted it — `/mystats` shows how your urges "
              "change over time.")
AFTER_PLAN_TITLE = "📋 Your plan"

PLAN_NONE = ("You haven't written a plan yet. A relapse-prevention plan is a few lines in your own words — your "
             "warning signs, your triggers, what helps, who you can reach, and your reasons — ready for a hard "
             "moment. `/plan edit` opens it; every part is optional and only you ever see it.")
PLAN_SAVED = "📋 Saved. Your plan is private: only you see it, here, in `/crisis` and when you `/urge`."
PLAN_CLEARED = "Your plan is empty now, so I've removed it. `/plan edit` starts a new one whenever you like."
PLAN_TITLE = "📋 Your plan"
PLAN_FOOTER = "Only you can see this. /plan edit changes it."
PLAN_MODAL_TITLE = "Your relapse-prevention plan"
PLAN_PLACEHOLDERS = {
    PlanPart.WARNING_SIGNS: "e.g. skipping meals, staying in, thinking \"just one won't hurt\"",
    PlanPart.TRIGGERS: "People, places, feelings or times that make urges stronger",
    PlanPart.COPING: "What helps you ride out an urge — these come first when you /urge",
    PlanPart.PEOPLE: "Who you can reach, and how (a buddy, a sponsor, a friend)",
    PlanPart.REASONS: "Why your recovery matters to you",
}

CHECKIN_PLAN_OFFER = "📋 Your plan is here whenever you want it — tap **My plan** below."
CHECKIN_PLAN_INVITE = ("-# When you feel steadier, `/plan edit` can hold your own warning signs and what helps — "
                       "it would show up here on days like this.")


def plan_embed(plan: RelapsePlan, title: str = PLAN_TITLE) -> discord.Embed:
    """Show a plan as an embed, one field per part the member wrote, in plan order."""
    embed = discord.Embed(title=title, colour=EMBED_COLOUR)
    for part, text in plan.filled():
        embed.add_field(name=PLAN_LABELS[part], value=text, inline=False)
    embed.set_footer(text=PLAN_FOOTER)
    return embed


def urge_reply(start: UrgeStart, *, dms_closed: bool = False) -> str:
    """The text of `/urge` (the steps are in the embed beside it)."""
    lines = [URGE_HEADER.format(intro=start.texts.surf_intro)]
    if start.strength is not None:
        lines.append(URGE_STRENGTH.format(strength=start.strength))
    if strong(start.strength):
        lines.append(STRONG_OFFER)
    lines.append("")
    lines.append(start.texts.halt_question)
    if start.due is None:
        lines.append(URGE_NO_RECORDS)
    elif dms_closed:
        lines.append(URGE_DMS_CLOSED.format(due=int(start.due.timestamp())))
    else:
        lines.append(URGE_CHECKBACK.format(due=int(start.due.timestamp())))
    if start.plan is None and start.urge is not None:
        lines.append(URGE_NO_PLAN)
    lines.append(PRIVATE)
    return "\n".join(lines)


def urge_embed(start: UrgeStart) -> discord.Embed:
    """The member's own coping steps first (from their plan), then the urge-surfing steps (and common ones)."""
    embed = discord.Embed(colour=EMBED_COLOUR)
    own = start.plan.coping if start.plan is not None else None
    if own:
        embed.add_field(name=URGE_OWN_STEPS_TITLE, value=own, inline=False)
    embed.add_field(name=URGE_STEPS_TITLE, value="\n".join(f"{n}. {step}" for n, step in
                                                           enumerate(start.texts.surf_steps, 1)), inline=False)
    if not own:
        embed.add_field(name=URGE_DEFAULT_STEPS_TITLE,
                        value="\n".join(f"• {step}" for step in start.texts.default_coping), inline=False)
    return embed


def halt_reply(advice: HaltAdvice) -> str:
    """The answer to one HALT button."""
    lines = [f"{advice.emoji} **{advice.label}?** {advice.intro}"]
    lines.extend(f"• {s}" for s in advice.suggestions)
    lines.append(HALT_FOOTER)
    return "\n".join(lines)


def after_reply(result: AfterResult) -> str:
    """The answer to a "how strong is it now" button."""
    urge = result.urge
    after, before = urge.strength_after, urge.strength_before
    assert after is not None
    if before is None:
        text = AFTER_ONLY.format(after=after)
    elif after < before:
        text = AFTER_DROPPED.format(before=before, after=after)
    elif after == before:
        text = AFTER_SAME.format(after=after)
    else:
        text = AFTER_ROSE.format(after=after)
    lines = [text]
    if after >= STRONG_URGE:
        lines.append(STRONG_OFFER)
    lines.append(PRIVATE)
    return "\n".join(lines)
