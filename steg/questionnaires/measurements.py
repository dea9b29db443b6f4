"""Measurements over time: scores and diary numbers as series, charts and tables."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from django.utils import formats
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from . import logic
from .chart import Series, render_svg, table_rows
from .definition import Answers, Item, Questionnaire, Value
from .loader import questionnaires_of
from .models import Response
from .render import OTHER, text_in

if TYPE_CHECKING:
    from steg.care.models import Enrolment


def _charted_items(questionnaire: Questionnaire) -> list[Item]:
    return [i for i in questionnaire.all_items() if i.type in ("integer", "decimal")]


def has_series(questionnaire: Questionnaire) -> bool:
    return questionnaire.scoring is not None or bool(_charted_items(questionnaire))


def _value_text(item: Item, value: Value, language: str) -> str:
    if item.type == "boolean":
        return _("Yes") if value else _("No")
    if item.type in ("choice", "open-choice") and isinstance(value, str):
        option = item.option(value)
        return text_in(option.text, language) if option else value
    if isinstance(value, Decimal):
        return str(formats.number_format(value))
    if isinstance(value, datetime.date | datetime.time):
        return str(formats.localize(value))
    return str(value)


def answer_summary(
    questionnaire: Questionnaire, answers: Answers, language: str
) -> list[tuple[str, str]]:
    """(question, answer) for every answered item, in order."""
    rows = []
    for item in questionnaire.all_items():
        values = answers.get(item.link_id)
        if not values:
            continue
        rows.append(
            (
                text_in(item.text, language),
                ", ".join(_value_text(item, v, language) for v in values if v != OTHER),
            )
        )
    return rows


@dataclass(frozen=True)
class ChartView:
    key: str
    title: str
    svg: SafeString
    rows: list[tuple[datetime.date, str]]
    unit: str = ""


def _description(series: Series) -> str:
    values = [(d, v) for d, v in series.points if v is not None]
    if not values:
        return _("No entries yet.")
    numbers = [v for _d, v in values]
    return _(
        "%(count)s entries from %(first)s to %(last)s. Lowest %(low)s, highest %(high)s, "
        "latest %(latest)s."
    ) % {
        "count": len(values),
        "first": formats.date_format(values[0][0], "j F Y"),
        "last": formats.date_format(values[-1][0], "j F Y"),
        "low": formats.number_format(min(numbers)),
        "high": formats.number_format(max(numbers)),
        "latest": formats.number_format(values[-1][1]),
    }


def _bounds(values: list[Decimal]) -> tuple[Decimal | None, Decimal | None]:
    return (min(values), max(values)) if values else (None, None)


def charts_for(enrolment: Enrolment, language: str) -> list[ChartView]:
    """Every chartable series of the enrolment's submitted responses (one query)."""
    questionnaires = questionnaires_of(enrolment.programme_version)
    responses = list(
        Response.objects.filter(enrolment=enrolment, status=Response.Status.SUBMITTED)
        .order_by("day")
        .values_list("questionnaire_id", "day", "answers", "score")
    )
    charts: list[ChartView] = []
    for qid, questionnaire in questionnaires.items():
        mine = [r for r in responses if r[0] == qid]
        if not mine or not has_series(questionnaire):
            continue
        title = text_in(questionnaire.title, language)
        series_list: list[Series] = []
        if questionnaire.scoring is not None:
            points: list[tuple[datetime.date, Decimal | None]] = []
            for _qid, day, _answers, score in mine:
                try:
                    result = logic.score_from_json(questionnaire, score) if score else None
                except ValueError:  # stored under an older definition: no point
                    result = None
                points.append((day, result.total if result else None))
            low, high = _scale_bounds(questionnaire)
            series_list.append(
                Series(
                    key=f"{qid}-total",
                    label=_("%(title)s – score") % {"title": title},
                    points=tuple(points),
                    min_value=low,
                    max_value=high,
                )
            )
        for item in _charted_items(questionnaire):
            item_points: list[tuple[datetime.date, Decimal | None]] = []
            for _qid, day, answers, _score in mine:
                try:
                    values = logic.answers_from_json(questionnaire, answers).get(item.link_id)
                except (ValueError, TypeError, AttributeError):
                    values = None
                value = values[0] if values else None
                number = (
                    Decimal(value)
                    if isinstance(value, Decimal | int) and not isinstance(value, bool)
                    else None
                )
                item_points.append((day, number))
            if all(v is None for _d, v in item_points):
                continue
            series_list.append(
                Series(
                    key=f"{qid}-{item.link_id}",
                    label=text_in(item.text, language),
                    points=tuple(item_points),
                    min_value=item.min_value if isinstance(item.min_value, Decimal) else None,
                    max_value=item.max_value if isinstance(item.max_value, Decimal) else None,
                )
            )
        for series in series_list:
            svg = render_svg(
                series,
                title=series.label,
                description=_description(series),
                lang=language,
                date_format=lambda d: formats.date_format(d, "j M"),
            )
            rows = [
                (day, "–" if value is None else str(formats.number_format(value)))
                for day, value in table_rows(series)
            ]
            charts.append(ChartView(key=series.key, title=series.label, svg=svg, rows=rows))
    return charts


def _scale_bounds(questionnaire: Questionnaire) -> tuple[Decimal | None, Decimal | None]:
    """The lowest and highest total the questionnaire can give (for the chart's y axis)."""
    scoring = questionnaire.scoring
    if scoring is None:
        return None, None
    low = high = Decimal(0)
    for link_id in scoring.items:
        item = questionnaire.item(link_id)
        if item is None:
            return None, None
        scores = [o.score for o in item.options if o.score is not None]
        if item.type == "boolean":
            scores = [Decimal(0), Decimal(1)]
        elif item.type in ("integer", "decimal"):
            if not isinstance(item.min_value, Decimal) or not isinstance(item.max_value, Decimal):
                return None, None
            scores = [item.min_value, item.max_value]
        if not scores:
            return None, None
        low += min(scores)
        high += max(scores)
    return low, high
