"""Accessible line charts as server-rendered SVG: pure functions, no JavaScript.

A chart is a picture of a :class:`Series` (a value per day, ``None`` for a day without one).
The SVG is an image with a name and a description (``role="img"``, ``<title>`` and
``<desc>`` referenced by ``aria-labelledby``); the caller writes both in the reader's language
(:func:`summarise` gives the facts a description needs) and shows the same data as a table
beside it (:func:`table_rows`), which is what screen-reader users and printouts rely on.

Colours are presentation attributes (a fallback when the stylesheet is missing) and CSS
classes (``chart__line``, ``chart__point``, ``chart__axis``, ``chart__grid``,
``chart__label``; see ``static/css/steg.css``); there is no inline style or script, as the
content security policy forbids both. Every text is escaped.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from django.utils import dateformat, formats, translation
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import slugify

__all__ = ["Series", "Summary", "chart_id", "render_svg", "summarise", "table_rows"]

DateFormat = Callable[[date], str]
NumberFormat = Callable[[Decimal], str]

# Fallback colours, the same as the stylesheet's; contrast on white in brackets.
LINE_COLOUR = "#1d4f91"  # the line and the points (8.2:1)
AXIS_COLOUR = "#4a4a4a"  # axes and tick marks (8.9:1)
GRID_COLOUR = "#8c8c8c"  # grid lines (3.4:1)
LABEL_COLOUR = "#1b1b1b"  # tick labels and the caption (17:1)

MARGIN_LEFT = 56
MARGIN_RIGHT = 24
MARGIN_TOP = 28
MARGIN_BOTTOM = 36
POINT_RADIUS = 4
MAX_X_TICKS = 6
Y_INTERVALS = 5


@dataclass(frozen=True)
class Series:
    """Values by day. ``min_value``/``max_value`` fix the y axis (the data may widen it)."""

    key: str
    label: str
    points: tuple[tuple[date, Decimal | None], ...]
    min_value: Decimal | None = None
    max_value: Decimal | None = None
    unit: str = ""


@dataclass(frozen=True)
class Summary:
    """What a chart's description says: the facts, for the caller to put into words."""

    count: int  # days with a value
    first: date
    last: date
    lowest: Decimal
    highest: Decimal
    latest: Decimal  # the value of the last day with one


def _values(series: Series) -> list[tuple[date, Decimal]]:
    """The points that have a value, oldest first (NaN and infinities count as no value)."""
    ordered = sorted(series.points, key=lambda point: point[0])
    return [(day, value) for day, value in ordered if value is not None and value.is_finite()]


def summarise(series: Series) -> Summary | None:
    """The facts about the series, or None when no day has a value."""
    values = _values(series)
    if not values:
        return None
    numbers = [value for _, value in values]
    return Summary(
        count=len(values),
        first=values[0][0],
        last=values[-1][0],
        lowest=min(numbers),
        highest=max(numbers),
        latest=numbers[-1],
    )


def table_rows(series: Series) -> list[tuple[date, Decimal | None]]:
    """The points for the table beside the chart, newest first."""
    return sorted(series.points, key=lambda point: point[0], reverse=True)


def chart_id(key: str) -> str:
    """An element id for the series, ``chart-<slug>``, distinct for distinct keys."""
    slug = slugify(key)
    if slug == key and slug:
        return f"chart-{slug}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:8]
    return f"chart-{slug}-{digest}" if slug else f"chart-{digest}"


# Characters XML 1.0 does not allow (control characters, lone surrogates, U+FFFE/U+FFFF).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(value: str) -> str:
    """Text for the SVG: without characters XML cannot hold, and escaped."""
    return escape(_NOT_XML.sub("", value))


def _default_date_format(day: date) -> str:
    return dateformat.format(day, "j b")  # "3 nov", in the active language


def _default_number_format(value: Decimal) -> str:
    return formats.number_format(value)  # the active language's decimal separator


def _num(value: float) -> str:
    """A coordinate: at most two decimals, no trailing zeros, never "-0"."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _plain(value: Decimal) -> Decimal:
    """The value without trailing zeros or an exponent (2.50 -> 2.5, 1E+1 -> 10)."""
    normal = value.normalize()
    exponent = normal.as_tuple().exponent
    return normal.quantize(Decimal(1)) if isinstance(exponent, int) and exponent > 0 else normal


def _nice_step(span: Decimal) -> Decimal:
    """A round step (1, 2 or 5 times a power of ten) giving about ``Y_INTERVALS`` intervals."""
    raw = span / Y_INTERVALS
    base = Decimal(1).scaleb(raw.adjusted())
    return next(base * factor for factor in (1, 2, 5, 10) if base * factor >= raw)


def _multiple(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    return (value / step).to_integral_value(rounding=rounding) * step


def _y_scale(series: Series, numbers: Sequence[Decimal]) -> tuple[Decimal, Decimal, list[Decimal]]:
    """The y axis: lowest and highest value shown, and the values of the grid lines."""
    low, high = min(numbers), max(numbers)
    fixed_low, fixed_high = series.min_value is not None, series.max_value is not None
    bottom = min(series.min_value, low) if series.min_value is not None else low
    top = max(series.max_value, high) if series.max_value is not None else high
    pad = (top - bottom) / 10 if top > bottom else Decimal(1)
    if not fixed_low:
        bottom -= pad
    if not fixed_high:
        top += pad
    if top <= bottom:  # both ends fixed at the same value
        top = bottom + 1
    step = _nice_step(top - bottom)
    if not fixed_low:
        bottom = _multiple(bottom, step, ROUND_FLOOR)
        if low >= 0 > bottom and top > 0:  # counts never need a negative axis
            bottom = Decimal(0)
    if not fixed_high:
        top = _multiple(top, step, ROUND_CEILING)
    first = _multiple(bottom, step, ROUND_CEILING)
    ticks = []
    tick = first
    while tick <= top:
        ticks.append(tick)
        tick += step
    return bottom, top, ticks


def _x_ticks(first: date, span: int, plot_width: float) -> list[date]:
    """At most ``MAX_X_TICKS`` days, evenly spread, the first and the last included."""
    count = min(MAX_X_TICKS, span + 1, max(2, int(plot_width // 70)))
    if count <= 1 or span == 0:
        return [first]
    offsets = sorted({(i * span + (count - 1) // 2) // (count - 1) for i in range(count)})
    return [first + timedelta(days=offset) for offset in offsets]


def render_svg(
    series: Series,
    *,
    title: str,
    description: str,
    width: int = 640,
    height: int = 240,
    lang: str,
    date_format: DateFormat | None = None,
    number_format: NumberFormat | None = None,
) -> SafeString:
    """The chart as an SVG element to put into an HTML page.

    ``title`` names the chart and ``description`` says what it shows (number of entries,
    dates, lowest, highest and latest value), both already in ``lang``. The formatters, by
    default Django's for ``lang``, write the axis labels ("3 nov", "2,5"). Without any value
    the SVG holds only the title and the description (which should say there is nothing
    yet).
    """
    with translation.override(lang):
        return mark_safe(  # noqa: S308 - every text in it is escaped
            _render(
                series,
                title=title,
                description=description,
                width=width,
                height=height,
                lang=lang,
                date_format=date_format or _default_date_format,
                number_format=number_format or _default_number_format,
            )
        )


def _render(
    series: Series,
    *,
    title: str,
    description: str,
    width: int,
    height: int,
    lang: str,
    date_format: DateFormat,
    number_format: NumberFormat,
) -> str:
    cid = chart_id(series.key)
    values = _values(series)
    css_class = "chart" if values else "chart chart--empty"
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="{css_class}" id="{cid}" role="img" '
        f'aria-labelledby="{cid}-title {cid}-desc" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" lang="{_text(lang)}">',
        f'<title id="{cid}-title">{_text(title)}</title>',
        f'<desc id="{cid}-desc">{_text(description)}</desc>',
    ]
    if not values:
        out.append("</svg>")
        return "\n".join(out)

    left, top = MARGIN_LEFT, MARGIN_TOP
    right = max(width - MARGIN_RIGHT, left + 1)
    bottom = max(height - MARGIN_BOTTOM, top + 1)
    plot_width, plot_height = right - left, bottom - top

    ordered = sorted(series.points, key=lambda point: point[0])
    first_day, last_day = values[0][0], values[-1][0]
    span = (last_day - first_day).days
    low, high, y_ticks = _y_scale(series, [value for _, value in values])

    def x(day: date) -> float:
        if span == 0:
            return left + plot_width / 2
        return left + (day - first_day).days / span * plot_width

    def y(value: Decimal) -> float:
        return top + float((high - value) / (high - low)) * plot_height

    # Grid lines and their labels, one per y tick.
    grid = [
        f'<line class="chart__grid" x1="{left}" y1="{_num(y(t))}" x2="{right}" y2="{_num(y(t))}"/>'
        for t in y_ticks
    ]
    out.append(
        f'<g fill="none" stroke="{GRID_COLOUR}" stroke-width="1" stroke-dasharray="2 3">'
        + "".join(grid)
        + "</g>"
    )
    x_ticks = _x_ticks(first_day, span, plot_width)
    axis = [
        f'<line class="chart__axis" x1="{left}" y1="{top}" x2="{left}" y2="{bottom}"/>',
        f'<line class="chart__axis" x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}"/>',
    ] + [
        f'<line class="chart__axis" x1="{_num(x(d))}" y1="{bottom}" '
        f'x2="{_num(x(d))}" y2="{bottom + 5}"/>'
        for d in x_ticks
    ]
    out.append(f'<g fill="none" stroke="{AXIS_COLOUR}" stroke-width="1">' + "".join(axis) + "</g>")

    labels = [
        f'<text class="chart__label" x="{left - 6}" y="{_num(y(t) + 4)}" text-anchor="end">'
        f"{_text(number_format(_plain(t)))}</text>"
        for t in y_ticks
    ] + [
        f'<text class="chart__label" x="{_num(x(d))}" y="{bottom + 20}" text-anchor="middle">'
        f"{_text(date_format(d))}</text>"
        for d in x_ticks
    ]
    caption = f"{series.label} ({series.unit})" if series.unit else series.label
    if caption:
        labels.insert(0, f'<text class="chart__label" x="4" y="16">{_text(caption)}</text>')
    out.append(
        f'<g fill="{LABEL_COLOUR}" font-size="12" font-family="system-ui, sans-serif">'
        + "".join(labels)
        + "</g>"
    )

    # The line, broken where a day has no value, and a point per value.
    segments: list[list[str]] = [[]]
    circles: list[str] = []
    for day, value in ordered:
        if value is None or not value.is_finite():
            segments.append([])
            continue
        cx, cy = _num(x(day)), _num(y(value))
        segments[-1].append(f"{cx},{cy}")
        circles.append(f'<circle class="chart__point" cx="{cx}" cy="{cy}" r="{POINT_RADIUS}"/>')
    lines = [
        f'<polyline class="chart__line" points="{" ".join(segment)}"/>'
        for segment in segments
        if len(segment) > 1
    ]
    if lines:
        out.append(
            f'<g fill="none" stroke="{LINE_COLOUR}" stroke-width="2.5" '
            f'stroke-linejoin="round" stroke-linecap="round">' + "".join(lines) + "</g>"
        )
    out.append(
        f'<g fill="{LINE_COLOUR}" stroke="#fff" stroke-width="1.5">' + "".join(circles) + "</g>"
    )
    out.append("</svg>")
    return "\n".join(out)
