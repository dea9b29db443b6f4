"""Content that adapts to the patient: attributes, conditions, and whether they hold.

A programme declares **attributes** in ``programme.yaml`` (``tobacco`` with the values
``smoking``, ``snus`` and ``both``), and blocks and pages carry a **condition** on one of them:
``tobacco:snus|both`` holds when the patient's ``tobacco`` is ``snus`` or ``both``.

An attribute's value for an enrolment is, in order:

1. ``enrolment.attributes[name]``, set by staff, when it is one of the declared values;
2. otherwise the latest submitted answer to the item named by the attribute's ``from``
   (newest day, then newest submission), when that answer is one of the declared values;
3. otherwise unknown (``None``).

**A condition on an unknown attribute holds**: until we know what applies to the patient, we
show everything. These are pure functions over plain data (no Django, no queries), used both by
the programme reader (to validate conditions) and by the web layer (to decide what to show); the
one query that reads answers is ``steg.programmes.progress.load_attribute_values``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache

__all__ = [
    "CONDITION_SYNTAX",
    "Attribute",
    "Condition",
    "ConditionError",
    "attribute_values",
    "check_condition",
    "holds",
    "is_shown",
    "parse_condition",
]

CONDITION_SYNTAX = "<attribute>:<value>[|<value>...]"
_SLUG = r"[a-z0-9]+(?:-[a-z0-9]+)*"
_CONDITION_RE = re.compile(rf"^({_SLUG}):({_SLUG}(?:\|{_SLUG})*)$")


class ConditionError(ValueError):
    """A condition that cannot be read, or names what the programme does not declare."""


@dataclass(frozen=True)
class Attribute:
    """A fact about the patient that content adapts to, as declared by a programme.

    ``questionnaire`` and ``item`` (both or neither) name the programme's own questionnaire
    and its choice item whose answer gives the value when staff have not set it.
    """

    name: str
    values: tuple[str, ...]
    questionnaire: str = ""
    item: str = ""

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {"values": list(self.values)}
        if self.questionnaire:
            data["from"] = {"questionnaire": self.questionnaire, "item": self.item}
        return data

    @classmethod
    def from_json(cls, name: str, data: Mapping[str, object]) -> Attribute:
        raw_values = data.get("values")
        values = tuple(str(v) for v in raw_values) if isinstance(raw_values, list) else ()
        source = data.get("from")
        if isinstance(source, Mapping):
            return cls(
                name, values, str(source.get("questionnaire", "")), str(source.get("item", ""))
            )
        return cls(name, values)


@dataclass(frozen=True)
class Condition:
    """``attribute`` is one of ``values``."""

    attribute: str
    values: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.attribute}:{'|'.join(self.values)}"


@lru_cache(maxsize=1024)
def parse_condition(text: str) -> Condition:
    """Read ``<attribute>:<value>[|<value>...]``; raises ConditionError when it is not that."""
    match = _CONDITION_RE.match(text)
    if match is None:
        raise ConditionError(
            f"condition '{text}' must be written {CONDITION_SYNTAX}, with lower-case letters, "
            "digits and single hyphens, no spaces (tobacco:snus|both)"
        )
    values = tuple(match.group(2).split("|"))
    for index, value in enumerate(values):
        if value in values[:index]:
            raise ConditionError(f"condition '{text}' lists the value '{value}' twice")
    return Condition(match.group(1), values)


def check_condition(text: str, attributes: Mapping[str, Iterable[str]]) -> Condition:
    """Parse ``text`` and check it against the declared ``attributes`` (name -> values).

    Raises ConditionError saying what is wrong: the syntax, an attribute the programme does
    not declare, or a value the attribute does not have.
    """
    condition = parse_condition(text)
    if condition.attribute not in attributes:
        declared = ", ".join(sorted(attributes))
        hint = (
            f"declared: {declared}"
            if declared
            else "the programme declares none: add it under 'attributes' in programme.yaml"
        )
        raise ConditionError(
            f"condition '{text}': unknown attribute '{condition.attribute}' ({hint})"
        )
    allowed = tuple(attributes[condition.attribute])
    for value in condition.values:
        if value not in allowed:
            raise ConditionError(
                f"condition '{text}': '{condition.attribute}' has no value '{value}' "
                f"(its values: {', '.join(allowed)})"
            )
    return condition


def holds(condition: Condition, values: Mapping[str, str | None]) -> bool:
    """Whether the condition holds for these attribute values; true when the value is unknown."""
    value = values.get(condition.attribute)
    return value is None or value in condition.values


def is_shown(when: str | None, values: Mapping[str, str | None]) -> bool:
    """Whether content with the condition ``when`` (empty: none) is shown.

    A condition that cannot be read holds, like one on an unknown attribute: the reader
    refuses such content at import, so this only guards against data from elsewhere.
    """
    if not when:
        return True
    try:
        condition = parse_condition(when)
    except ConditionError:
        return True
    return holds(condition, values)


def _answer_code(answers: Mapping[str, object] | None, item: str) -> str | None:
    """The single code answered to ``item`` in ``{linkId: [code, ...]}`` answers, if any."""
    if not isinstance(answers, Mapping):
        return None
    answer = answers.get(item)
    if isinstance(answer, list) and len(answer) == 1 and isinstance(answer[0], str):
        return answer[0]
    return None


def attribute_values(
    attributes: Iterable[Attribute],
    assigned: Mapping[str, object],
    answers: Mapping[str, Mapping[str, object]],
) -> dict[str, str | None]:
    """Each declared attribute's value for one enrolment, or None when it is unknown.

    ``assigned`` is ``enrolment.attributes`` (set by staff); ``answers`` holds the latest
    submitted answers (``{linkId: [code]}``) by questionnaire id. A value that is not one of
    the attribute's declared values counts as not given.
    """
    result: dict[str, str | None] = {}
    for attribute in attributes:
        value: object = assigned.get(attribute.name) if isinstance(assigned, Mapping) else None
        if value not in attribute.values and attribute.questionnaire:
            value = _answer_code(answers.get(attribute.questionnaire), attribute.item)
        result[attribute.name] = (
            value if isinstance(value, str) and value in attribute.values else None
        )
    return result
