"""What a questionnaire is, as plain immutable data (no Django).

The shape follows FHIR R4 ``Questionnaire`` one-to-one where FHIR has a field (``linkId``,
``type``, ``required``, ``repeats``, ``answerOption``, ``enableWhen``, ``enableBehavior``,
``initial``, nested ``item``), so that a definition converts to and from FHIR without loss
(``steg.questionnaires.fhir``). What FHIR expresses with extensions (option scores, min/max
values, minimum length, hints, scoring, schedules) is kept here as plain fields.

Texts are per language: ``{"sv": "...", "en": "..."}``, one entry for each of the
questionnaire's languages.

Answers, everywhere in this package, are ``Answers``: a mapping from an item's ``linkId`` to
the tuple of its values (one value unless the item ``repeats``). The Python type of a value
depends on the item type: ``boolean`` -> bool, ``choice`` -> the option's ``code`` (str),
``open-choice`` -> an option code or the patient's own text (str), ``integer`` -> int,
``decimal`` -> Decimal, ``string``/``text`` -> str, ``date`` -> datetime.date,
``time`` -> datetime.time. ``display`` and ``group`` items take no answers. Items that are
not answered are absent from the mapping (never an empty tuple). ``linkId`` values are
unique across the whole questionnaire, nested items included.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

Texts = Mapping[str, str]
Value = bool | int | Decimal | str | datetime.date | datetime.time
Answers = Mapping[str, tuple[Value, ...]]

ITEM_TYPES = (
    "display",
    "group",
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
#: Item types that hold an answer.
ANSWER_TYPES = frozenset(ITEM_TYPES) - {"display", "group"}
#: Item types whose answers can carry a score (choice via option scores, numbers as such).
SCORABLE_TYPES = frozenset({"choice", "open-choice", "boolean", "integer", "decimal"})

ItemType = Literal[
    "display",
    "group",
    "boolean",
    "choice",
    "open-choice",
    "integer",
    "decimal",
    "string",
    "text",
    "date",
    "time",
]
Operator = Literal["exists", "=", "!=", ">", "<", ">=", "<="]
OPERATORS: tuple[Operator, ...] = ("exists", "=", "!=", ">", "<", ">=", "<=")
EnableBehavior = Literal["all", "any"]
MissingRule = Literal["refuse", "prorate", "unscored"]
ScheduleKind = Literal["once", "daily", "weekly", "offsets"]
Anchor = Literal["start", "quit_date"]

#: Default and upper limit of a string/text answer's length.
DEFAULT_MAX_LENGTH = 2000


@dataclass(frozen=True)
class AnswerOption:
    """One choice. ``code`` is what is stored (FHIR ``valueCoding.code``)."""

    code: str
    text: Texts
    score: Decimal | None = None


@dataclass(frozen=True)
class EnableWhen:
    """Show the item only when ``question``'s answer compares with ``answer``.

    ``answer`` has the Python type of the question's answers (an option code for choices);
    for ``exists`` it is a bool: True means "has an answer", False "has none".
    """

    question: str
    operator: Operator
    answer: Value


@dataclass(frozen=True)
class Item:
    link_id: str
    type: ItemType
    text: Texts
    required: bool = False
    repeats: bool = False
    options: tuple[AnswerOption, ...] = ()
    enable_when: tuple[EnableWhen, ...] = ()
    enable_behavior: EnableBehavior = "all"
    min_value: Decimal | datetime.date | None = None
    max_value: Decimal | datetime.date | None = None
    min_length: int | None = None
    max_length: int | None = None
    initial: tuple[Value, ...] = ()
    hint: Texts = field(default_factory=dict)
    items: tuple[Item, ...] = ()

    def option(self, code: str) -> AnswerOption | None:
        return next((o for o in self.options if o.code == code), None)


@dataclass(frozen=True)
class Subscale:
    key: str
    title: Texts
    items: tuple[str, ...]


@dataclass(frozen=True)
class Band:
    """An interpretation band of a scale: ``min <= score <= max`` (either end may be open)."""

    key: str
    min: Decimal | None
    max: Decimal | None
    title: Texts
    feedback: Texts


@dataclass(frozen=True)
class Flag:
    """A note to the therapist when ``scale`` (``total`` or a subscale key) is in range."""

    key: str
    scale: str
    min: Decimal | None
    max: Decimal | None
    text: Texts


@dataclass(frozen=True)
class Scoring:
    """How a response is scored.

    ``items`` are the scored items (their option score, or the number itself for integer and
    decimal items; a boolean scores 1 for yes and 0 for no). A ``reversed`` item scores
    ``lowest + highest - score``, over its options' scores (or its min and max value).
    ``missing`` says what happens when scored items are unanswered (disabled items are not
    missing): ``refuse`` - the response cannot be submitted; ``prorate`` - with at most
    ``max_missing`` missing, each scale is its mean times its number of items (rounded half
    up to ``decimals``), otherwise unscored; ``unscored`` - no score at all.
    Bands and flags apply to the total unless their ``scale`` names a subscale; bands must
    not overlap.
    """

    items: tuple[str, ...]
    reversed: tuple[str, ...] = ()
    missing: MissingRule = "refuse"
    max_missing: int = 0
    decimals: int = 0
    subscales: tuple[Subscale, ...] = ()
    bands: tuple[Band, ...] = ()
    flags: tuple[Flag, ...] = ()


@dataclass(frozen=True)
class Schedule:
    """When the questionnaire is due.

    ``once``: once, from ``start_day`` days after the anchor. ``daily``/``weekly``: every day
    (every 7 days) from ``start_day`` to ``end_day`` (inclusive; None: while the enrolment is
    active) after the anchor. ``offsets``: once at each of ``offsets`` days after the anchor
    (follow-ups). A due occurrence that was missed can still be filled in for
    ``backfill_days`` days after its day. The anchor is the enrolment's start or its quit
    date; without a quit date, nothing anchored on it is due.
    """

    kind: ScheduleKind = "once"
    anchor: Anchor = "start"
    start_day: int = 0
    end_day: int | None = None
    offsets: tuple[int, ...] = ()
    backfill_days: int = 0


@dataclass(frozen=True)
class Questionnaire:
    id: str
    title: Texts
    languages: tuple[str, ...]
    items: tuple[Item, ...]
    description: Texts = field(default_factory=dict)
    version: str = "1"
    url: str | None = None
    source: str | None = None
    scoring: Scoring | None = None
    schedule: Schedule = field(default_factory=Schedule)

    def all_items(self) -> Iterator[Item]:
        """Every item, depth first, groups before their children."""

        def walk(items: tuple[Item, ...]) -> Iterator[Item]:
            for item in items:
                yield item
                yield from walk(item.items)

        return walk(self.items)

    def item(self, link_id: str) -> Item | None:
        return next((i for i in self.all_items() if i.link_id == link_id), None)

    @property
    def is_diary(self) -> bool:
        return self.schedule.kind in ("daily", "weekly")
