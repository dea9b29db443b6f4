"""Server-rendered SVG line charts: well-formed, accessible, escaped, true to the data."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from django.utils.safestring import SafeString
from hypothesis import given
from hypothesis import strategies as st

from steg.questionnaires import chart
from steg.questionnaires.chart import Series, Summary, chart_id, render_svg, summarise, table_rows

SVG = "{http://www.w3.org/2000/svg}"
DAY = date(2026, 11, 3)
CSS = Path(__file__).resolve().parents[3] / "static" / "css" / "steg.css"


def series(*values: int | str | None, key: str = "cigarettes", **kwargs: object) -> Series:
    points = tuple(
        (DAY + timedelta(days=i), None if v is None else Decimal(v)) for i, v in enumerate(values)
    )
    return Series(key=key, label="Cigarettes", points=points, **kwargs)  # type: ignore[arg-type]


def parse(svg: str) -> ET.Element:
    """Parse our own output (trusted: no entities, no external references)."""
    return ET.fromstring(svg)  # noqa: S314


def render(s: Series, **kwargs: object) -> ET.Element:
    options: dict[str, object] = {"title": "Cigarettes a day", "description": "Five entries"}
    options.update(kwargs)
    svg = render_svg(s, lang="en", **options)  # type: ignore[arg-type]
    return parse(str(svg))


def circles(root: ET.Element) -> list[ET.Element]:
    return list(root.iter(f"{SVG}circle"))


def polylines(root: ET.Element) -> list[ET.Element]:
    return list(root.iter(f"{SVG}polyline"))


def centres(root: ET.Element) -> list[tuple[float, float]]:
    return [(float(c.attrib["cx"]), float(c.attrib["cy"])) for c in circles(root)]


def texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}text")]


# --------------------------------------------------------------------------- accessibility


def test_svg_is_an_image_named_by_its_title_and_description() -> None:
    root = render(series(3, 5, 4), title="Cigarettes a day", description="3 entries")

    assert root.tag == f"{SVG}svg"
    assert root.attrib["role"] == "img"
    title_id, desc_id = root.attrib["aria-labelledby"].split()
    title = root.find(f"{SVG}title")
    desc = root.find(f"{SVG}desc")
    assert title is not None and desc is not None
    assert (title.attrib["id"], title.text) == (title_id, "Cigarettes a day")
    assert (desc.attrib["id"], desc.text) == (desc_id, "3 entries")
    assert list(root)[:2] == [title, desc]  # first children, as assistive technology expects
    assert root.attrib["lang"] == "en"


def test_every_text_is_escaped() -> None:
    nasty = "<script>alert(\"x\")</script> & 'quotes'"
    s = Series(
        key=nasty,
        label=nasty,
        points=((DAY, Decimal(1)), (DAY + timedelta(days=1), Decimal(2))),
        unit=nasty,
    )

    svg = render_svg(s, title=nasty, description=nasty, lang="en")
    root = parse(str(svg))

    assert "<script" not in svg
    assert not list(root.iter(f"{SVG}script"))
    assert root.find(f"{SVG}title").text == nasty  # type: ignore[union-attr]
    assert root.find(f"{SVG}desc").text == nasty  # type: ignore[union-attr]
    assert f"{nasty} ({nasty})" in texts(root)


def test_characters_xml_cannot_hold_are_dropped() -> None:
    root = render(series(1, 2), title="a\x00b\x1fc", description="d\ud800e")

    assert root.find(f"{SVG}title").text == "abc"  # type: ignore[union-attr]
    assert root.find(f"{SVG}desc").text == "de"  # type: ignore[union-attr]


def test_no_inline_style_or_script() -> None:
    svg = str(render_svg(series(1, None, 3, 2), title="t", description="d", lang="sv"))
    root = parse(svg)

    assert all("style" not in element.attrib for element in root.iter())
    assert all(not element.tag.endswith(("script", "style")) for element in root.iter())
    assert not any(name.startswith("on") for element in root.iter() for name in element.attrib)


def test_render_svg_returns_safe_markup() -> None:
    assert isinstance(render_svg(series(1), title="t", description="d", lang="sv"), SafeString)


def test_classes_and_fallback_colours() -> None:
    root = render(series(1, 2, 3))
    classes = {element.attrib.get("class") for element in root.iter()}

    assert {"chart__line", "chart__point", "chart__axis", "chart__grid", "chart__label"} <= classes
    line = polylines(root)[0]
    parents = {child: parent for parent in root.iter() for child in parent}
    assert parents[line].attrib["stroke"] == chart.LINE_COLOUR
    assert parents[line].attrib["fill"] == "none"
    assert parents[circles(root)[0]].attrib["fill"] == chart.LINE_COLOUR


# --------------------------------------------------------------------------- ids


def test_ids_start_with_chart_and_the_key() -> None:
    root = render(series(1, key="cigarettes"))

    assert root.attrib["id"] == "chart-cigarettes"
    assert root.attrib["aria-labelledby"] == "chart-cigarettes-title chart-cigarettes-desc"


def test_ids_are_distinct_for_distinct_keys_and_safe_for_any_key() -> None:
    keys = ["a b", "a-b", "A-B", "", " ", "<x>", '"', "å", "a", "Ä"]
    ids = [chart_id(key) for key in keys]

    assert len(set(ids)) == len(keys)
    assert all(re.fullmatch(r"chart-[a-z0-9_-]+", i) for i in ids)


@given(st.text(max_size=20), st.text(max_size=20))
def test_chart_ids_never_collide(a: str, b: str) -> None:
    assert (chart_id(a) == chart_id(b)) == (a == b)
    assert re.fullmatch(r"chart-[a-z0-9_-]+", chart_id(a))


# --------------------------------------------------------------------------- data


def test_a_circle_per_value() -> None:
    root = render(series(1, None, 3, 4, None))

    assert len(circles(root)) == 3
    assert all(float(c.attrib["r"]) >= 3 for c in circles(root))


def test_a_missing_value_breaks_the_line() -> None:
    root = render(series(1, 2, None, 3, 4, None, None, 5, 6))

    lines = polylines(root)
    assert len(lines) == 3
    assert [len(line.attrib["points"].split()) for line in lines] == [2, 2, 2]


def test_missing_values_at_the_ends_do_not_break_the_line() -> None:
    root = render(series(None, 1, 2, 3, None))

    assert len(polylines(root)) == 1
    assert len(polylines(root)[0].attrib["points"].split()) == 3


def test_a_lone_value_between_gaps_is_a_dot_without_a_line() -> None:
    root = render(series(1, None, 2, None, 3, 4))

    assert len(circles(root)) == 4
    assert len(polylines(root)) == 1


def test_one_point_is_a_dot_and_no_line() -> None:
    root = render(series(7))

    assert len(circles(root)) == 1
    assert polylines(root) == []
    (cx, cy), width = centres(root)[0], 640
    assert 0 < cx < width and 0 < cy < 240


def test_no_points_is_only_title_and_description() -> None:
    for empty in (series(), series(None, None)):
        root = render(empty, description="Nothing yet")

        assert [child.tag for child in root] == [f"{SVG}title", f"{SVG}desc"]
        assert root.find(f"{SVG}desc").text == "Nothing yet"  # type: ignore[union-attr]
        assert "chart--empty" in root.attrib["class"].split()


def test_points_are_in_date_order_from_left_to_right() -> None:
    shuffled = Series(
        key="k",
        label="",
        points=(
            (DAY + timedelta(days=2), Decimal(1)),
            (DAY, Decimal(2)),
            (DAY + timedelta(days=1), Decimal(3)),
        ),
    )

    xs = [x for x, _ in centres(render(shuffled))]

    assert xs == sorted(xs)


def test_higher_values_are_higher_up() -> None:
    root = render(series(1, 5, 3))

    (_, y1), (_, y5), (_, y3) = centres(root)
    assert y5 < y3 < y1


def test_x_position_follows_the_date_not_the_index() -> None:
    s = Series(
        key="k",
        label="",
        points=(
            (DAY, Decimal(1)),
            (DAY + timedelta(days=1), Decimal(1)),
            (DAY + timedelta(days=10), Decimal(1)),
        ),
    )

    (x0, _), (x1, _), (x10, _) = centres(render(s))

    assert abs((x10 - x0) - 10 * (x1 - x0)) < 0.05


def test_fixed_y_axis_uses_min_and_max_value() -> None:
    root = render(series(4, 6, min_value=Decimal(0), max_value=Decimal(10)))

    labels = texts(root)
    assert "0" in labels and "10" in labels
    (_, y4), (_, y6) = centres(root)
    # 4 and 6 sit at 40% and 60% of the plot height between the axis ends.
    top, bottom = chart.MARGIN_TOP, 240 - chart.MARGIN_BOTTOM
    assert abs(y4 - (bottom - 0.4 * (bottom - top))) < 0.05
    assert abs(y6 - (bottom - 0.6 * (bottom - top))) < 0.05


def test_data_outside_fixed_bounds_widens_the_axis() -> None:
    root = render(series(-5, 50, min_value=Decimal(0), max_value=Decimal(10)))

    for _, y in centres(root):
        assert chart.MARGIN_TOP <= y <= 240 - chart.MARGIN_BOTTOM


def test_counts_get_no_negative_axis() -> None:
    labels = texts(render(series(0, 1, 2)))

    assert not any(label.startswith(("-", "\u2212")) for label in labels)


def test_flat_data_at_a_fixed_end_still_gets_an_axis() -> None:
    for flat in (
        series(0, 0, max_value=Decimal(0)),
        series(5, 5, min_value=Decimal(5), max_value=Decimal(5)),
        series(3, 3),
    ):
        root = render(flat)

        assert len(circles(root)) == 2
        for _, y in centres(root):
            assert chart.MARGIN_TOP <= y <= 240 - chart.MARGIN_BOTTOM


def test_at_most_six_date_labels_including_first_and_last() -> None:
    root = render(series(*range(90)), date_format=lambda day: day.isoformat())

    dates = [t for t in texts(root) if re.fullmatch(r"\d{4}-\d\d-\d\d", t)]
    assert 2 <= len(dates) <= 6
    assert dates[0] == DAY.isoformat()
    assert dates[-1] == (DAY + timedelta(days=89)).isoformat()


def test_labels_are_localised() -> None:
    s = series("0.1", "0.25", "0.4")

    swedish = parse(str(render_svg(s, title="t", description="d", lang="sv")))
    english = parse(str(render_svg(s, title="t", description="d", lang="en")))

    assert "3 nov" in texts(swedish)
    assert any("," in t for t in texts(swedish))
    assert not any("," in t for t in texts(english))


def test_caller_formatters_write_the_labels() -> None:
    root = render(
        series(1, 2),
        date_format=lambda day: f"D{day.day}",
        number_format=lambda value: f"N{value}",
    )

    assert "D3" in texts(root)
    assert any(t.startswith("N") for t in texts(root))


def test_output_is_deterministic() -> None:
    s = series(1, None, 3, 2, 8)

    assert render_svg(s, title="t", description="d", lang="sv") == render_svg(
        s, title="t", description="d", lang="sv"
    )


def test_table_rows_are_newest_first() -> None:
    s = Series(
        key="k",
        label="",
        points=(
            (DAY, Decimal(1)),
            (DAY + timedelta(days=2), None),
            (DAY + timedelta(days=1), None),
        ),
    )

    assert table_rows(s) == [
        (DAY + timedelta(days=2), None),
        (DAY + timedelta(days=1), None),
        (DAY, Decimal(1)),
    ]


def test_summary_gives_the_facts_for_the_description() -> None:
    s = series(4, None, 2, 9, 5, None)

    assert summarise(s) == Summary(
        count=4,
        first=DAY,
        last=DAY + timedelta(days=4),
        lowest=Decimal(2),
        highest=Decimal(9),
        latest=Decimal(5),
    )
    assert summarise(series(None)) is None


# --------------------------------------------------------------------------- properties

values = st.none() | st.decimals(
    min_value=-1000, max_value=1000, allow_nan=False, allow_infinity=False, places=2
)
bounds = st.none() | st.decimals(
    min_value=-100, max_value=100, allow_nan=False, allow_infinity=False, places=1
)


@st.composite
def any_series(draw: st.DrawFn) -> Series:
    offsets = draw(st.lists(st.integers(0, 400), max_size=30, unique=True))
    points = tuple((DAY + timedelta(days=o), draw(values)) for o in offsets)
    return Series(
        key=draw(st.text(max_size=10)),
        label=draw(st.text(max_size=10)),
        points=points,
        min_value=draw(bounds),
        max_value=draw(bounds),
        unit=draw(st.text(max_size=5)),
    )


def view_box(root: ET.Element) -> tuple[float, float, float, float]:
    x, y, w, h = (float(n) for n in root.attrib["viewBox"].split())
    return x, y, w, h


@given(any_series(), st.integers(200, 1200), st.integers(120, 600))
def test_any_series_renders_well_formed_with_points_inside(
    s: Series, width: int, height: int
) -> None:
    root = parse(
        str(render_svg(s, title="t", description="d", width=width, height=height, lang="sv"))
    )
    x0, y0, w, h = view_box(root)

    present = [(day, v) for day, v in s.points if v is not None]
    assert len(circles(root)) == len(present)
    for cx, cy in centres(root):
        assert x0 <= cx <= x0 + w
        assert y0 <= cy <= y0 + h
    for line in polylines(root):
        for pair in line.attrib["points"].split():
            px, py = (float(n) for n in pair.split(","))
            assert x0 <= px <= x0 + w and y0 <= py <= y0 + h


@given(any_series())
def test_y_positions_are_ordered_by_value(s: Series) -> None:
    root = parse(str(render_svg(s, title="t", description="d", lang="en")))
    present = sorted(((day, v) for day, v in s.points if v is not None), key=lambda p: p[0])
    placed = list(zip((v for _, v in present), (y for _, y in centres(root)), strict=True))

    for value_a, y_a in placed:
        for value_b, y_b in placed:
            if value_a > value_b:
                assert y_a <= y_b
            if value_a == value_b:
                assert y_a == y_b


@given(any_series())
def test_the_line_breaks_exactly_at_missing_values(s: Series) -> None:
    root = parse(str(render_svg(s, title="t", description="d", lang="en")))
    runs, current = [], 0
    for _, value in sorted(s.points, key=lambda p: p[0]):
        if value is None:
            runs.append(current)
            current = 0
        else:
            current += 1
    runs.append(current)

    assert [len(line.attrib["points"].split()) for line in polylines(root)] == [
        run for run in runs if run > 1
    ]


# --------------------------------------------------------------------------- colours


def luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_on_white(hex_colour: str) -> float:
    return 1.05 / (luminance(hex_colour) + 0.05)


def chart_css() -> str:
    css = CSS.read_text()
    marker = "/* Charts (steg/questionnaires/chart.py) */"
    assert marker in css
    return css[css.index(marker) :]


def test_fallback_colours_meet_wcag_aa_on_white() -> None:
    assert contrast_on_white(chart.LABEL_COLOUR) >= 4.5
    for graphic in (chart.LINE_COLOUR, chart.AXIS_COLOUR, chart.GRID_COLOUR):
        assert contrast_on_white(graphic) >= 3


def test_stylesheet_colours_meet_wcag_aa_on_white() -> None:
    rules = re.findall(r"\.(chart__[a-z]+)\s*\{([^}]*)\}", chart_css())

    assert {name for name, _ in rules} >= {
        "chart__line",
        "chart__point",
        "chart__axis",
        "chart__grid",
        "chart__label",
    }
    for name, body in rules:
        for prop, colour in re.findall(r"(fill|stroke)\s*:\s*(#[0-9a-fA-F]{6})", body):
            if colour.lower() == "#ffffff" or (name == "chart__point" and prop == "stroke"):
                continue  # the white ring that separates a point from the line
            needed = 4.5 if name == "chart__label" else 3
            assert contrast_on_white(colour) >= needed, (name, prop, colour)


def test_stylesheet_has_table_and_print_rules() -> None:
    css = chart_css()

    assert ".chart-table" in css
    assert "@media print" in css
