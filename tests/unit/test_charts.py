"""The /mystats chart: a PNG of mood and craving in which a day without a check-in is a gap."""

from __future__ import annotations

import io
from datetime import date, timedelta

from PIL import Image

from bot.domain.checkins import DayPoint
from bot.services.charts import CRAVING_COLOUR, MOOD_COLOUR, render_checkin_chart

START = date(2026, 11, 1)


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return int(hex_colour[1:3], 16), int(hex_colour[3:5], 16), int(hex_colour[5:7], 16)


def coloured_columns(png: bytes, colour: str, rows: range) -> list[int]:
    """Columns of the plot area (right of the axis labels) in which some pixel of `rows` is (close to) `colour`."""
    target = _rgb(colour)
    with Image.open(io.BytesIO(png)) as image:
        rgb = image.convert("RGB")
        pixels = rgb.load()
        assert pixels is not None
        return [x for x in range(80, rgb.width) if any(
            sum(abs(a - b) for a, b in zip(pixels[x, y], target, strict=True)) < 100 for y in rows)]  # type: ignore[arg-type]


def runs(columns: list[int]) -> list[tuple[int, int]]:
    """Contiguous stretches of columns as (first, last)."""
    out: list[tuple[int, int]] = []
    for x in columns:
        if out and x == out[-1][1] + 1:
            out[-1] = (out[-1][0], x)
        else:
            out.append((x, x))
    return out


def points(moods: list[int | None], cravings: list[int | None]) -> list[DayPoint]:
    return [DayPoint(START + timedelta(days=i), m, c) for i, (m, c) in enumerate(zip(moods, cravings, strict=True))]


def test_the_chart_is_an_800_by_450_png() -> None:
    png = render_checkin_chart(points([3, 4, None, 2], [1, None, None, 9]), title="Your mood and craving")
    with Image.open(io.BytesIO(png)) as image:
        image.verify()
        assert image.format == "PNG" and image.size == (800, 450)


def test_a_day_without_a_check_in_breaks_the_line_instead_of_dipping() -> None:
    # Mood on days 0, 1, 3 and 4 (sloped lines, off the grid rows); nothing on day 2; no craving at all.
    png = render_checkin_chart(points([2, 4, None, 2, 4], [None] * 5), title="gaps")
    top_half, bottom_half = range(40, 220), range(235, 415)
    mood = runs(coloured_columns(png, MOOD_COLOUR, top_half))
    assert len(mood) == 2, mood  # two stretches of line: days 0–1 and days 3–4
    day_width = (mood[1][1] - mood[0][0]) / 4
    assert mood[1][0] - mood[0][1] > day_width / 2, "the gap is drawn over"
    # No craving was recorded: nothing is drawn for it (not a line at zero).
    assert coloured_columns(png, CRAVING_COLOUR, bottom_half) == []
    assert coloured_columns(png, MOOD_COLOUR, bottom_half) == []


def test_a_lone_day_between_gaps_still_shows() -> None:
    png = render_checkin_chart(points([None, None, 4, None, None], [None, None, 7, None, None]), title="lone")
    assert len(runs(coloured_columns(png, MOOD_COLOUR, range(40, 220)))) == 1
    assert len(runs(coloured_columns(png, CRAVING_COLOUR, range(235, 415)))) == 1


def test_a_year_of_days_renders() -> None:
    year = points([(i % 5) + 1 if i % 7 else None for i in range(365)], [i % 11 for i in range(365)])
    with Image.open(io.BytesIO(render_checkin_chart(year, title="a year"))) as image:
        assert image.size == (800, 450)


def test_the_pulse_chart_is_drawn_from_shown_counts_only() -> None:
    import json
    from datetime import UTC, datetime

    from bot.domain.pulse import PulseSpread, complete_weeks, count_events, count_members, protect
    from bot.services.charts import pulse_request, render_pulse_chart

    weeks = complete_weeks(datetime(2026, 11, 21, 10, tzinfo=UTC), "Europe/London", 6)
    secret = 987654321987
    members = [secret + n for n in range(12)]
    checked = count_members("in", "Checked in", weeks, [(w, m) for w in range(6) for m in members[: 3 + 2 * w]])
    bands = tuple((frozenset(c.members) - frozenset(members[:5]), frozenset(c.members) & frozenset(members[:5]))
                  for c in checked.cells)
    spread = PulseSpread("mood", "Mood", "in", ("low", "good"), bands)
    urges = count_events("urges", "Urges surfed", weeks, [(w, m) for w in range(6) for m in members[:w + 2]])
    request = pulse_request(protect(weeks, [checked, urges], [spread]))
    assert str(secret)[:6] not in json.dumps(request), "the child is given no member ids"
    assert request["lines"] == [{"label": "Urges surfed", "values": [None, None, None, 5, 6, 7],
                                 "hidden": ["few", "few", "few", None, None, None]}]
    # Weeks of 3, 5, 7... members, each the one before and two more: every difference is about two.
    assert request["spreads"][0]["hidden"] == ["few", "change", "change", "change", "change", "change"]
    png = render_pulse_chart(request)
    with Image.open(io.BytesIO(png)) as image:
        image.verify()
        assert image.format == "PNG" and image.size == (800, 600)
