"""PNG charts of check-ins and of the community pulse, drawn with Pillow in a short-lived child process.

The bot's memory stays flat: matplotlib, rendering in the bot's own process, stayed resident
after the first `/mystats` (its modules, font cache and the heap it left behind: +77 MiB after
50 charts). Pillow is much lighter (about 6 MiB imported, a chart in tens of milliseconds), but
in-process it kept its modules and, drawn in executor threads, 56 MiB of heap; a child that draws one
chart and exits gives it all back, for ~0.2 s of CPU a chart (`/mystats` defers its reply).
bench/README.md, "Memory", has the measurements of the three ways.

`python -m bot.services.charts` is the child: a JSON request on stdin, the PNG on stdout.
It is drawn at twice the size and scaled down, which smooths the lines and the text as
anti-aliasing would. Days without a check-in are gaps: a line joins two days only when both
have a value, and each recorded day has a marker, so a lone day between two gaps still shows.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import sys
from collections.abc import Callable, Sequence
from datetime import date
from functools import cache
from typing import TYPE_CHECKING, Any

from bot.domain.checkins import CRAVING_MAX, CRAVING_MIN, MOOD_MAX, MOOD_MIN, DayPoint
from bot.domain.pulse import ShownPulse

if TYPE_CHECKING:
    from PIL import Image, ImageDraw, ImageFont

MOOD_COLOUR = "#3a8f78"
CRAVING_COLOUR = "#c0762e"
GRID_COLOUR = "#dddddd"
AXIS_COLOUR = "#888888"
TEXT_COLOUR = "#333333"
WIDTH, HEIGHT = 800, 450
SCALE = 2  # drawn at twice the size, then scaled down: smooth lines and text
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's built-in scalable font (no font files to ship or find)."""
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def _label(day: date, with_year: bool) -> str:
    text = f"{day.day} {MONTHS[day.month - 1]}"
    return f"{text} {day.year}" if with_year else text


def _tick_days(days: Sequence[date]) -> list[int]:
    """Indexes of the days to label: at most 8, evenly spaced, always the first."""
    step = max(1, -(-len(days) // 7))
    return list(range(0, len(days), step))


def render_checkin_chart(points: Sequence[DayPoint], *, title: str) -> bytes:
    """Return an 800×450 PNG of mood and craving by local day; days without a check-in stay gaps."""
    from PIL import Image, ImageDraw

    s = SCALE
    image = Image.new("RGB", (WIDTH * s, HEIGHT * s), "white")
    draw = ImageDraw.Draw(image)
    title_font, label_font, tick_font = _font(16 * s), _font(12 * s), _font(11 * s)
    draw.text((WIDTH * s // 2, 10 * s), title, fill=TEXT_COLOUR, font=title_font, anchor="ma")

    left, right = 78 * s, (WIDTH - 20) * s
    panels = ((44 * s, 218 * s), (238 * s, 412 * s))  # (top, bottom) of mood, then craving
    n = len(points)

    def x_of(i: int) -> float:
        # Half a day of margin each side, so the first and last markers are whole.
        return left + (right - left) * (i + 0.5) / max(n, 1)

    marker = (4 if n <= 90 else 2) * s
    series = (
        ("Mood (1-5)", [p.mood for p in points], MOOD_MIN, MOOD_MAX, 1, MOOD_COLOUR),
        ("Craving (0-10)", [p.craving for p in points], CRAVING_MIN, CRAVING_MAX, 2, CRAVING_COLOUR),
    )
    for (top, bottom), (name, values, lo, hi, step, colour) in zip(panels, series, strict=True):
        def y_of(value: float, top: int = top, bottom: int = bottom, lo: int = lo, hi: int = hi) -> float:
            # Half a unit of margin above and below, as the scale's ends are real answers.
            return bottom - (bottom - top) * (value - lo + 0.5) / (hi - lo + 1)

        for tick in range(lo, hi + 1, step):
            y = y_of(tick)
            draw.line([(left, y), (right, y)], fill=GRID_COLOUR, width=s)
            draw.text((left - 8 * s, y), str(tick), fill=TEXT_COLOUR, font=tick_font, anchor="rm")
        for i in _tick_days([p.day for p in points]):
            draw.line([(x_of(i), top), (x_of(i), bottom)], fill=GRID_COLOUR, width=s)
        draw.line([(left, top), (left, bottom), (right, bottom)], fill=AXIS_COLOUR, width=s)
        _vertical_text(image, name, (18 * s, (top + bottom) // 2), label_font)
        _plot(draw, values, x_of, y_of, colour, width=2 * s, marker=marker)

    bottom = panels[-1][1]
    ticks = _tick_days([p.day for p in points])
    for number, i in enumerate(ticks):
        # The year on the first label and wherever it changes.
        new_year = number == 0 or points[i].day.year != points[ticks[number - 1]].day.year
        draw.line([(x_of(i), bottom), (x_of(i), bottom + 5 * s)], fill=AXIS_COLOUR, width=s)
        draw.text((x_of(i), bottom + 8 * s), _label(points[i].day, with_year=new_year), fill=TEXT_COLOUR,
                  font=tick_font, anchor="ma")

    image = image.resize((WIDTH, HEIGHT), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _plot(draw: ImageDraw.ImageDraw, values: Sequence[int | None], x_of: Callable[[int], float],
          y_of: Callable[[float], float], colour: str, *, width: int, marker: int) -> None:
    """Join consecutive recorded days with a line (a missing day breaks it) and mark each recorded day."""
    for i in range(1, len(values)):
        before, after = values[i - 1], values[i]
        if before is not None and after is not None:
            draw.line([(x_of(i - 1), y_of(before)), (x_of(i), y_of(after))], fill=colour, width=width)
    for i, value in enumerate(values):
        if value is not None:
            x, y = x_of(i), y_of(value)
            draw.ellipse([(x - marker, y - marker), (x + marker, y + marker)], fill=colour)


def _vertical_text(image: Image.Image, text: str, centre: tuple[int, int],
                   font: ImageFont.FreeTypeFont | ImageFont.ImageFont) -> None:
    """Write `text` turned a quarter to the left, centred on `centre` (a y-axis title)."""
    from PIL import Image, ImageDraw

    box = ImageDraw.Draw(Image.new("L", (1, 1))).textbbox((0, 0), text, font=font)
    label = Image.new("L", (int(box[2] - box[0]) + 4, int(box[3] - box[1]) + 4), 0)
    ImageDraw.Draw(label).text((2 - box[0], 2 - box[1]), text, fill=255, font=font)
    turned = label.rotate(90, expand=True)
    colour = Image.new("RGB", turned.size, TEXT_COLOUR)
    image.paste(colour, (centre[0] - turned.width // 2, centre[1] - turned.height // 2), turned)


# -- /config pulse ----------------------------------------------------------------------------

PULSE_HEIGHT = 600
BAND_COLOURS = {  # spreads: low to high, by how many bands there are
    3: ("#c0762e", "#b8b8b8", "#3a8f78"),
    4: ("#d9d9d9", "#3a8f78", "#e0b050", "#c0762e"),
}
MERGED_COLOUR = "#8c8c8c"
LINE_COLOURS = ("#4a6fa5", "#8e5ea2", "#3a8f78", "#c0762e", "#555555")
HIDDEN_MARK = "<5"
CHANGED_MARK = "-"
NOT_KEPT_MARK = "x"
NOT_FINAL_MARK = "~"


def pulse_request(pulse: ShownPulse) -> dict[str, Any]:
    """Describe a protected pulse for the chart child: shown counts and week dates, nothing else."""
    def why(key: str) -> list[str | None]:
        figure = pulse.figure(key)
        return [None if h is None else h.value for h in figure.hidden] if figure else [None] * len(pulse.weeks)

    spreads = [{"label": s.label, "bands": list(s.bands),
                "weeks": [None if groups is None else [[g.first, g.last, g.value] for g in groups]
                          for groups in s.weeks], "hidden": why(s.of)} for s in pulse.spreads]
    lines = [{"label": f.label, "values": list(f.cells), "hidden": why(f.key)} for f in pulse.figures
             if f.key not in {s.of for s in pulse.spreads}]
    first = pulse.weeks.weeks[0].start
    return {"kind": "pulse", "k": pulse.k,
            "title": f"Community pulse: {len(pulse.weeks)} weeks from {first.day} {MONTHS[first.month - 1]} {first.year}",
            "weeks": [w.start.isoformat() for w in pulse.weeks.weeks], "spreads": spreads, "lines": lines}


def _nice_top(value: int) -> int:
    """A round axis maximum at or above `value` (at least 5)."""
    value = max(value, 5)
    for step in (5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000):
        if value <= step * 5:
            return -(-value // step) * step
    return value


def render_pulse_chart(request: dict[str, Any]) -> bytes:
    """Return an 800x600 PNG: a stacked bar panel per spread, then one panel of lines for the other figures."""
    from PIL import Image, ImageDraw

    s = SCALE
    weeks = [date.fromisoformat(d) for d in request["weeks"]]
    spreads, lines = request["spreads"], request["lines"]
    image = Image.new("RGB", (WIDTH * s, PULSE_HEIGHT * s), "white")
    draw = ImageDraw.Draw(image)
    title_font, label_font, tick_font = _font(16 * s), _font(12 * s), _font(11 * s)
    draw.text((WIDTH * s // 2, 10 * s), str(request["title"]), fill=TEXT_COLOUR, font=title_font, anchor="ma")
    left, right = 60 * s, (WIDTH - 150) * s
    panels = len(spreads) + (1 if lines else 0)
    top, bottom_all = 40 * s, (PULSE_HEIGHT - 40) * s
    height = (bottom_all - top) // max(panels, 1)
    n = len(weeks)

    def x_of(i: float) -> float:
        return left + (right - left) * (i + 0.5) / max(n, 1)

    bar = (right - left) / max(n, 1) * 0.7
    panel_tops = [top + p * height for p in range(panels)]

    def axis(p_top: int, top_value: int, label: str) -> Callable[[float], float]:
        p_bottom = p_top + height - 22 * s

        def y_of(v: float) -> float:
            return p_bottom - (p_bottom - p_top - 14 * s) * v / top_value

        for tick in range(0, top_value + 1, max(1, top_value // 5)):
            draw.line([(left, y_of(tick)), (right, y_of(tick))], fill=GRID_COLOUR, width=s)
            draw.text((left - 6 * s, y_of(tick)), str(tick), fill=TEXT_COLOUR, font=tick_font, anchor="rm")
        draw.line([(left, p_top + 14 * s), (left, p_bottom), (right, p_bottom)], fill=AXIS_COLOUR, width=s)
        draw.text((left, p_top), label, fill=TEXT_COLOUR, font=label_font, anchor="la")
        return y_of

    def hidden(i: int, y: float, why: Sequence[str | None] | None) -> None:
        reason = why[i] if why else None
        mark = (CHANGED_MARK if reason == "change" else NOT_KEPT_MARK if reason == "not_kept"
                else NOT_FINAL_MARK if reason == "not_final" else HIDDEN_MARK)
        draw.text((x_of(i), y - 2 * s), mark, fill=AXIS_COLOUR, font=tick_font, anchor="mb")

    for p, spread in enumerate(spreads):
        totals = [sum(g[2] for g in w) for w in spread["weeks"] if w]
        y_of = axis(panel_tops[p], _nice_top(max(totals, default=0)), f"Members who checked in, by {spread['label'].lower()}")
        colours = BAND_COLOURS.get(len(spread["bands"]), LINE_COLOURS)
        for i, groups in enumerate(spread["weeks"]):
            if groups is None:
                hidden(i, y_of(0), spread.get("hidden"))
                continue
            base = 0
            for first, last, value in groups:
                colour = colours[first % len(colours)] if first == last else MERGED_COLOUR
                if value:
                    draw.rectangle([(x_of(i) - bar / 2, y_of(base + value)), (x_of(i) + bar / 2, y_of(base))],
                                   fill=colour)
                base += value
        legend = [(b, colours[j % len(colours)]) for j, b in enumerate(spread["bands"])] + [("merged", MERGED_COLOUR)]
        for j, (name, colour) in enumerate(legend):
            y = panel_tops[p] + 20 * s + j * 16 * s
            draw.rectangle([(right + 14 * s, y), (right + 24 * s, y + 10 * s)], fill=colour)
            draw.text((right + 30 * s, y + 5 * s), name, fill=TEXT_COLOUR, font=tick_font, anchor="lm")

    if lines:
        p_top = panel_tops[-1]
        values = [v for line in lines for v in line["values"] if v is not None]
        y_of = axis(p_top, _nice_top(max(values, default=0)), "Urges surfed, pairs and more, per week")
        for j, line in enumerate(lines):
            colour = LINE_COLOURS[j % len(LINE_COLOURS)]
            points = line["values"]
            _plot(draw, points, x_of, y_of, colour, width=2 * s, marker=3 * s)
            for i, v in enumerate(points):
                if v is None:
                    hidden(i, y_of(0), line.get("hidden"))
            y = p_top + 20 * s + j * 16 * s
            draw.rectangle([(right + 14 * s, y), (right + 24 * s, y + 10 * s)], fill=colour)
            draw.text((right + 30 * s, y + 5 * s), str(line["label"])[:18], fill=TEXT_COLOUR, font=tick_font,
                      anchor="lm")

    for i in _tick_days(weeks):
        draw.text((x_of(i), bottom_all + 6 * s), _label(weeks[i], with_year=i == 0), fill=TEXT_COLOUR,
                  font=tick_font, anchor="ma")
    k = request.get("k", 5)
    for n, note in enumerate((f"{HIDDEN_MARK}: fewer than {k} members", f"{CHANGED_MARK}: not shown (a change of <{k})",
                              f"{NOT_KEPT_MARK}: not kept (too old)", f"{NOT_FINAL_MARK}: not final yet")):
        draw.text((right + 14 * s, bottom_all + (2 + 12 * n) * s), note, fill=AXIS_COLOUR, font=tick_font, anchor="la")
    image = image.resize((WIDTH, PULSE_HEIGHT), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


RENDER_TIMEOUT = 30.0  # seconds for one chart, start-up included
MAX_RENDERERS = 2  # charts drawn at once; more wait their turn
_renderers: asyncio.Semaphore | None = None


class ChartError(Exception):
    """The chart could not be drawn (the child failed or took too long)."""


def _request(points: Sequence[DayPoint], title: str) -> bytes:
    return json.dumps({"kind": "checkins", "title": title,
                       "points": [[p.day.isoformat(), p.mood, p.craving] for p in points]}).encode()


def _child_environment() -> dict[str, str]:
    # The child needs no token, no database and no configuration.
    return {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "KINDRED_"))}


async def render_checkin_chart_async(points: Sequence[DayPoint], *, title: str) -> bytes:
    """Render the chart in a child process, so nothing of the drawing stays in the bot's memory."""
    return await _render_in_child(_request(points, title))


async def render_pulse_chart_async(pulse: ShownPulse) -> bytes:
    """Render `/config pulse`'s chart in a child process (it is given counts only, never member ids)."""
    return await _render_in_child(json.dumps(pulse_request(pulse)).encode())


async def _render_in_child(request: bytes) -> bytes:
    """Run `python -m bot.services.charts` with `request` on stdin; return the PNG it writes."""
    global _renderers
    if _renderers is None:
        _renderers = asyncio.Semaphore(MAX_RENDERERS)
    async with _renderers:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.services.charts", stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=_child_environment())
        try:
            async with asyncio.timeout(RENDER_TIMEOUT):
                png, errors = await proc.communicate(request)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise ChartError(f"the chart took more than {RENDER_TIMEOUT:.0f} s") from None
        except BaseException:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            raise
    if proc.returncode != 0 or not png.startswith(b"\x89PNG"):
        last = errors.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise ChartError(f"the chart renderer exited with {proc.returncode}: {last[0][:200]}")
    return png


def main() -> None:
    """Draw one chart: the request (JSON) on stdin, the PNG on stdout."""
    request = json.loads(sys.stdin.buffer.read())
    if request.get("kind") == "pulse":
        png = render_pulse_chart(request)
    else:
        points = [DayPoint(date.fromisoformat(day), mood, craving) for day, mood, craving in request["points"]]
        png = render_checkin_chart(points, title=str(request["title"]))
    sys.stdout.buffer.write(png)
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
