"""FHIR R4 ``Questionnaire`` and ``QuestionnaireResponse``: export, and import of questionnaires.

Pure functions over plain data (no Django). ``to_fhir_questionnaire`` writes every part of a
:class:`~steg.questionnaires.definition.Questionnaire` as FHIR R4 JSON - standard elements and
standard extensions where FHIR has them, Steg extensions (a JSON payload in ``valueString``)
where it has none - so that ``from_fhir_questionnaire(to_fhir_questionnaire(q)) == q``.
``from_fhir_questionnaire`` reads a questionnaire written by any FHIR tool and refuses, with
every reason at once, whatever it cannot represent; it never drops content silently. Pure
metadata that does not change what a patient sees or how answers are scored (``publisher``,
``meta``, item ``code`` ...) is not carried over and is reported as a note instead.

Decimals (option scores, bounds, decimal answers) are :class:`~decimal.Decimal` in the returned
dicts so that nothing is rounded; write them with :func:`dumps` (JSON numbers, exactly) and read
files with ``json.loads(text, parse_float=Decimal)``. The mapping is described in
``docs/fhir.md``.
"""

from __future__ import annotations

import datetime
import json
import re
import types
import typing
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import MISSING, dataclass, fields, is_dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, TypeGuard

from steg.lib.yamldoc import SLUG_RE

from .definition import (
    ITEM_TYPES,
    OPERATORS,
    AnswerOption,
    Answers,
    EnableWhen,
    Item,
    Questionnaire,
    Schedule,
    Scoring,
    Texts,
    Value,
)

__all__ = [
    "ITEM_CONTROL",
    "ITEM_WEIGHT",
    "MAX_VALUE",
    "MIN_LENGTH",
    "MIN_VALUE",
    "ORDINAL_VALUE",
    "STEG_HINT",
    "STEG_LANGUAGES",
    "STEG_SCHEDULE",
    "STEG_SCORING",
    "STEG_SOURCE",
    "TRANSLATION",
    "FhirImportError",
    "dumps",
    "from_fhir_questionnaire",
    "to_fhir_questionnaire",
    "to_fhir_response",
]

_HL7 = "http://hl7.org/fhir/StructureDefinition/"
TRANSLATION = _HL7 + "translation"
ITEM_WEIGHT = _HL7 + "itemWeight"
ORDINAL_VALUE = _HL7 + "ordinalValue"
MIN_VALUE = _HL7 + "minValue"
MAX_VALUE = _HL7 + "maxValue"
MIN_LENGTH = _HL7 + "minLength"
ITEM_CONTROL = _HL7 + "questionnaire-itemControl"
ITEM_CONTROL_SYSTEM = "http://hl7.org/fhir/questionnaire-item-control"

_STEG = "https://steg.example/fhir/StructureDefinition/"
#: The questionnaire's languages in order (JSON list), when it has more than one.
STEG_LANGUAGES = _STEG + "questionnaire-languages"
#: ``Scoring`` as JSON.
STEG_SCORING = _STEG + "questionnaire-scoring"
#: ``Schedule`` as JSON, when it is not the default (once, at the start).
STEG_SCHEDULE = _STEG + "questionnaire-schedule"
#: Where the instrument comes from (plain text).
STEG_SOURCE = _STEG + "questionnaire-source"
#: The hint of a display item as JSON ``{language: text}`` (display items cannot have children).
STEG_HINT = _STEG + "item-hint"

#: itemControl codes read as a hint (the first is written).
_HINT_CONTROLS = ("flyover", "help")
_HINT_SUFFIX = ".hint"

#: Questionnaire elements that are metadata only: not carried over, reported as notes.
_NOTED_ROOT_FIELDS = (
    "meta",
    "text",
    "identifier",
    "derivedFrom",
    "status",
    "experimental",
    "subjectType",
    "date",
    "publisher",
    "contact",
    "useContext",
    "jurisdiction",
    "purpose",
    "copyright",
    "approvalDate",
    "lastReviewDate",
    "effectivePeriod",
    "code",
)
_ROOT_FIELDS = frozenset(
    {
        "resourceType",
        "id",
        "language",
        "extension",
        "url",
        "version",
        "name",
        "title",
        "_title",
        "description",
        "_description",
        "item",
        "modifierExtension",
        *_NOTED_ROOT_FIELDS,
    }
)
_ITEM_FIELDS = frozenset(
    {
        "id",
        "extension",
        "modifierExtension",
        "linkId",
        "text",
        "_text",
        "type",
        "required",
        "repeats",
        "readOnly",
        "maxLength",
        "enableWhen",
        "enableBehavior",
        "answerOption",
        "initial",
        "item",
        "code",
        "definition",
    }
)
_TIME_RE = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?$")
_DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_VALUE_SUFFIXES = {
    "Boolean": "boolean",
    "Integer": "integer",
    "Decimal": "decimal",
    "String": "string",
    "Date": "date",
    "Time": "time",
    "Coding": "coding",
}


class FhirImportError(Exception):
    """The FHIR resource cannot be imported; ``reasons`` lists everything found, one per line."""

    def __init__(self, reasons: Sequence[str]) -> None:
        self.reasons: list[str] = list(reasons)
        super().__init__("\n".join(self.reasons))


# --------------------------------------------------------------------------------------------
# Export


def to_fhir_questionnaire(q: Questionnaire, *, language: str | None = None) -> dict[str, Any]:
    """``q`` as a FHIR R4 Questionnaire; texts in ``language`` (default: the first of
    ``q.languages``), the other languages as ``translation`` extensions."""
    primary = language or q.languages[0]
    if primary not in q.languages:
        raise ValueError(f"{primary!r} is not one of the questionnaire's languages")
    writer = _Writer(q, primary)
    resource: dict[str, Any] = {"resourceType": "Questionnaire", "id": q.id, "language": primary}
    extensions: list[dict[str, Any]] = []
    if len(q.languages) > 1:
        extensions.append({"url": STEG_LANGUAGES, "valueString": _json(list(q.languages))})
    if q.source is not None:
        extensions.append({"url": STEG_SOURCE, "valueString": q.source})
    if q.scoring is not None:
        extensions.append({"url": STEG_SCORING, "valueString": _json(_to_plain(q.scoring))})
    if q.schedule != Schedule():
        extensions.append({"url": STEG_SCHEDULE, "valueString": _json(_to_plain(q.schedule))})
    if extensions:
        resource["extension"] = extensions
    if q.url is not None:
        resource["url"] = q.url
    resource["version"] = q.version
    resource["name"] = _name_from_id(q.id)
    writer.put_texts(resource, "title", q.title)
    resource["status"] = "active"
    if q.description:
        writer.put_texts(resource, "description", q.description)
    resource["item"] = [writer.item(item) for item in q.items]
    return resource


def to_fhir_response(
    q: Questionnaire,
    answers: Answers,
    *,
    response_id: str,
    status: Literal["in-progress", "completed"],
    authored: datetime.datetime,
    subject_reference: str | None = None,
    language: str,
) -> dict[str, Any]:
    """``answers`` to ``q`` as a FHIR R4 QuestionnaireResponse. Items are nested as in ``q``;
    unanswered questions, display items and groups without answers are left out. Option
    displays are in ``language`` (or the questionnaire's first language)."""
    if authored.utcoffset() is None:
        raise ValueError("authored must be an aware datetime")
    known = {item.link_id for item in q.all_items()}
    unknown = sorted(set(answers) - known)
    if unknown:
        raise ValueError(f"answers to items the questionnaire does not have: {unknown}")
    canonical = f"{q.url}|{q.version}" if q.url else f"Questionnaire/{q.id}"
    resource: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "id": response_id,
        "language": language,
        "questionnaire": canonical,
        "status": status,
    }
    if subject_reference is not None:
        resource["subject"] = {"reference": subject_reference}
    resource["authored"] = authored.isoformat()
    items = _response_items(q, q.items, answers, language)
    if items:
        resource["item"] = items
    return resource


def _response_items(
    q: Questionnaire, items: tuple[Item, ...], answers: Answers, language: str
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for item in items:
        if item.type == "display":
            continue
        children = _response_items(q, item.items, answers, language)
        values = answers.get(item.link_id, ())
        entry: dict[str, Any] = {"linkId": item.link_id}
        text = _in_language(item.text, language, q.languages)
        if text:
            entry["text"] = text
        if item.type == "group":
            if children:
                entry["item"] = children
                out.append(entry)
            continue
        if not values:
            # FHIR nests a question's children under its answers; without one they cannot be
            # placed, and they cannot have been enabled by it either.
            continue
        entry["answer"] = [
            _element(*_typed_value("value", value, item, language, q.languages)) for value in values
        ]
        if children:
            for answer in entry["answer"]:
                answer["item"] = children
        out.append(entry)
    return out


class _Writer:
    def __init__(self, q: Questionnaire, primary: str) -> None:
        self.q = q
        self.primary = primary
        self.order = (primary, *(lang for lang in q.languages if lang != primary))
        self.items = {item.link_id: item for item in q.all_items()}
        self.used_ids = set(self.items)

    def put_texts(self, target: dict[str, Any], key: str, texts: Texts) -> None:
        if self.primary in texts:
            target[key] = texts[self.primary]
        others = [lang for lang in self.order[1:] if lang in texts]
        others += sorted(lang for lang in texts if lang not in self.order)
        if others:
            target["_" + key] = {
                "extension": [
                    {
                        "url": TRANSLATION,
                        "extension": [
                            {"url": "lang", "valueCode": lang},
                            {"url": "content", "valueString": texts[lang]},
                        ],
                    }
                    for lang in others
                ]
            }

    def item(self, item: Item) -> dict[str, Any]:
        out: dict[str, Any] = {"linkId": item.link_id}
        extensions: list[dict[str, Any]] = []
        for url, bound in ((MIN_VALUE, item.min_value), (MAX_VALUE, item.max_value)):
            if bound is not None:
                extensions.append({"url": url, **_element(*_bound_value(bound, item.type))})
        if item.min_length is not None:
            extensions.append({"url": MIN_LENGTH, "valueInteger": item.min_length})
        if item.hint and item.type == "display":
            extensions.append({"url": STEG_HINT, "valueString": _json(dict(item.hint))})
        if extensions:
            out["extension"] = extensions
        self.put_texts(out, "text", item.text)
        out["type"] = item.type
        if item.enable_when:
            out["enableWhen"] = [self.enable_when(ew) for ew in item.enable_when]
        if len(item.enable_when) > 1 or item.enable_behavior != "all":
            out["enableBehavior"] = item.enable_behavior
        if item.required:
            out["required"] = True
        if item.repeats:
            out["repeats"] = True
        if item.max_length is not None:
            out["maxLength"] = item.max_length
        selected = self._initial_selected(item)
        if item.options:
            out["answerOption"] = [
                self.option(option, option.code in selected) for option in item.options
            ]
        if item.initial and not selected:
            out["initial"] = [
                _element(*_typed_value("value", value, item, None, self.q.languages))
                for value in item.initial
            ]
        children = [self.item(child) for child in item.items]
        if item.hint and item.type != "display":
            children.insert(0, self.hint(item))
        if children:
            out["item"] = children
        return out

    def _initial_selected(self, item: Item) -> set[str]:
        """Initial options as ``initialSelected`` (R4 forbids ``initial`` next to
        ``answerOption``), when that says the same: distinct option codes in option order."""
        codes = [option.code for option in item.options]
        initial = list(item.initial)
        if (
            not initial
            or not all(isinstance(value, str) and value in codes for value in initial)
            or [code for code in codes if code in initial] != initial
        ):
            return set()
        return {str(value) for value in initial}

    def option(self, option: AnswerOption, selected: bool) -> dict[str, Any]:
        coding: dict[str, Any] = {"code": option.code}
        self.put_texts(coding, "display", option.text)
        out: dict[str, Any] = {}
        if option.score is not None:
            out["extension"] = [{"url": ITEM_WEIGHT, "valueDecimal": option.score}]
        out["valueCoding"] = coding
        if selected:
            out["initialSelected"] = True
        return out

    def enable_when(self, ew: EnableWhen) -> dict[str, Any]:
        out: dict[str, Any] = {"question": ew.question, "operator": ew.operator}
        question = self.items.get(ew.question)
        if ew.operator == "exists" or question is None:
            key, value = _typed_value("answer", ew.answer, None, None, self.q.languages)
        else:
            key, value = _typed_value("answer", ew.answer, question, None, self.q.languages)
        out[key] = value
        return out

    def hint(self, item: Item) -> dict[str, Any]:
        link_id = item.link_id + _HINT_SUFFIX
        n = 1
        while link_id in self.used_ids:
            n += 1
            link_id = f"{item.link_id}{_HINT_SUFFIX}-{n}"
        self.used_ids.add(link_id)
        out: dict[str, Any] = {
            "linkId": link_id,
            "extension": [
                {
                    "url": ITEM_CONTROL,
                    "valueCodeableConcept": {
                        "coding": [{"system": ITEM_CONTROL_SYSTEM, "code": _HINT_CONTROLS[0]}]
                    },
                }
            ],
        }
        self.put_texts(out, "text", item.hint)
        out["type"] = "display"
        return out


def _typed_value(
    prefix: str,
    value: Value,
    item: Item | None,
    language: str | None,
    languages: tuple[str, ...],
) -> tuple[str, Any]:
    """``(prefix + FHIR type, JSON value)`` for one answer value. Strings are codings for
    choice items (and for open-choice items when they are option codes); a coding gets a
    display when ``language`` is given."""
    if isinstance(value, bool):
        return prefix + "Boolean", value
    if isinstance(value, int):
        if item is not None and item.type == "decimal":
            return prefix + "Decimal", Decimal(value)
        return prefix + "Integer", value
    if isinstance(value, Decimal):
        return prefix + "Decimal", value
    if isinstance(value, datetime.time):
        return prefix + "Time", _time(value)
    if isinstance(value, datetime.date):
        return prefix + "Date", value.isoformat()
    if item is not None and item.type in ("choice", "open-choice"):
        option = item.option(value)
        if option is not None or item.type == "choice":
            coding: dict[str, Any] = {"code": value}
            if option is not None and language is not None:
                display = _in_language(option.text, language, languages)
                if display:
                    coding["display"] = display
            return prefix + "Coding", coding
    return prefix + "String", value


def _element(key: str, value: Any) -> dict[str, Any]:
    return {key: value}


def _bound_value(bound: Decimal | datetime.date, item_type: str) -> tuple[str, Any]:
    if isinstance(bound, datetime.date):
        return "valueDate", bound.isoformat()
    if item_type == "integer" and bound == bound.to_integral_value():
        return "valueInteger", int(bound)
    return "valueDecimal", bound


def _time(value: datetime.time) -> str:
    return value.isoformat(timespec="microseconds" if value.microsecond else "seconds")


def _in_language(texts: Texts, language: str, languages: tuple[str, ...]) -> str | None:
    if language in texts:
        return texts[language]
    return next((texts[lang] for lang in languages if lang in texts), None)


def _name_from_id(qid: str) -> str:
    """A computer-friendly FHIR ``name`` (``[A-Z][A-Za-z0-9_]*``) from a slug."""
    name = "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", qid))
    return name if name[:1].isalpha() else "Q" + name


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _to_plain(value: object) -> Any:
    """A Steg dataclass as JSON-ready data (Decimals as strings, so that nothing rounds)."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _to_plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, tuple | list):
        return [_to_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _to_plain(v) for k, v in value.items()}
    if isinstance(value, Decimal):
        return str(value)
    return value


def dumps(resource: Mapping[str, Any], *, indent: int = 2) -> str:
    """A resource as JSON text, Decimals written exactly as JSON numbers."""
    return _encode(resource, indent, 0) + "\n"


def _encode(value: object, indent: int, level: int) -> str:
    inner = "\n" + " " * (indent * (level + 1))
    outer = "\n" + " " * (indent * level)
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        parts = [
            f"{json.dumps(str(k), ensure_ascii=False)}: {_encode(v, indent, level + 1)}"
            for k, v in value.items()
        ]
        return "{" + inner + ("," + inner).join(parts) + outer + "}"
    if isinstance(value, list | tuple):
        if not value:
            return "[]"
        parts = [_encode(v, indent, level + 1) for v in value]
        return "[" + inner + ("," + inner).join(parts) + outer + "]"
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a JSON number")
        return str(value)
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


# --------------------------------------------------------------------------------------------
# Import


def from_fhir_questionnaire(data: object, *, notes: list[str] | None = None) -> Questionnaire:
    """A FHIR R4 Questionnaire (parsed JSON) as a valid Steg questionnaire.

    Raises :class:`FhirImportError` listing everything that cannot be represented. When the
    FHIR side is clean, the result must also pass Steg's own checks (those a questionnaire
    file gets: at least two options, ``repeats`` only where Steg allows it ...); their
    problems are the reasons then. Metadata that is not carried over is appended to ``notes``
    when given.
    """
    q, found = _read_questionnaire(data)
    problems = _steg_problems(q)
    if problems:
        raise FhirImportError(problems)
    if notes is not None:
        notes.extend(found)
    return q


def _read_questionnaire(data: object) -> tuple[Questionnaire, list[str]]:
    """The FHIR side of the import (without Steg's own checks): the questionnaire and notes."""
    if not isinstance(data, Mapping):
        raise FhirImportError(["the file is not a FHIR resource (a JSON object)"])
    if data.get("resourceType") != "Questionnaire":
        found = data.get("resourceType")
        what = f"a {found}" if isinstance(found, str) and found else "no resourceType"
        raise FhirImportError([f"the resource is not a FHIR Questionnaire (it has {what})"])
    reader = _Reader(data)
    q = reader.questionnaire(data)
    if reader.reasons or q is None:
        raise FhirImportError(reader.reasons or ["the questionnaire cannot be imported"])
    return q, reader.notes


def _steg_problems(q: Questionnaire) -> list[str]:
    """What the checks of a questionnaire file find in ``q``, written as one and read back."""
    from steg.lib.yamldoc import Problems

    from .parse import dump_questionnaire, parse_questionnaire

    problems = Problems()
    checked = parse_questionnaire(f"{q.id}.yaml", dump_questionnaire(q), None, problems)
    if checked is None and not problems.items:  # pragma: no cover - parse reports its refusals
        return ["the questionnaire does not pass Steg's checks"]
    return [problem.message for problem in problems.items]


def _walk(value: object) -> Iterator[Mapping[str, Any]]:
    if isinstance(value, Mapping):
        yield value
        for child in value.values():
            yield from _walk(child)
    elif isinstance(value, list):
        for child in value:
            yield from _walk(child)


def _slug_from_name(name: str) -> str:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", name)
    return re.sub(r"[^a-z0-9]+", "-", spaced.lower()).strip("-")


@dataclass(frozen=True)
class _Hint:
    """A child display item with itemControl flyover (or help): its parent's hint."""

    text: Texts


class _Reader:
    def __init__(self, data: Mapping[str, Any]) -> None:
        self.reasons: list[str] = []
        self.notes: list[str] = []
        language = data.get("language", "en")
        if not isinstance(language, str) or not language:
            self.reasons.append("language must be a language code such as 'en'")
            language = "en"
        self.primary: str = language
        self.languages = self._languages(data)
        self.all_ids = self._all_link_ids(data.get("item"))
        #: Items read so far (document order): an enableWhen may only refer to these.
        self.before: dict[str, Item] = {}

    # -- languages and link ids, read up front so that every check can use them ------------

    def _languages(self, data: Mapping[str, Any]) -> tuple[str, ...]:
        seen = [self.primary]
        for element in _walk(data):
            if element.get("url") == TRANSLATION:
                lang = _sub_value(element, "lang", ("valueCode", "valueString"))
                if isinstance(lang, str) and lang and lang not in seen:
                    seen.append(lang)
        declared = None
        for extension in _list(data.get("extension")):
            if isinstance(extension, Mapping) and extension.get("url") == STEG_LANGUAGES:
                declared = self._json_payload(extension, "the questionnaire's languages")
        if declared is None:
            return tuple(seen)
        if (
            not isinstance(declared, list)
            or not declared
            or not all(isinstance(lang, str) and lang for lang in declared)
            or len(set(declared)) != len(declared)
        ):
            self.reasons.append(f"{STEG_LANGUAGES} must be a JSON list of distinct language codes")
            return tuple(seen)
        undeclared = [lang for lang in seen if lang not in declared]
        if undeclared:
            self.reasons.append(
                f"texts in {', '.join(map(repr, undeclared))}, which {STEG_LANGUAGES} does not list"
            )
        return tuple(declared)

    def _all_link_ids(self, items: object) -> dict[str, int]:
        counts: dict[str, int] = {}
        for element in _walk(items):
            link_id = element.get("linkId")
            if isinstance(link_id, str):
                counts[link_id] = counts.get(link_id, 0) + 1
        for link_id, count in counts.items():
            if count > 1:
                self.reasons.append(f"linkId {link_id!r} is used by {count} items")
        return counts

    # -- the resource --------------------------------------------------------------------

    def questionnaire(self, data: Mapping[str, Any]) -> Questionnaire | None:
        for key in data:
            if key not in _ROOT_FIELDS:
                self.reasons.append(f"the Questionnaire element {key!r} is not supported")
        noted = [
            key
            for key in _NOTED_ROOT_FIELDS
            if key in data and not (key == "status" and data[key] == "active")
        ]
        if noted:
            self.notes.append(f"not carried over (metadata): {', '.join(noted)}")
        qid = self._id(data)
        version = data.get("version", "1")
        if not isinstance(version, str) or not version:
            self.reasons.append("version must be text")
            version = "1"
        url = data.get("url")
        if url is not None and (not isinstance(url, str) or not url):
            self.reasons.append("url must be text")
            url = None
        title = self.texts(data, "title", "the questionnaire's title", required=True)
        description = self.texts(
            data, "description", "the questionnaire's description", required=False
        )
        source, scoring, schedule = self._root_extensions(data)
        raw_items = data.get("item")
        if not isinstance(raw_items, list) or not raw_items:
            self.reasons.append("the questionnaire has no items")
            raw_items = []
        items = self.items(raw_items, "item")
        if qid is None:
            return None
        return Questionnaire(
            id=qid,
            title=title,
            languages=self.languages,
            items=items,
            description=description,
            version=version,
            url=url,
            source=source,
            scoring=scoring,
            schedule=schedule,
        )

    def _id(self, data: Mapping[str, Any]) -> str | None:
        raw_id = data.get("id")
        if raw_id is not None:
            if isinstance(raw_id, str) and SLUG_RE.match(raw_id):
                return raw_id
            self.reasons.append(
                f"id {raw_id!r} is not a Steg identifier (lower-case letters, digits and "
                f"single hyphens, e.g. {_slug_from_name(str(raw_id)) or 'phq-9'!r})"
            )
            return None
        name = data.get("name")
        if isinstance(name, str) and SLUG_RE.match(_slug_from_name(name)):
            return _slug_from_name(name)
        self.reasons.append(
            "the questionnaire needs an id (lower-case letters, digits and single hyphens) "
            "or a name to make one from"
        )
        return None

    def _root_extensions(
        self, data: Mapping[str, Any]
    ) -> tuple[str | None, Scoring | None, Schedule]:
        source: str | None = None
        scoring: Scoring | None = None
        schedule = Schedule()
        unknown: list[str] = []
        for extension in self.extensions(data, "the questionnaire"):
            url = extension["url"]
            if url == STEG_LANGUAGES:
                continue  # read up front
            if url == STEG_SOURCE:
                value = extension.get("valueString")
                if isinstance(value, str) and value:
                    source = value
                else:
                    self.reasons.append(f"{STEG_SOURCE} needs a valueString")
            elif url == STEG_SCORING:
                payload = self._json_payload(extension, "scoring")
                if payload is not None:
                    scoring = _from_plain(Scoring, payload, "scoring", self.reasons)
            elif url == STEG_SCHEDULE:
                payload = self._json_payload(extension, "schedule")
                if payload is not None:
                    schedule = (
                        _from_plain(Schedule, payload, "schedule", self.reasons) or Schedule()
                    )
            else:
                unknown.append(url)
        if unknown:
            self.reasons.append(
                f"the questionnaire has unsupported extensions: {', '.join(unknown)}"
            )
        return source, scoring, schedule

    def _json_payload(self, extension: Mapping[str, Any], what: str) -> Any:
        raw = extension.get("valueString")
        if not isinstance(raw, str):
            self.reasons.append(f"{extension.get('url')} needs a valueString holding JSON")
            return None
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            self.reasons.append(f"{what}: the JSON in {extension.get('url')} is invalid ({exc})")
            return None

    def extensions(self, element: Mapping[str, Any], where: str) -> list[Mapping[str, Any]]:
        """The element's extensions that have a url; refuses modifier extensions."""
        if "modifierExtension" in element:
            urls = [
                str(e.get("url"))
                for e in _list(element["modifierExtension"])
                if isinstance(e, dict)
            ]
            self.reasons.append(
                f"{where} has modifier extensions, which Steg cannot honour: "
                f"{', '.join(urls) or '(no url)'}"
            )
        result = []
        raw = element.get("extension", [])
        if not isinstance(raw, list):
            self.reasons.append(f"{where}: extension must be a list")
            return []
        for extension in raw:
            if isinstance(extension, Mapping) and isinstance(extension.get("url"), str):
                result.append(extension)
            else:
                self.reasons.append(f"{where} has an extension without a url")
        return result

    # -- texts -----------------------------------------------------------------------------

    def texts(
        self, element: Mapping[str, Any], key: str, where: str, *, required: bool
    ) -> dict[str, str]:
        texts: dict[str, str] = {}
        value = element.get(key)
        if value is not None:
            if isinstance(value, str) and value:
                texts[self.primary] = value
            else:
                self.reasons.append(f"{where} must be text")
        holder = element.get("_" + key)
        if holder is not None:
            if not isinstance(holder, Mapping):
                self.reasons.append(f"{where}: _{key} must be an object")
                holder = {}
            for extra in holder:
                if extra != "extension":
                    self.reasons.append(f"{where}: _{key}.{extra} is not supported")
            unknown: list[str] = []
            for extension in self.extensions(holder, where):
                if extension["url"] != TRANSLATION:
                    unknown.append(extension["url"])
                    continue
                lang = _sub_value(extension, "lang", ("valueCode", "valueString"))
                content = _sub_value(extension, "content", ("valueString", "valueMarkdown"))
                if not isinstance(lang, str) or not lang:
                    self.reasons.append(f"{where}: a translation has no lang")
                elif not isinstance(content, str) or not content:
                    self.reasons.append(f"{where}: the {lang!r} translation has no content")
                elif lang in texts:
                    self.reasons.append(f"{where} has two {lang!r} texts")
                else:
                    texts[lang] = content
            if unknown:
                self.reasons.append(f"{where}: unsupported text extensions: {', '.join(unknown)}")
        if not texts:
            if required:
                self.reasons.append(f"{where} has no text")
            return texts
        missing = [lang for lang in self.languages if lang not in texts]
        if missing:
            self.reasons.append(f"{where} has no text in {', '.join(map(repr, missing))}")
        return texts

    # -- items -----------------------------------------------------------------------------

    def items(self, raw_items: list[Any], path: str) -> tuple[Item, ...]:
        result: list[Item] = []
        for index, raw in enumerate(raw_items):
            item = self.item(raw, f"{path}[{index}]")
            if isinstance(item, Item):
                result.append(item)
        return tuple(result)

    def item(self, raw: object, path: str, *, hint_of: str | None = None) -> Item | _Hint | None:
        if not isinstance(raw, Mapping):
            self.reasons.append(f"{path} is not an item (a JSON object)")
            return None
        link_id = raw.get("linkId")
        if not isinstance(link_id, str) or not link_id:
            self.reasons.append(f"{path} has no linkId")
            link_id = None
        where = f"item {link_id!r}" if link_id else path
        for key in raw:
            if key not in _ITEM_FIELDS:
                what = (
                    "answerValueSet is not supported (list the options as answerOption)"
                    if key == "answerValueSet"
                    else f"the element {key!r} is not supported"
                )
                self.reasons.append(f"{where}: {what}")
        noted = [key for key in ("code", "definition") if key in raw]
        if noted:
            self.notes.append(f"{where}: not carried over (metadata): {', '.join(noted)}")
        if raw.get("readOnly") not in (None, False):
            self.reasons.append(f"{where}: readOnly items are not supported")

        item_type = raw.get("type")
        if item_type not in ITEM_TYPES:
            if item_type is None:
                self.reasons.append(f"{where} has no type")
            else:
                self.reasons.append(
                    f"{where} has type {item_type!r}, which Steg does not support "
                    f"(supported: {', '.join(ITEM_TYPES)})"
                )
            item_type = None

        text = self.texts(raw, "text", where, required=item_type != "group")
        required = self._flag(raw, "required", where)
        repeats = self._flag(raw, "repeats", where)
        max_length = raw.get("maxLength")
        if max_length is not None and not (_is_int(max_length) and max_length > 0):
            self.reasons.append(f"{where}: maxLength must be a positive integer")
            max_length = None

        min_value: Decimal | datetime.date | None = None
        max_value: Decimal | datetime.date | None = None
        min_length: int | None = None
        hint: dict[str, str] = {}
        is_hint = False
        unknown: list[str] = []
        for extension in self.extensions(raw, where):
            url = extension["url"]
            if url in (MIN_VALUE, MAX_VALUE):
                bound = self._bound(extension, item_type, where)
                if url == MIN_VALUE:
                    min_value = bound
                else:
                    max_value = bound
            elif url == MIN_LENGTH:
                value = extension.get("valueInteger")
                if _is_int(value) and value >= 0:
                    min_length = value
                else:
                    self.reasons.append(f"{where}: minLength needs a non-negative valueInteger")
            elif url == ITEM_CONTROL:
                control = _item_control(extension)
                if hint_of is not None and item_type == "display" and control in _HINT_CONTROLS:
                    is_hint = True
                else:
                    self.reasons.append(
                        f"{where}: itemControl {control or '(no code)'!r} is not supported "
                        f"(only a 'flyover' display item inside a question, read as its hint)"
                    )
            elif url == STEG_HINT and item_type == "display":
                payload = self._json_payload(extension, f"{where}: hint")
                if payload is not None:
                    hint = dict(_from_plain(Texts, payload, f"{where}: hint", self.reasons) or {})
            else:
                unknown.append(url)
        if unknown:
            self.reasons.append(f"{where} has unsupported extensions: {', '.join(unknown)}")

        enable_when = self._enable_when(raw, where, link_id)
        enable_behavior = raw.get("enableBehavior", "all")
        if enable_behavior not in ("all", "any"):
            self.reasons.append(f"{where}: enableBehavior must be 'all' or 'any'")
            enable_behavior = "all"

        options, selected = self._options(raw, item_type, where)
        initial = self._initial(raw, where) + tuple(selected)

        # Register before the children: a child may depend on its parent question.
        if link_id is not None and item_type is not None:
            placeholder = Item(link_id, item_type, text, options=options)
            self.before.setdefault(link_id, placeholder)

        children: list[Item] = []
        raw_children = raw.get("item", [])
        if not isinstance(raw_children, list):
            self.reasons.append(f"{where}: item must be a list")
            raw_children = []
        for index, raw_child in enumerate(raw_children):
            child = self.item(raw_child, f"{path}.item[{index}]", hint_of=link_id or path)
            if child is None:
                continue
            if isinstance(child, _Hint):
                if hint:
                    self.reasons.append(f"{where} has more than one hint")
                hint = dict(child.text)
            else:
                children.append(child)
        if is_hint:
            leftovers = [
                name
                for name, value in (
                    ("enableWhen", enable_when),
                    ("required", required),
                    ("repeats", repeats),
                    ("item", children),
                    ("hint", hint),
                )
                if value
            ]
            if leftovers:
                self.reasons.append(f"{where}: a hint cannot have {', '.join(leftovers)}")
            return _Hint(text)

        if link_id is None or item_type is None:
            return None
        return Item(
            link_id=link_id,
            type=item_type,
            text=text,
            required=required,
            repeats=repeats,
            options=options,
            enable_when=enable_when,
            enable_behavior=enable_behavior,
            min_value=min_value,
            max_value=max_value,
            min_length=min_length,
            max_length=max_length,
            initial=initial,
            hint=hint,
            items=tuple(children),
        )

    def _flag(self, raw: Mapping[str, Any], key: str, where: str) -> bool:
        value = raw.get(key, False)
        if not isinstance(value, bool):
            self.reasons.append(f"{where}: {key} must be true or false")
            return False
        return value

    def _bound(
        self, extension: Mapping[str, Any], item_type: str | None, where: str
    ) -> Decimal | datetime.date | None:
        name = "minValue" if extension["url"] == MIN_VALUE else "maxValue"
        if item_type == "date" and "valueDate" in extension:
            return self._value("date", extension["valueDate"], f"{where}: {name}")
        if item_type in ("integer", "decimal"):
            for key in ("valueInteger", "valueDecimal"):
                if key in extension:
                    value = self._value(
                        "decimal" if key == "valueDecimal" else "integer",
                        extension[key],
                        f"{where}: {name}",
                    )
                    return None if value is None else Decimal(value)
        self.reasons.append(
            f"{where}: {name} must be a valueInteger or valueDecimal on a number item, or a "
            f"valueDate on a date item"
        )
        return None

    def _value(self, kind: str, raw: object, where: str) -> Any:
        """A FHIR JSON primitive of ``kind`` as its Steg value, or None with a reason."""
        if kind == "boolean" and isinstance(raw, bool):
            return raw
        if kind == "integer" and _is_int(raw):
            return raw
        if (
            kind == "decimal"
            and isinstance(raw, int | float | Decimal)
            and not isinstance(raw, bool)
        ):
            value = Decimal(repr(raw)) if isinstance(raw, float) else Decimal(raw)
            if value.is_finite():
                return value
        if kind == "string" and isinstance(raw, str) and raw:
            return raw
        if kind == "date" and isinstance(raw, str) and _DATE_RE.match(raw):
            try:
                return datetime.date.fromisoformat(raw)
            except ValueError:
                pass
        if kind == "time" and isinstance(raw, str) and _TIME_RE.match(raw):
            return datetime.time.fromisoformat(raw)
        if kind == "coding" and isinstance(raw, Mapping):
            code = raw.get("code")
            if isinstance(code, str) and code:
                return code
            self.reasons.append(f"{where}: the coding has no code")
            return None
        self.reasons.append(f"{where}: {raw!r} is not a valid FHIR {kind}")
        return None

    def _typed(self, raw: Mapping[str, Any], prefix: str, where: str) -> tuple[str, Any] | None:
        """The one ``<prefix>[x]`` value of an element: ``(kind, value)``."""
        present = [key for key in raw if key.startswith(prefix) and key != prefix]
        present = [key for key in present if not key.startswith("_")]
        if len(present) != 1:
            self.reasons.append(
                f"{where} needs exactly one {prefix}[x]"
                + (f" (has {', '.join(present)})" if present else "")
            )
            return None
        key = present[0]
        kind = _VALUE_SUFFIXES.get(key[len(prefix) :])
        if kind is None:
            self.reasons.append(f"{where}: {key} is not supported")
            return None
        value = self._value(kind, raw[key], where)
        return None if value is None else (kind, value)

    def _enable_when(
        self, raw: Mapping[str, Any], where: str, link_id: str | None
    ) -> tuple[EnableWhen, ...]:
        conditions = raw.get("enableWhen", [])
        if not isinstance(conditions, list):
            self.reasons.append(f"{where}: enableWhen must be a list")
            return ()
        result: list[EnableWhen] = []
        for index, condition in enumerate(conditions):
            at = f"{where}: enableWhen[{index}]"
            if not isinstance(condition, Mapping):
                self.reasons.append(f"{at} is not an object")
                continue
            for key in condition:
                if not (key in ("question", "operator") or key.startswith("answer")):
                    self.reasons.append(f"{at}: the element {key!r} is not supported")
            question = condition.get("question")
            operator = condition.get("operator")
            if operator not in OPERATORS:
                self.reasons.append(f"{at}: operator {operator!r} is not supported")
            typed = self._typed(condition, "answer", at)
            target = self.before.get(question) if isinstance(question, str) else None
            if not isinstance(question, str):
                self.reasons.append(f"{at} has no question")
                continue
            if target is None:
                if question == link_id:
                    self.reasons.append(f"{at} refers to the item itself")
                elif question in self.all_ids:
                    self.reasons.append(
                        f"{at} refers to {question!r}, which comes later (Steg asks questions "
                        f"in order, so a condition may only depend on earlier items)"
                    )
                else:
                    self.reasons.append(f"{at} refers to an unknown item {question!r}")
                continue
            if typed is None or operator not in OPERATORS:
                continue
            answer = self._condition_answer(target, operator, typed, at)
            if answer is not None:
                result.append(EnableWhen(question, operator, answer))
        return tuple(result)

    def _condition_answer(
        self, target: Item, operator: str, typed: tuple[str, Any], at: str
    ) -> Value | None:
        kind, value = typed
        if operator == "exists":
            if kind == "boolean":
                return typing.cast(Value, value)
            self.reasons.append(f"{at}: 'exists' needs answerBoolean")
            return None
        expected = {
            "boolean": ("boolean",),
            "choice": ("coding", "string"),
            "open-choice": ("coding", "string"),
            "integer": ("integer",),
            "decimal": ("decimal", "integer"),
            "string": ("string",),
            "text": ("string",),
            "date": ("date",),
            "time": ("time",),
        }.get(target.type, ())
        if not expected:
            self.reasons.append(f"{at}: {target.link_id!r} is a {target.type} item: no answers")
            return None
        if kind not in expected:
            self.reasons.append(
                f"{at}: {target.link_id!r} is a {target.type} item; answer{kind.title()} "
                f"does not fit it"
            )
            return None
        if target.type == "decimal":
            return Decimal(value)
        if target.type == "choice" and target.option(value) is None:
            self.reasons.append(f"{at}: {value!r} is not an option of {target.link_id!r}")
            return None
        return typing.cast(Value, value)

    def _options(
        self, raw: Mapping[str, Any], item_type: str | None, where: str
    ) -> tuple[tuple[AnswerOption, ...], list[str]]:
        raw_options = raw.get("answerOption", [])
        if not isinstance(raw_options, list):
            self.reasons.append(f"{where}: answerOption must be a list")
            return (), []
        if item_type == "choice" and not raw_options and "answerValueSet" not in raw:
            self.reasons.append(f"{where} is a choice item without answerOption")
        if raw_options and item_type not in ("choice", "open-choice", None):
            self.reasons.append(
                f"{where}: answerOption on a {item_type} item is not supported (only on choice "
                f"and open-choice items)"
            )
            return (), []
        options: list[AnswerOption] = []
        selected: list[str] = []
        for index, raw_option in enumerate(raw_options):
            at = f"{where}: answerOption[{index}]"
            if not isinstance(raw_option, Mapping):
                self.reasons.append(f"{at} is not an object")
                continue
            option = self._option(raw_option, at)
            if option is None:
                continue
            if any(existing.code == option.code for existing in options):
                self.reasons.append(f"{where}: two options have the code {option.code!r}")
                continue
            options.append(option)
            initial_selected = raw_option.get("initialSelected", False)
            if not isinstance(initial_selected, bool):
                self.reasons.append(f"{at}: initialSelected must be true or false")
            elif initial_selected:
                selected.append(option.code)
        return tuple(options), selected

    def _option(self, raw: Mapping[str, Any], at: str) -> AnswerOption | None:
        for key in raw:
            if key not in ("extension", "initialSelected", "id") and not key.startswith(
                ("value", "_value")
            ):
                self.reasons.append(f"{at}: the element {key!r} is not supported")
        scores = self._scores(raw, at)
        code: str | None = None
        text: dict[str, str] = {}
        if "valueCoding" in raw:
            coding = raw["valueCoding"]
            if not isinstance(coding, Mapping):
                self.reasons.append(f"{at}: valueCoding must be an object")
                return None
            for key in coding:
                if key not in ("code", "display", "_display", "system", "version", "extension"):
                    self.reasons.append(f"{at}: valueCoding.{key} is not supported")
            if "system" in coding:
                self.notes.append(f"{at}: code system not carried over: {coding['system']}")
            raw_code = coding.get("code")
            if isinstance(raw_code, str) and raw_code:
                code = raw_code
            else:
                self.reasons.append(f"{at}: valueCoding has no code")
            text = self.texts(coding, "display", f"{at} (code {raw_code!r})", required=True)
            scores += self._scores(coding, f"{at}: valueCoding")
        elif "valueString" in raw:
            value = raw["valueString"]
            if isinstance(value, str) and value:
                code = value
            text = self.texts(raw, "valueString", at, required=True)
        elif "valueInteger" in raw:
            value = raw["valueInteger"]
            if _is_int(value):
                code = str(value)
                text = {lang: str(value) for lang in self.languages}
            else:
                self.reasons.append(f"{at}: valueInteger must be an integer")
        else:
            kinds = [key for key in raw if key.startswith("value")]
            self.reasons.append(
                f"{at}: only valueCoding, valueString and valueInteger options are supported"
                + (f" (has {', '.join(kinds)})" if kinds else "")
            )
            return None
        distinct = set(scores)
        if len(distinct) > 1:
            self.reasons.append(f"{at} has different scores: {', '.join(map(str, scores))}")
        if code is None or not text:
            return None
        return AnswerOption(code=code, text=text, score=scores[0] if scores else None)

    def _scores(self, element: Mapping[str, Any], at: str) -> list[Decimal]:
        scores: list[Decimal] = []
        unknown: list[str] = []
        for extension in self.extensions(element, at):
            url = extension["url"]
            if url in (ITEM_WEIGHT, ORDINAL_VALUE):
                name = url.rsplit("/", 1)[1]
                key = "valueDecimal" if "valueDecimal" in extension else "valueInteger"
                value = self._value(
                    "decimal" if key == "valueDecimal" else "integer",
                    extension.get(key),
                    f"{at}: {name}",
                )
                if value is not None:
                    scores.append(Decimal(value))
            else:
                unknown.append(url)
        if unknown:
            self.reasons.append(f"{at} has unsupported extensions: {', '.join(unknown)}")
        return scores

    def _initial(self, raw: Mapping[str, Any], where: str) -> tuple[Value, ...]:
        initial = raw.get("initial", [])
        if not isinstance(initial, list):
            self.reasons.append(f"{where}: initial must be a list")
            return ()
        values: list[Value] = []
        for index, entry in enumerate(initial):
            at = f"{where}: initial[{index}]"
            if not isinstance(entry, Mapping):
                self.reasons.append(f"{at} is not an object")
                continue
            typed = self._typed(entry, "value", at)
            if typed is not None:
                values.append(typing.cast(Value, typed[1]))
        return tuple(values)


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _sub_value(extension: Mapping[str, Any], url: str, keys: tuple[str, ...]) -> object:
    for sub in _list(extension.get("extension")):
        if isinstance(sub, Mapping) and sub.get("url") == url:
            for key in keys:
                if key in sub:
                    return sub[key]
    return None


def _item_control(extension: Mapping[str, Any]) -> str | None:
    concept = extension.get("valueCodeableConcept")
    if isinstance(concept, Mapping):
        for coding in _list(concept.get("coding")):
            if isinstance(coding, Mapping) and isinstance(coding.get("code"), str):
                return str(coding["code"])
    return None


# --------------------------------------------------------------------------------------------
# Steg JSON payloads (scoring, schedule, hint): type-directed decoding of our dataclasses


def _from_plain(tp: Any, value: object, where: str, reasons: list[str]) -> Any:
    """``value`` (parsed JSON) as an instance of ``tp``; None with a reason when it is not."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = (arg for arg in args if arg is not type(None))
        return _from_plain(inner, value, where, reasons)
    if origin is Literal:
        if value in args:
            return value
        reasons.append(f"{where}: {value!r} is not one of {', '.join(map(repr, args))}")
        return None
    if origin is tuple:
        if not isinstance(value, list):
            reasons.append(f"{where} must be a list")
            return ()
        return tuple(_from_plain(args[0], v, f"{where}[{i}]", reasons) for i, v in enumerate(value))
    if origin is Mapping:
        if isinstance(value, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            return dict(value)
        reasons.append(f"{where} must be an object of texts per language")
        return {}
    if tp is Decimal:
        if isinstance(value, str | int) and not isinstance(value, bool):
            try:
                number = Decimal(value)
            except InvalidOperation:
                number = None
            if number is not None and number.is_finite():
                return number
        reasons.append(f"{where}: {value!r} is not a number")
        return None
    if tp in (int, str, bool):
        if isinstance(value, tp) and (tp is bool or not isinstance(value, bool)):
            return value
        reasons.append(f"{where}: {value!r} is not {tp.__name__}")
        return None
    if isinstance(tp, type) and is_dataclass(tp):
        if not isinstance(value, dict):
            reasons.append(f"{where} must be an object")
            return None
        hints = typing.get_type_hints(tp)
        known = {f.name for f in fields(tp)}
        for key in value:
            if key not in known:
                reasons.append(f"{where}: unknown field {key!r}")
        kwargs = {}
        before = len(reasons)
        for f in fields(tp):
            if f.name in value:
                kwargs[f.name] = _from_plain(
                    hints[f.name], value[f.name], f"{where}.{f.name}", reasons
                )
            elif f.default is MISSING and f.default_factory is MISSING:
                reasons.append(f"{where}: {f.name!r} is missing")
        if len(reasons) > before:
            return None
        return tp(**kwargs)
    raise TypeError(f"cannot decode {tp!r}")  # pragma: no cover - a new field type
