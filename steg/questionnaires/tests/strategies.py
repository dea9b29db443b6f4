"""Hypothesis strategies: random questionnaires, valid answer sets for them, and junk input.

``questionnaires()`` draws valid definitions: every item type, options with (or without)
scores, nested groups, ``enableWhen`` on earlier questions with answers of the right type,
min/max values and lengths, and scoring with reversed items, subscales, non-overlapping
bands, flags and each rule for missing answers. ``answer_sets(q)`` draws answers that
:func:`steg.questionnaires.logic.validate` must accept as they are (only enabled items,
required ones answered); ``form_data(q)`` draws submitted fields, well-formed or not.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any, get_args

from hypothesis import strategies as st

from steg.questionnaires.definition import (
    DEFAULT_MAX_LENGTH,
    AnswerOption,
    Answers,
    Band,
    EnableBehavior,
    EnableWhen,
    Flag,
    Item,
    Operator,
    Questionnaire,
    Scoring,
    Subscale,
    Value,
)
from steg.questionnaires.logic import OTHER, OTHER_SUFFIX, answers_to_form, enabled_items
from steg.questionnaires.parse import _CODE_RE

TEXT = {"sv": "Fråga", "en": "Question"}
ANSWERABLE = (
    "boolean",
    "choice",
    "open-choice",
    "integer",
    "decimal",
    "string",
    "text",
    "date",
    "time",
)
REPEATABLE = frozenset({"choice", "open-choice", "integer", "decimal", "string", "date"})
FIRST_DAY = datetime.date(2020, 1, 1)
LAST_DAY = datetime.date(2030, 12, 31)
NUMBER_LIMIT = 10**6

# Printable characters, no line breaks or other control characters, no lone surrogates.
_letters = st.characters(exclude_categories=("Cs", "Cc", "Co", "Cn"))
codes = st.one_of(
    st.sampled_from(["0", "1", "2", "3", "a", "b", "yes", "no", "ja", "nej", "x y", "å", "1.5"]),
    st.text(_letters, min_size=1, max_size=6),
).filter(lambda c: _CODE_RE.match(c) is not None and c != OTHER)  # as the parser allows
scores = st.one_of(
    st.none(),
    st.integers(0, 4).map(Decimal),
    st.decimals(min_value=-2, max_value=5, places=1),
)
small_decimals = st.decimals(min_value=-100, max_value=100, places=1)
dates = st.dates(min_value=FIRST_DAY, max_value=LAST_DAY)
times = st.times().map(lambda t: t.replace(second=0, microsecond=0))
booleans = st.booleans()
behaviors = st.sampled_from(get_args(EnableBehavior))


def _ordered_pair(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[tuple[Any, Any]]:
    """(min, max), either of them possibly None, min <= max."""
    return st.tuples(st.none() | strategy, st.none() | strategy).map(
        lambda p: tuple(sorted(p)) if None not in p else p
    )


_integer_ranges = _ordered_pair(st.integers(-10, 20).map(Decimal))
_decimal_ranges = _ordered_pair(small_decimals)
_date_ranges = _ordered_pair(dates)
_flag_ranges = _ordered_pair(st.integers(-20, 60).map(Decimal))
_kinds = st.sampled_from([*ANSWERABLE, "display"])
_kinds_with_groups = st.sampled_from([*ANSWERABLE, "display", "group"])


def text_answers(
    minimum: int = 0, maximum: int = DEFAULT_MAX_LENGTH, *, lines: bool = False
) -> st.SearchStrategy[str]:
    """Texts that validate keeps as they are: stripped, not blank, within the lengths."""
    alphabet = st.characters(
        exclude_categories=("Cs", "Cc", "Co", "Cn"), include_characters="\n" if lines else ""
    )
    return (
        st.text(alphabet, min_size=max(1, minimum), max_size=min(maximum, 40))
        .map(str.strip)
        .filter(lambda s: max(1, minimum) <= len(s) <= maximum)
    )


@st.composite
def _options(draw: st.DrawFn) -> tuple[AnswerOption, ...]:
    option_codes = draw(st.lists(codes, min_size=1, max_size=5, unique=True))
    return tuple(AnswerOption(code=c, text=TEXT, score=draw(scores)) for c in option_codes)


@st.composite
def _condition(draw: st.DrawFn, question: Item) -> EnableWhen:
    kind = question.type
    operators: list[Operator] = ["exists", "=", "!="]
    if kind in ("integer", "decimal", "date", "time"):
        operators += [">", "<", ">=", "<="]
    operator = draw(st.sampled_from(operators))
    answer: Value
    if operator == "exists" or kind == "boolean":
        answer = draw(booleans)
    elif kind in ("choice", "open-choice"):
        answer = draw(st.sampled_from([o.code for o in question.options]))
    elif kind == "integer":
        answer = draw(st.integers(-12, 12))
    elif kind == "decimal":
        answer = draw(small_decimals)
    elif kind == "date":
        answer = draw(dates)
    elif kind == "time":
        answer = draw(times)
    else:
        answer = draw(text_answers(maximum=10))
    return EnableWhen(question=question.link_id, operator=operator, answer=answer)


@st.composite
def _question(draw: st.DrawFn, kind: str, link_id: str, conditions: tuple[EnableWhen, ...]) -> Item:
    fields: dict[str, Any] = {}
    if kind in ("choice", "open-choice"):
        fields["options"] = draw(_options())
    elif kind == "integer":
        fields["min_value"], fields["max_value"] = draw(_integer_ranges)
    elif kind == "decimal":
        fields["min_value"], fields["max_value"] = draw(_decimal_ranges)
    elif kind == "date":
        fields["min_value"], fields["max_value"] = draw(_date_ranges)
    elif kind in ("string", "text"):
        low = draw(st.none() | st.integers(0, 5))
        high = draw(st.none() | st.integers(max(low or 0, 1), 60))
        fields["min_length"], fields["max_length"] = low, high
    return Item(
        link_id=link_id,
        type=kind,  # type: ignore[arg-type]
        text=TEXT,
        required=draw(booleans),
        repeats=kind in REPEATABLE and draw(booleans),
        enable_when=conditions,
        enable_behavior=draw(behaviors),
        **fields,
    )


@st.composite
def _scoring(draw: st.DrawFn, questions: list[Item]) -> Scoring:
    candidates = [
        q.link_id
        for q in questions
        if q.type in ("boolean", "integer", "decimal", "choice", "open-choice")
    ]
    scored: tuple[str, ...] = ()
    if candidates:
        scored = tuple(
            draw(
                st.just(candidates)
                | st.lists(st.sampled_from(candidates), min_size=1, unique=True)
                | st.lists(st.sampled_from(candidates), unique=True)
            )
        )
    by_id = {q.link_id: q for q in questions}

    def has_range(link_id: str) -> bool:
        item = by_id[link_id]
        if item.type in ("choice", "open-choice"):
            return any(o.score is not None for o in item.options)
        if item.type in ("integer", "decimal"):
            return item.min_value is not None and item.max_value is not None
        return True

    reversible = [i for i in scored if has_range(i)]
    reversed_ids = (
        tuple(draw(st.lists(st.sampled_from(reversible), unique=True))) if reversible else ()
    )
    subscales = tuple(
        Subscale(
            key=f"s{n}",
            title=TEXT,
            items=tuple(draw(st.lists(st.sampled_from(scored), unique=True))) if scored else (),
        )
        for n in range(draw(st.integers(0, 2)))
    )
    cuts = sorted(draw(st.lists(st.integers(-20, 60), min_size=1, max_size=5, unique=True)))
    bands = [
        Band(key=f"b{n}", min=Decimal(low), max=Decimal(high - 1), title=TEXT, feedback=TEXT)
        for n, (low, high) in enumerate(zip(cuts, cuts[1:], strict=False))
    ]
    if draw(booleans):
        bands.append(Band("top", Decimal(cuts[-1]), None, TEXT, TEXT))
    if draw(booleans):
        bands.insert(0, Band("bottom", None, Decimal(cuts[0] - 1), TEXT, TEXT))
    scales = ["total"] + [s.key for s in subscales]
    flags = tuple(
        Flag(
            key=f"f{n}",
            scale=draw(st.sampled_from(scales)),
            min=low,
            max=high,
            text=TEXT,
        )
        for n, (low, high) in enumerate(draw(st.lists(_flag_ranges, max_size=2)))
    )
    return Scoring(
        items=scored,
        reversed=reversed_ids,
        missing=draw(st.sampled_from(["refuse", "prorate", "unscored"])),
        max_missing=draw(st.integers(0, 3)),
        decimals=draw(st.integers(0, 2)),
        subscales=subscales,
        bands=tuple(bands),
        flags=flags,
    )


@st.composite
def questionnaires(
    draw: st.DrawFn, *, max_items: int = 6, max_depth: int = 2, scored: bool | None = None
) -> Questionnaire:
    """A valid questionnaire; ``scored`` True/False forces scoring on or off."""
    prefix = draw(st.sampled_from(["q", "item-", "1.", "fråga_"]))
    counter = iter(range(1, 10_000))
    questions: list[Item] = []  # answerable items so far, in document order

    def conditions() -> tuple[EnableWhen, ...]:
        if not questions or not draw(booleans):
            return ()
        targets = draw(st.lists(st.sampled_from(questions), min_size=1, max_size=2))
        return tuple(draw(_condition(t)) for t in targets)

    def items(depth: int) -> tuple[Item, ...]:
        made = []
        for _ in range(draw(st.integers(1, max_items))):
            kind = draw(_kinds_with_groups if depth < max_depth else _kinds)
            link_id = f"{prefix}{next(counter)}"
            when = conditions()
            if kind == "group":
                behavior = draw(behaviors)
                made.append(
                    Item(
                        link_id=link_id,
                        type="group",
                        text=TEXT,
                        enable_when=when,
                        enable_behavior=behavior,
                        items=items(depth + 1),
                    )
                )
            elif kind == "display":
                made.append(Item(link_id=link_id, type="display", text=TEXT, enable_when=when))
            else:
                question = draw(_question(kind, link_id, when))
                questions.append(question)
                made.append(question)
        return tuple(made)

    top = items(0)
    with_scoring = draw(booleans) if scored is None else scored
    return Questionnaire(
        id="random",
        title=TEXT,
        languages=("sv", "en"),
        items=top,
        scoring=draw(_scoring(questions)) if with_scoring else None,
    )


def _number_range(item: Item, default: int) -> tuple[Decimal, Decimal]:
    low = item.min_value if isinstance(item.min_value, Decimal) else Decimal(-default)
    high = item.max_value if isinstance(item.max_value, Decimal) else Decimal(default)
    return low, high


@st.composite
def _values(draw: st.DrawFn, item: Item) -> tuple[Value, ...]:
    """One valid answer (several for a repeating item), in validate's canonical form."""
    count = draw(st.integers(1, 3)) if item.repeats else 1
    kind = item.type
    if kind == "boolean":
        return (draw(booleans),)
    if kind in ("choice", "open-choice"):
        option_codes = [o.code for o in item.options]
        if item.repeats:
            least = 0 if kind == "open-choice" else 1  # an open choice may be only own text
            picked = draw(
                st.lists(st.sampled_from(option_codes), unique=True, min_size=least, max_size=3)
            )
            chosen = tuple(c for c in option_codes if c in picked)
        else:
            chosen = (draw(st.sampled_from(option_codes)),)
        if kind == "open-choice" and (not chosen or draw(booleans)):
            own = draw(
                text_answers(
                    maximum=min(item.max_length or DEFAULT_MAX_LENGTH, DEFAULT_MAX_LENGTH)
                ).filter(lambda s: s not in option_codes and s != OTHER)
            )
            chosen = (*chosen, own) if item.repeats else (own,)
        return chosen
    if kind == "integer":
        low, high = _number_range(item, NUMBER_LIMIT)
        whole = st.integers(int(low), int(high))
        return tuple(draw(whole) for _ in range(count))
    if kind == "decimal":
        low, high = _number_range(item, 10_000)
        numbers = st.decimals(min_value=low, max_value=high, places=2)
        return tuple(draw(numbers) for _ in range(count))
    if kind in ("string", "text"):
        limit = min(
            DEFAULT_MAX_LENGTH if item.max_length is None else item.max_length,
            DEFAULT_MAX_LENGTH,
        )
        texts = text_answers(item.min_length or 0, limit, lines=kind == "text")
        return tuple(draw(texts) for _ in range(count))
    if kind == "date":
        first = item.min_value if isinstance(item.min_value, datetime.date) else FIRST_DAY
        last = item.max_value if isinstance(item.max_value, datetime.date) else LAST_DAY
        return tuple(draw(st.dates(first, last)) for _ in range(count))
    if kind == "time":
        return (draw(times),)
    raise AssertionError(kind)


@st.composite
def answer_sets(draw: st.DrawFn, q: Questionnaire, *, complete: bool = False) -> Answers:
    """Answers that validate accepts on submit as they are.

    Every required or (with the ``refuse`` rule) scored item is answered; others sometimes
    (always when ``complete``). Answers to items that end up disabled are left out.
    """
    needed: set[str] = set()
    if q.scoring is not None and q.scoring.missing == "refuse":
        needed = set(q.scoring.items)
    raw: dict[str, tuple[Value, ...]] = {}
    for item in q.all_items():
        if item.type in ("group", "display"):
            continue
        must = complete or item.required or item.link_id in needed
        if must or draw(booleans):
            raw[item.link_id] = draw(_values(item))
    enabled = enabled_items(q, raw)
    return {k: v for k, v in raw.items() if k in enabled}


junk_strings = st.one_of(
    st.text(max_size=20),
    st.text(st.characters(codec=None), max_size=10),
    st.sampled_from(
        [
            "",
            " ",
            "\t\n",
            "\x00",
            "a\x00b",
            "\ud800",
            "x\udfff",
            "true",
            "false",
            "True",
            "yes",
            OTHER,
            "2,5",
            "2.5",
            "-0",
            "1e9",
            "1E+999999999",
            "NaN",
            "sNaN",
            "Infinity",
            "-inf",
            "١٢",
            "12",
            "1 000",
            "1 000,5",
            "\u22123",
            ".5",
            "5.",
            "0x10",
            "99999999999999999999999999999999999999",
            "12:60",
            "24:00",
            "23:59",
            "7.05",
            "2026-02-30",
            "2026-02-28",
            "0000-01-01",
            "20260228",
            "9999-12-31",
        ]
    ),
    st.just("9" * 5000),
    st.just("x" * (DEFAULT_MAX_LENGTH + 1)),
    st.just(" " * 100_000),
)


@st.composite
def junk_form(draw: st.DrawFn, q: Questionnaire) -> dict[str, Any]:
    """Fields as a tampering client might send them: any names, any strings."""
    names = [i.link_id for i in q.all_items()]
    names += [n + OTHER_SUFFIX for n in names]
    keys = st.text(max_size=8)
    if names:
        keys = st.sampled_from(names) | st.sampled_from(names) | keys
    codes_of_q = [o.code for i in q.all_items() for o in i.options] or [""]
    values = st.lists(junk_strings | st.sampled_from(codes_of_q), min_size=1, max_size=4)
    form: dict[str, Any] = draw(st.dictionaries(keys, values | st.just([]), min_size=1, max_size=8))
    lone = draw(booleans)
    if lone:
        # A lone string, or something not a string at all, where a list belongs.
        key = draw(st.sampled_from(sorted(form)))
        form[key] = draw(junk_strings | st.sampled_from([None, 3, b"x", ["a", None]]))
    return form


@st.composite
def mutated_form(draw: st.DrawFn, q: Questionnaire) -> dict[str, Any]:
    """A well-formed answer set's fields with some of them swapped for junk."""
    form: dict[str, Any] = dict(answers_to_form(q, draw(answer_sets(q))))
    extra = draw(junk_form(q))
    for key, value in extra.items():
        if draw(st.booleans()):
            form[key] = value
    return form


def form_data(q: Questionnaire) -> st.SearchStrategy[dict[str, Any]]:
    """Any submitted fields for ``q``: valid answers, junk, or valid answers with junk."""
    return st.one_of(
        answer_sets(q).map(lambda a: answers_to_form(q, a)),
        junk_form(q),
        mutated_form(q),
    )
