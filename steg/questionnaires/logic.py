"""What a questionnaire does with answers: pure functions over plain data (no database).

* :func:`enabled_items` - which items are shown, following FHIR R4 ``enableWhen``.
* :func:`validate` - turns submitted form fields into typed :data:`Answers`, or kind
  error messages in the patient's language.
* :func:`score` - the total, subscales, interpretation band and therapist flags.
* :func:`answers_to_json` / :func:`answers_from_json` and :func:`score_as_json` /
  :func:`score_from_json` - how answers and scores are stored with a response.
* :func:`answers_to_form` - the form fields that give the answers back (to show a draft).

The form fields are named by ``linkId``; each holds a list of strings, as Django's
``QueryDict.lists()``. An open-choice item's own text comes in ``<linkId>__other`` when
its field holds :data:`OTHER` ("something else").
"""

from __future__ import annotations

import datetime
import decimal
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from django.utils import formats, translation
from django.utils.translation import gettext, ngettext

from .definition import (
    ANSWER_TYPES,
    DEFAULT_MAX_LENGTH,
    SCORABLE_TYPES,
    Answers,
    Band,
    EnableWhen,
    Flag,
    Item,
    Questionnaire,
    Scoring,
    Value,
)

__all__ = [
    "OTHER",
    "OTHER_SUFFIX",
    "ScoreResult",
    "Validation",
    "answers_from_json",
    "answers_to_form",
    "answers_to_json",
    "enabled_items",
    "score",
    "score_as_json",
    "score_from_json",
    "validate",
]

#: The value of an open-choice field meaning "my own answer, written in the text box".
OTHER = "__other__"
#: Suffix of the field holding an open-choice item's own text.
OTHER_SUFFIX = "__other"

#: Longest number we read (digits, sign and separators). Longer input is not a number.
_MAX_NUMBER_LENGTH = 30

# --------------------------------------------------------------------------- enableWhen


def enabled_items(q: Questionnaire, answers: Answers) -> frozenset[str]:
    """The linkIds of the items that are enabled (shown) with these answers.

    FHIR R4 semantics: an item is enabled when its parent is and its ``enableWhen``
    conditions hold, all of them or any of them (``enableBehavior``). A condition on a
    repeating question holds when any of its answers satisfies it (``!=``: when none of them
    equals the value, so also when it is unanswered). ``exists`` compares whether the
    question has an answer with the condition's boolean. Choices compare by option code.
    Ordering operators compare numbers, dates and times; on other values they do not hold.

    Items are evaluated in document order, and a condition sees only the answers of
    enabled items before it: a disabled question counts as unanswered, and so does a
    question that comes later (the loader refuses such references).
    """
    enabled: set[str] = set()
    seen: dict[str, tuple[Value, ...]] = {}

    def walk(items: tuple[Item, ...], parent_enabled: bool) -> None:
        for item in items:
            on = parent_enabled and _conditions_hold(item, seen)
            if on:
                enabled.add(item.link_id)
                values = answers.get(item.link_id)
                if values and item.type in ANSWER_TYPES:
                    seen[item.link_id] = tuple(values)
            walk(item.items, on)

    walk(q.items, True)
    return frozenset(enabled)


def _conditions_hold(item: Item, seen: Mapping[str, tuple[Value, ...]]) -> bool:
    if not item.enable_when:
        return True
    results = (_condition_holds(c, seen.get(c.question, ())) for c in item.enable_when)
    return any(results) if item.enable_behavior == "any" else all(results)


def _kind(value: object) -> str | None:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | Decimal):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, datetime.datetime):
        return None
    if isinstance(value, datetime.date):
        return "date"
    if isinstance(value, datetime.time):
        return "time"
    return None


_ORDERED_KINDS = frozenset({"number", "date", "time"})
_ORDERINGS: dict[str, Callable[[Any, Any], bool]] = {
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
}


def _equal(value: Value, expected: Value) -> bool:
    kind = _kind(value)
    if kind is None or kind != _kind(expected):
        return False
    try:
        return bool(value == expected)
    except (ArithmeticError, TypeError):
        return False


def _ordered(value: Value, operator: str, expected: Value) -> bool:
    kind = _kind(value)
    if kind not in _ORDERED_KINDS or kind != _kind(expected):
        return False
    try:
        return _ORDERINGS[operator](value, expected)
    except (ArithmeticError, TypeError):
        return False


def _condition_holds(condition: EnableWhen, values: tuple[Value, ...]) -> bool:
    operator, expected = condition.operator, condition.answer
    if operator == "exists":
        return isinstance(expected, bool) and bool(values) == expected
    if operator == "=":
        return any(_equal(v, expected) for v in values)
    if operator == "!=":
        return not any(_equal(v, expected) for v in values)
    if operator in _ORDERINGS:
        return any(_ordered(v, operator, expected) for v in values)
    return False


# --------------------------------------------------------------------------- validation


@dataclass(frozen=True)
class Validation:
    """What :func:`validate` found.

    ``answers`` holds the well-formed answers of enabled items (also when there are errors,
    so that a form can show which items are enabled); ``errors`` one message per linkId of
    an enabled item, in document order. Store ``answers`` only when ``errors`` is empty.
    """

    answers: dict[str, tuple[Value, ...]]
    errors: dict[str, str]

    @property
    def is_valid(self) -> bool:
        return not self.errors


class _Invalid(Exception):
    """A field's value cannot be accepted; the message is for the patient."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def validate(
    q: Questionnaire,
    data: Mapping[str, Sequence[str]],
    language: str,
    *,
    for_submit: bool = True,
) -> Validation:
    """Read submitted form fields into typed answers, checking every rule of the items.

    Refused, with a message in ``language``: unknown option codes, several values for an
    item that does not repeat, text that is not a number, date, time or yes/no, values out
    of range, text too short or too long, text that cannot be stored (NUL bytes, lone
    surrogates); when submitting (``for_submit``), also unanswered required items and, when
    the scoring refuses missing answers, unanswered scored items, and "something else"
    chosen with nothing written (in a draft, that is no answer yet). Only enabled items are
    checked and kept: answers to disabled items are dropped. Whitespace-only text is no
    answer; text is stripped, line breaks become ``\\n``. Never raises on any input.
    """
    with translation.override(language):
        parsed: dict[str, tuple[Value, ...]] = {}
        problems: dict[str, str] = {}
        for item in q.all_items():
            if item.type not in ANSWER_TYPES:
                continue
            try:
                values = _parse_item(item, data, for_submit=for_submit)
            except _Invalid as invalid:
                problems[item.link_id] = invalid.message
                continue
            if values:
                parsed[item.link_id] = values
        enabled = enabled_items(q, parsed)
        answers = {k: v for k, v in parsed.items() if k in enabled}
        if for_submit:
            problems.update(_missing_problems(q, enabled, answers, problems))
        errors = {
            item.link_id: problems[item.link_id]
            for item in q.all_items()
            if item.link_id in problems and item.link_id in enabled
        }
    return Validation(answers=answers, errors=errors)


def _missing_problems(
    q: Questionnaire,
    enabled: frozenset[str],
    answers: Mapping[str, tuple[Value, ...]],
    problems: Mapping[str, str],
) -> dict[str, str]:
    needed: set[str] = set()
    if q.scoring is not None and q.scoring.missing == "refuse":
        needed = set(q.scoring.items)
    found: dict[str, str] = {}
    for item in q.all_items():
        link_id = item.link_id
        if link_id not in enabled or link_id in problems or link_id in answers:
            continue
        if item.type in ANSWER_TYPES:
            if link_id in needed and item.type in SCORABLE_TYPES:
                found[link_id] = gettext("Answer this question: it is needed for your result.")
            elif item.required:
                found[link_id] = gettext("Answer this question.")
        elif (
            item.type == "group"
            and item.required
            and not any(child.link_id in answers for child in _descendants(item))
        ):
            found[link_id] = gettext("Answer at least one of these questions.")
    return found


def _descendants(item: Item) -> Iterable[Item]:
    for child in item.items:
        yield child
        yield from _descendants(child)


def _raw(data: Mapping[str, Sequence[str]], key: str) -> list[object]:
    values: object = data.get(key)
    if values is None:
        return []
    if isinstance(values, list | tuple):
        return list(values)
    return [values]  # a lone string (or anything else) rather than a list of them


def _cleaned(raw: list[object], message: Callable[[], str]) -> list[str]:
    """Stripped, non-empty strings; line breaks as ``\\n``. Refuses what cannot be stored."""
    cleaned = []
    for value in raw:
        if not isinstance(value, str):
            raise _Invalid(message())
        text = value.replace("\r\n", "\n").replace("\r", "\n").strip()
        if not text:
            continue
        if "\x00" in text or not _encodable(text):
            raise _Invalid(
                gettext("This answer contains a character that cannot be saved. Please remove it.")
            )
        cleaned.append(text)
    return cleaned


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates
        return False
    return True


def _parse_item(
    item: Item, data: Mapping[str, Sequence[str]], *, for_submit: bool
) -> tuple[Value, ...]:
    raw = _raw(data, item.link_id)
    if item.type in ("choice", "open-choice"):
        other = _raw(data, item.link_id + OTHER_SUFFIX)
        return _parse_choice(item, raw, other, for_submit=for_submit)
    message = _type_message(item)
    texts = _cleaned(raw, message)
    if len(texts) > 1 and not item.repeats:
        raise _Invalid(gettext("Give only one answer here."))
    return tuple(_parse_value(item, text, message) for text in texts)


def _parse_value(item: Item, text: str, message: Callable[[], str]) -> Value:
    if item.type == "boolean":
        if text in ("true", "false"):
            return text == "true"
        raise _Invalid(message())
    if item.type in ("string", "text"):
        _check_length(item, text)
        return text
    if item.type == "integer":
        number = _parse_number(text, whole=True)
        if number is None or not _in_bounds(number, *_number_bounds(item)):
            raise _Invalid(message())
        return int(number)
    if item.type == "decimal":
        number = _parse_number(text, whole=False)
        if number is None or not _in_bounds(number, *_number_bounds(item)):
            raise _Invalid(message())
        return number
    if item.type == "date":
        day = _parse_date(text)
        if day is None or not _in_bounds(day, *_date_bounds(item)):
            raise _Invalid(message())
        return day
    if item.type == "time":
        moment = _parse_time(text)
        if moment is None:
            raise _Invalid(message())
        return moment
    raise _Invalid(message())  # pragma: no cover - every answer type is handled above


def _parse_choice(
    item: Item, raw: list[object], other_raw: list[object], *, for_submit: bool
) -> tuple[Value, ...]:
    def message() -> str:
        return gettext("Choose one of the answers.")

    chosen: list[str] = []
    for value in raw:
        if not isinstance(value, str):
            raise _Invalid(message())
        if value.strip() and value not in chosen:
            chosen.append(value)
    codes = [o.code for o in item.options]
    own: list[str] = []
    if item.type == "open-choice":
        own = _cleaned(other_raw, message)
        if len(own) > 1:
            raise _Invalid(gettext("Give only one answer here."))
        if OTHER in chosen:
            chosen.remove(OTHER)
            if not own and for_submit:
                raise _Invalid(
                    gettext("Write your own answer in the box, or choose one of the answers.")
                )
        elif chosen:
            own = []  # the text box is only read when "something else" is chosen
        if own:
            _check_length(item, own[0], minimum=False)
    if any(value not in codes for value in chosen):
        raise _Invalid(message())
    if len(chosen) + len(own) > 1 and not item.repeats:
        raise _Invalid(gettext("Choose only one of the answers."))
    # One canonical order: options as listed, then the patient's own text.
    return tuple(c for c in codes if c in chosen) + tuple(own)


def _check_length(item: Item, text: str, *, minimum: bool = True) -> None:
    limit = DEFAULT_MAX_LENGTH
    if item.max_length is not None:
        limit = max(0, min(item.max_length, DEFAULT_MAX_LENGTH))
    if len(text) > limit:
        raise _Invalid(
            ngettext(
                "This answer can be at most %(max)d character long: please shorten it.",
                "This answer can be at most %(max)d characters long: please shorten it.",
                limit,
            )
            % {"max": limit}
        )
    least = item.min_length or 0
    if minimum and len(text) < least:
        raise _Invalid(
            ngettext(
                "Write at least %(min)d character.",
                "Write at least %(min)d characters.",
                least,
            )
            % {"min": least}
        )


_SPACES = "[ \u00a0\u202f]"
_GROUPED = re.compile(rf"[+-]?[0-9]{{1,3}}(?:{_SPACES}[0-9]{{3}})+(?:[.,][0-9]*)?")
_WHOLE = re.compile(r"[+-]?[0-9]+")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:[.,][0-9]*)?|[.,][0-9]+)")


def _parse_number(text: str, *, whole: bool) -> Decimal | None:
    """A number as people write it: ``2.5`` or ``2,5``, ``-3`` or ``−3``, ``1 000``."""
    if len(text) > _MAX_NUMBER_LENGTH:
        return None
    text = text.replace("\u2212", "-")
    if _GROUPED.fullmatch(text):
        text = re.sub(_SPACES, "", text)
    pattern = _WHOLE if whole else _DECIMAL
    if not pattern.fullmatch(text):
        return None
    return Decimal(text.replace(",", "."))


def _parse_date(text: str) -> datetime.date | None:
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
        return None
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        return None


def _parse_time(text: str) -> datetime.time | None:
    """``14:30`` (or ``14.30``, as often written in Swedish; ``14:30:00`` from some browsers)."""
    match = re.fullmatch(r"([0-9]{1,2})[:.]([0-9]{2})(?::00)?", text)
    if not match:
        return None
    hour, minute = int(match[1]), int(match[2])
    if hour > 23 or minute > 59:
        return None
    return datetime.time(hour, minute)


def _as_decimal(value: object) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return None
    number = Decimal(value)
    return number if number.is_finite() else None


def _number_bounds(item: Item) -> tuple[Decimal | None, Decimal | None]:
    return _as_decimal(item.min_value), _as_decimal(item.max_value)


def _as_date(value: object) -> datetime.date | None:
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        return value
    return None


def _date_bounds(item: Item) -> tuple[datetime.date | None, datetime.date | None]:
    return _as_date(item.min_value), _as_date(item.max_value)


def _in_bounds(value: Any, low: Any, high: Any) -> bool:
    return (low is None or low <= value) and (high is None or value <= high)


def _type_message(item: Item) -> Callable[[], str]:
    """What to write in a field, said once for a wrong type and a value out of range."""

    def message() -> str:
        if item.type == "boolean":
            return gettext("Choose yes or no.")
        if item.type == "integer":
            low, high = _number_bounds(item)
            return _range_message(
                low,
                high,
                formats.number_format,
                plain=gettext("Write a whole number."),
                between=gettext("Write a whole number between %(min)s and %(max)s."),
                at_least=gettext("Write a whole number of at least %(min)s."),
                at_most=gettext("Write a whole number of at most %(max)s."),
            )
        if item.type == "decimal":
            low, high = _number_bounds(item)
            return _range_message(
                low,
                high,
                formats.number_format,
                plain=gettext("Write a number."),
                between=gettext("Write a number between %(min)s and %(max)s."),
                at_least=gettext("Write a number of at least %(min)s."),
                at_most=gettext("Write a number of at most %(max)s."),
            )
        if item.type == "date":
            first, last = _date_bounds(item)
            return _range_message(
                first,
                last,
                formats.date_format,
                plain=gettext("Write a date like this: 2026-03-14."),
                between=gettext("Choose a date between %(min)s and %(max)s."),
                at_least=gettext("Choose a date on or after %(min)s."),
                at_most=gettext("Choose a date on or before %(max)s."),
            )
        if item.type == "time":
            return gettext("Write a time like this: 14:30.")
        return gettext("Write your answer as text.")

    return message


def _range_message(
    low: Any,
    high: Any,
    show: Callable[[Any], str],
    *,
    plain: str,
    between: str,
    at_least: str,
    at_most: str,
) -> str:
    if low is not None and high is not None:
        return between % {"min": show(low), "max": show(high)}
    if low is not None:
        return at_least % {"min": show(low)}
    if high is not None:
        return at_most % {"max": show(high)}
    return plain


# --------------------------------------------------------------------------- scoring


@dataclass(frozen=True)
class ScoreResult:
    """A scored (or unscorable) response.

    ``missing`` lists the enabled scored items without a score (unanswered, or answered
    with an option that has no score or the patient's own text). When ``status`` is
    ``unscored``, ``total``, every subscale and ``band`` are None and there are no flags.
    """

    status: Literal["scored", "unscored"]
    total: Decimal | None
    subscales: dict[str, Decimal | None]
    band: Band | None
    flags: tuple[Flag, ...]
    missing: tuple[str, ...]


def score(q: Questionnaire, answers: Answers) -> ScoreResult | None:
    """Score the answers by ``q.scoring`` (None when the questionnaire is not scored).

    An item scores its option's score, its number, or 1 for yes and 0 for no; a repeating
    item scores the sum of its answers' scores. A reversed item scores ``lowest + highest -
    score`` over its options' scores (its min and max value; 0 and 1 for a boolean), or as
    such when it has no such range. Only enabled scored items count; disabled ones are
    neither scored nor missing. Missing answers follow ``scoring.missing``: ``refuse`` and
    ``unscored`` leave the response unscored; ``prorate`` scales each scale up from its
    answered items (rounded half up to ``scoring.decimals``) while at most ``max_missing``
    are missing. The band is the one containing the total; the flags those whose scale lies
    in their range. Never raises.
    """
    scoring = q.scoring
    if scoring is None:
        return None
    with decimal.localcontext() as context:
        context.prec = 100
        return _score(q, scoring, answers)


def _score(q: Questionnaire, scoring: Scoring, answers: Answers) -> ScoreResult:
    enabled = enabled_items(q, answers)
    by_id = {item.link_id: item for item in q.all_items()}
    counted = [
        link_id
        for link_id in dict.fromkeys(scoring.items)
        if link_id in enabled and link_id in by_id and by_id[link_id].type in SCORABLE_TYPES
    ]
    reversed_ids = set(scoring.reversed)
    scores = {
        link_id: _item_score(
            by_id[link_id], answers.get(link_id, ()), reverse=link_id in reversed_ids
        )
        for link_id in counted
    }
    missing = tuple(link_id for link_id in counted if scores[link_id] is None)
    unscored = ScoreResult(
        status="unscored",
        total=None,
        subscales={s.key: None for s in scoring.subscales},
        band=None,
        flags=(),
        missing=missing,
    )
    if missing and (scoring.missing != "prorate" or len(missing) > scoring.max_missing):
        return unscored

    def scale(link_ids: Iterable[str]) -> Decimal | None:
        members = [scores[i] for i in dict.fromkeys(link_ids) if i in scores]
        answered = [s for s in members if s is not None]
        if not members:
            return Decimal(0)
        if not answered:
            return None
        total = sum(answered, Decimal(0))
        if len(answered) == len(members):
            return total
        prorated = total * len(members) / len(answered)
        try:
            return prorated.quantize(Decimal(1).scaleb(-scoring.decimals), ROUND_HALF_UP)
        except (ArithmeticError, ValueError, TypeError):
            return prorated

    total = scale(counted)
    if total is None:
        return unscored
    subscales = {s.key: scale(s.items) for s in scoring.subscales}
    band = next((b for b in scoring.bands if _within(total, b.min, b.max)), None)
    flags = tuple(
        f
        for f in scoring.flags
        if _within(total if f.scale == "total" else subscales.get(f.scale), f.min, f.max)
    )
    return ScoreResult(
        status="scored",
        total=total,
        subscales=subscales,
        band=band,
        flags=flags,
        missing=missing,
    )


def _within(value: Decimal | None, low: Decimal | None, high: Decimal | None) -> bool:
    if value is None:
        return False
    try:
        return _in_bounds(value, low, high)
    except (ArithmeticError, TypeError):
        return False


def _score_range(item: Item) -> tuple[Decimal, Decimal] | None:
    if item.type == "boolean":
        return Decimal(0), Decimal(1)
    if item.type in ("choice", "open-choice"):
        scores = [s for o in item.options if (s := _as_decimal(o.score)) is not None]
        return (min(scores), max(scores)) if scores else None
    low, high = _number_bounds(item)
    return (low, high) if low is not None and high is not None else None


def _value_score(item: Item, value: Value) -> Decimal | None:
    if item.type == "boolean":
        return Decimal(int(value)) if isinstance(value, bool) else None
    if item.type in ("choice", "open-choice"):
        option = item.option(value) if isinstance(value, str) else None
        return _as_decimal(option.score) if option is not None else None
    return _as_decimal(value)


def _item_score(item: Item, values: Sequence[Value], *, reverse: bool) -> Decimal | None:
    scores = [s for v in values if (s := _value_score(item, v)) is not None]
    if not scores:
        return None
    bounds = _score_range(item) if reverse else None
    if bounds is not None:
        scores = [bounds[0] + bounds[1] - s for s in scores]
    return sum(scores, Decimal(0))


def _decimal_json(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def score_as_json(result: ScoreResult) -> dict[str, Any]:
    """The result as JSON-ready data: numbers as strings, band and flags by key."""
    return {
        "status": result.status,
        "total": _decimal_json(result.total),
        "subscales": {k: _decimal_json(v) for k, v in result.subscales.items()},
        "band": result.band.key if result.band is not None else None,
        "flags": [f.key for f in result.flags],
        "missing": list(result.missing),
    }


def _decimal_from_json(value: object) -> Decimal | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"a stored score must be a string, not {value!r}")
    try:
        return Decimal(value)
    except decimal.InvalidOperation:
        raise ValueError(f"not a number: {value!r}") from None


def score_from_json(q: Questionnaire, data: Mapping[str, Any]) -> ScoreResult:
    """The inverse of :func:`score_as_json`; ValueError when it does not fit ``q``."""
    if q.scoring is None:
        raise ValueError(f"questionnaire {q.id} has no scoring")
    try:
        status = data["status"]
        if status not in ("scored", "unscored"):
            raise ValueError(f"unknown score status {status!r}")
        bands = {b.key: b for b in reversed(q.scoring.bands)}
        flags = {f.key: f for f in reversed(q.scoring.flags)}
        band_key = data.get("band")
        if band_key is not None and band_key not in bands:
            raise ValueError(f"unknown band {band_key!r}")
        unknown = [k for k in data.get("flags", []) if k not in flags]
        if unknown:
            raise ValueError(f"unknown flags {unknown!r}")
        return ScoreResult(
            status=status,
            total=_decimal_from_json(data.get("total")),
            subscales={
                str(k): _decimal_from_json(v) for k, v in dict(data.get("subscales", {})).items()
            },
            band=bands[band_key] if band_key is not None else None,
            flags=tuple(flags[k] for k in data.get("flags", [])),
            missing=tuple(str(m) for m in data.get("missing", [])),
        )
    except (KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"not a stored score: {error}") from None


# --------------------------------------------------------------------------- storage


def _time_text(value: datetime.time) -> str:
    if value.second or value.microsecond:
        return value.isoformat()
    return value.strftime("%H:%M")


def _value_to_json(value: Value) -> bool | int | str:
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime.datetime):
        raise ValueError(f"a datetime is not an answer: {value!r}")
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, datetime.time):
        return _time_text(value)
    raise ValueError(f"not an answer: {value!r}")


def answers_to_json(q: Questionnaire, answers: Answers) -> dict[str, list[Any]]:
    """Answers as JSON-ready data (Decimals and dates as strings), in document order.

    ValueError for a linkId that is not a question of ``q``.
    """
    questions = {i.link_id for i in q.all_items() if i.type in ANSWER_TYPES}
    unknown = sorted(set(answers) - questions)
    if unknown:
        raise ValueError(f"answers to unknown items: {unknown!r}")
    return {
        item.link_id: [_value_to_json(v) for v in answers[item.link_id]]
        for item in q.all_items()
        if item.link_id in answers and answers[item.link_id]
    }


def _value_from_json(item: Item, value: object) -> Value:
    kind = item.type
    if kind == "boolean" and isinstance(value, bool):
        return value
    if kind == "integer" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind in ("choice", "open-choice", "string", "text") and isinstance(value, str):
        return value
    if isinstance(value, str):
        try:
            if kind == "decimal":
                return Decimal(value)
            if kind == "date":
                return datetime.date.fromisoformat(value)
            if kind == "time":
                return datetime.time.fromisoformat(value)
        except (ValueError, decimal.InvalidOperation):
            pass
    raise ValueError(f"not a stored {kind} answer to {item.link_id}: {value!r}")


def answers_from_json(q: Questionnaire, data: Mapping[str, Any]) -> dict[str, tuple[Value, ...]]:
    """The inverse of :func:`answers_to_json`; ValueError when ``data`` does not fit ``q``."""
    items = {i.link_id: i for i in q.all_items() if i.type in ANSWER_TYPES}
    unknown = sorted(set(data) - set(items))
    if unknown:
        raise ValueError(f"answers to unknown items: {unknown!r}")
    answers: dict[str, tuple[Value, ...]] = {}
    for link_id, item in items.items():
        values = data.get(link_id)
        if values is None:
            continue
        if not isinstance(values, list):
            raise ValueError(f"answers to {link_id} must be a list, not {values!r}")
        if values:
            answers[link_id] = tuple(_value_from_json(item, v) for v in values)
    return answers


def _form_text(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime.datetime):
        return value.date().isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, datetime.time):
        return _time_text(value)
    return str(value)


def answers_to_form(q: Questionnaire, answers: Answers) -> dict[str, list[str]]:
    """The form fields that :func:`validate` reads back into these answers."""
    form: dict[str, list[str]] = {}
    for item in q.all_items():
        values = answers.get(item.link_id)
        if not values or item.type not in ANSWER_TYPES:
            continue
        if item.type == "open-choice":
            codes = {o.code for o in item.options}
            chosen = [v for v in values if isinstance(v, str) and v in codes]
            own = [_form_text(v) for v in values if not (isinstance(v, str) and v in codes)]
            if own:
                chosen.append(OTHER)
                form[item.link_id + OTHER_SUFFIX] = own
            form[item.link_id] = chosen
        else:
            form[item.link_id] = [_form_text(v) for v in values]
    return form
