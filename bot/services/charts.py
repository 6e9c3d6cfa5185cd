"""PNG charts of check-ins, rendered with matplotlib's Agg canvas off the event loop.

Only the object-oriented API is used (a `Figure` on a `FigureCanvasAgg`), never pyplot:
pyplot keeps global state and picks a GUI backend, neither of which belongs in a
server rendering from worker threads. matplotlib is imported on first use so that
importing the services stays cheap.
"""

from __future__ import annotations

import asyncio
import io
import math
from collections.abc import Sequence
from datetime import timedelta

from bot.domain.checkins import CRAVING_MAX, CRAVING_MIN, MOOD_MAX, MOOD_MIN, DayPoint

MOOD_COLOUR = "#3a8f78"
CRAVING_COLOUR = "#c0762e"
GRID_COLOUR = "#dddddd"


def render_checkin_chart(points: Sequence[DayPoint], *, title: str) -> bytes:
    """Return a PNG of mood and craving by local day; days without a check-in stay gaps."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure

    days = [p.day for p in points]
    # NaN, not zero, where nothing was recorded: the line breaks instead of dipping.
    moods = [math.nan if p.mood is None else p.mood for p in points]
    cravings = [math.nan if p.craving is None else p.craving for p in points]
    # Markers keep a lone day between two gaps visible; they crowd a year, so shrink.
    marker_size = 4 if len(points) <= 90 else 2

    figure = Figure(figsize=(8, 4.5), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    mood_axes, craving_axes = figure.subplots(2, 1, sharex=True)
    figure.suptitle(title, fontsize=12)

    mood_axes.plot(days, moods, color=MOOD_COLOUR, linewidth=1.8, marker="o", markersize=marker_size)
    mood_axes.set_ylim(MOOD_MIN - 0.5, MOOD_MAX + 0.5)
    mood_axes.set_yticks(range(MOOD_MIN, MOOD_MAX + 1))
    mood_axes.set_ylabel("Mood (1–5)")

    craving_axes.plot(days, cravings, color=CRAVING_COLOUR, linewidth=1.8, marker="o", markersize=marker_size)
    craving_axes.set_ylim(CRAVING_MIN - 0.5, CRAVING_MAX + 0.5)
    craving_axes.set_yticks(range(CRAVING_MIN, CRAVING_MAX + 1, 2))
    craving_axes.set_ylabel("Craving (0–10)")

    locator = AutoDateLocator(minticks=3, maxticks=8)
    craving_axes.xaxis.set_major_locator(locator)
    craving_axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    if days:
        # Half a day of margin so the first and last markers are not cut in half.
        craving_axes.set_xlim(days[0] - timedelta(hours=12), days[-1] + timedelta(hours=12))
    for axes in (mood_axes, craving_axes):
        axes.grid(True, color=GRID_COLOUR, linewidth=0.6)
        axes.spines[["top", "right"]].set_visible(False)

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


async def render_checkin_chart_async(points: Sequence[DayPoint], *, title: str) -> bytes:
    """Render the chart in a worker thread so the event loop keeps answering Discord."""
    return await asyncio.to_thread(render_checkin_chart, list(points), title=title)
