"""Read and validate a questionnaire definition (YAML), and write one back.

The format is documented in ``docs/questionnaires.md``; its keys mirror FHIR R4
``Questionnaire`` (camelCase where FHIR has the field). :func:`parse_questionnaire` checks the
whole file and reports *every* problem, each with its file and line, to a shared
:class:`~steg.lib.yamldoc.Problems` (the programme loader collects a folder's problems this
way); :func:`load_questionnaire_text` raises them instead. :func:`dump_questionnaire` writes a
:class:`~steg.questionnaires.definition.Questionnaire` as YAML that parses back to an equal one.

No Django here: plain data in, plain data out.
"""

from __future__ import annotations

import contextlib
import datetime
import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, cast

import yaml
from yaml.nodes import Node, ScalarNode, SequenceNode

from steg.lib.yamldoc import BAD, Problems, ProgrammeFormatError, YamlDoc, describe
from steg.programmes.format import LANGUAGES
from steg.questionnaires.definition import (
    ANSWER_TYPES,
    DEFAULT_MAX_LENGTH,
    ITEM_TYPES,
    OPERATORS,
    SCORABLE_TYPES,
    AnswerOption,
    Band,
    EnableWhen,
    Flag,
    Item,
    Questionnaire,
    Schedule,
    Scoring,
    Subscale,
    Texts,
    Value,
)

__all__ = [
    "MAX_BACKFILL_DAYS",
    "MAX_DECIMALS",
    "dump_questionnaire",
    "load_questionnaire_text",
    "parse_questionnaire",
]

#: A missed occurrence can be filled in for at most this many days after its day.
MAX_BACKFILL_DAYS = 30
#: Scores are rounded to at most this many decimals.
MAX_DECIMALS = 2

_LINK_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# A FHIR code: no leading, trailing or double white space.
_CODE_RE = re.compile(r"^\S+(?: \S+)*$")
_CODE_MAX = 64
_TIME_RE = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])(?::([0-5][0-9]))?$")
_URL_RE = re.compile(r"^(?:https?://|urn:)\S+$")

_TOP_KEYS = (
    "id",
    "version",
    "url",
    "languages",
    "title",
    "description",
    "source",
    "schedule",
    "items",
    "scoring",
)
_SCORING_KEYS = (
    "items",
    "reversed",
    "missing",
    "max_missing",
    "decimals",
    "subscales",
    "bands",
    "flags",
)
_ITEM_KEYS = (
    "linkId",
    "type",
    "text",
    "hint",
    "required",
    "repeats",
    "answerOption",
    "enableWhen",
    "enableBehavior",
    "minValue",
    "maxValue",
    "minLength",
    "maxLength",
    "initial",
    "item",
)
_SCHEDULE_KINDS = ("once", "daily", "weekly", "offsets")
_ANCHORS = ("start", "quit_date")
_MISSING_RULES = ("refuse", "prorate", "unscored")
_BEHAVIORS = ("all", "any")
_ORDERED_TYPES = frozenset({"integer", "decimal", "date", "time"})
_REPEATING_TYPES = ("choice", "open-choice", "string")
_VALUE_RANGE_TYPES = ("integer", "decimal", "date")
_LENGTH_TYPES = ("string", "text")


def _types(types: Sequence[str]) -> str:
    return ", ".join(types[:-1]) + f" and {types[-1]}" if len(types) > 1 else types[0]


# --------------------------------------------------------------------------- parsing


def parse_questionnaire(
    file: str,
    text: str,
    languages: Sequence[str] | None,
    problems: Problems,
    *,
    expected_id: str | None = None,
) -> Questionnaire | None:
    """Parse and validate one questionnaire file; None when it has problems.

    Every problem goes to ``problems`` with ``file`` and its line. ``languages`` are the
    languages every text must have (a programme's); None means the file's own ``languages``
    key, required then. Inside a programme that key is optional; when given it must include
    every programme language, and texts in further languages are left out of the result.
    ``expected_id`` is the id the file name gives, which the ``id`` key must equal.
    """
    before = len(problems.items)
    questionnaire = _Parser(file, text, languages, problems, expected_id).parse()
    return questionnaire if len(problems.items) == before else None


def load_questionnaire_text(
    text: str,
    file: str = "<text>",
    languages: Sequence[str] | None = None,
    *,
    expected_id: str | None = None,
) -> Questionnaire:
    """Parse a questionnaire; raises ProgrammeFormatError listing every problem."""
    problems = Problems()
    questionnaire = parse_questionnaire(file, text, languages, problems, expected_id=expected_id)
    if questionnaire is None:
        raise ProgrammeFormatError(sorted(problems.items, key=lambda p: p.line or 0))
    return questionnaire


@dataclass(frozen=True)
class _Question:
    """What the items after an answerable item need to know of it (for ``enableWhen``)."""

    type: str
    codes: tuple[str, ...]


class _Parser:
    def __init__(
        self,
        file: str,
        text: str,
        languages: Sequence[str] | None,
        problems: Problems,
        expected_id: str | None,
    ) -> None:
        self.problems = problems
        self.programme_languages = tuple(languages) if languages is not None else None
        self.expected_id = expected_id
        owner = "questionnaire" if languages is None else "programme"
        self.doc = YamlDoc(file, text, problems, owner=owner)
        # The languages texts are checked against (None: unknown, check the texts only),
        # and those kept in the result.
        self.text_languages: tuple[str, ...] | None = self.programme_languages
        self.keep: tuple[str, ...] | None = None
        # Answerable items met so far, in order: what an enableWhen may refer to.
        self.earlier: dict[str, _Question] = {}
        # Every linkId met (broken items too) and where it was first used.
        self.link_lines: dict[str, int] = {}
        # enableWhen references to items not met yet: (node, what, question).
        self.forward: list[tuple[Node, str, str]] = []

    def problem(self, node: Node | None, message: str) -> None:
        self.doc.problem(node, message)

    # -- the document

    def parse(self) -> Questionnaire | None:
        doc = self.doc
        if doc.root is None:
            if not any(p.file == doc.file for p in self.problems.items):
                self.problems.add(doc.file, 1, "is empty")
            return None
        entries = doc.mapping(doc.root, "questionnaire")
        if entries is None:
            return None
        for key in ("bands", "flags", "subscales", "reversed", "missing"):
            if key in entries:
                self.problems.add(
                    doc.file,
                    doc.key_line(doc.root, key),
                    f"'{key}' belongs under 'scoring:', not at the top of the questionnaire",
                )
                del entries[key]
        required = ["id", "title", "items"]
        if self.programme_languages is None:
            required.append("languages")
        doc.check_keys(doc.root, entries, "questionnaire", required, _TOP_KEYS)

        self._languages(entries.get("languages"))
        ident = self._ident(entries.get("id"))
        version = "1"
        if "version" in entries:
            version = self._version(entries["version"]) or version
        url = None
        if "url" in entries:
            url = doc.text(entries["url"], "url")
            if url is not None and not _URL_RE.match(url):
                self.problem(entries["url"], f"url must start with https://, not '{url}'")
        title = self.texts(entries["title"], "title") if "title" in entries else None
        description: Texts = {}
        if "description" in entries:
            description = self.texts(entries["description"], "description") or {}
        source = doc.text(entries["source"], "source") if "source" in entries else None
        schedule = Schedule()
        if "schedule" in entries:
            schedule = self._schedule(entries["schedule"]) or schedule
        items: tuple[Item, ...] = ()
        if "items" in entries:
            items = self._items(entries["items"], "items")
            if isinstance(entries["items"], SequenceNode) and not entries["items"].value:
                self.problem(entries["items"], "items: a questionnaire needs at least one item")
        self._report_forward_references()
        scoring = None
        if "scoring" in entries:
            scoring = self._scoring(entries["scoring"], items)
        if ident is None or title is None:
            return None
        return Questionnaire(
            id=ident,
            title=title,
            languages=self.keep or self.text_languages or (),
            items=items,
            description=description,
            version=version,
            url=url,
            source=source,
            scoring=scoring,
            schedule=schedule,
        )

    def _languages(self, node: Node | None) -> None:
        doc = self.doc
        if node is None:
            return
        nodes = doc.sequence(node, "languages")
        if nodes is None:
            return  # the texts are checked in the programme's languages, if there are any
        own: list[str] = []
        for item in nodes:
            language = doc.text(item, "language")
            if language is None:
                continue
            if language not in LANGUAGES:
                self.problem(
                    item, f"language '{language}' is not supported ({', '.join(LANGUAGES)})"
                )
            elif language in own:
                self.problem(item, f"language '{language}' is listed twice")
            else:
                own.append(language)
        if not nodes:
            self.problem(node, "languages: list at least one language")
        if self.programme_languages is None:
            self.text_languages = tuple(own) or None
            return
        missing = [lang for lang in self.programme_languages if lang not in own]
        if missing:
            self.problem(
                node,
                f"languages: the programme is in {', '.join(self.programme_languages)}, "
                f"but the questionnaire has no {', '.join(repr(m) for m in missing)} version",
            )
            # Check the texts in the questionnaire's own languages: one problem, not one a text.
            self.text_languages = tuple(own) or None
            self.doc.owner = "questionnaire"
            return
        # Texts must be complete in the questionnaire's own languages; the programme's are kept.
        self.text_languages = tuple(own)
        self.keep = self.programme_languages
        self.doc.owner = "questionnaire"

    def _ident(self, node: Node | None) -> str | None:
        if node is None:
            return None
        ident = self.doc.slug(node, "id")
        if ident is not None and self.expected_id is not None and ident != self.expected_id:
            self.problem(
                node,
                f"id '{ident}' must be the file name without .yaml: '{self.expected_id}'",
            )
        return ident

    def _version(self, node: Node) -> str | None:
        value = self.doc.value(node)
        if isinstance(value, str) and value.strip():
            return value.strip()
        if value is not BAD:
            self.problem(node, f'version must be text in quotes ("1"), not {describe(value)}')
        return None

    def texts(self, node: Node, what: str) -> dict[str, str] | None:
        texts = self.doc.texts(node, what, self.text_languages)
        if texts is not None and self.keep is not None:
            return {language: texts[language] for language in self.keep}
        return texts

    # -- simple values

    def boolean(self, node: Node, what: str) -> bool | None:
        value = self.doc.value(node)
        if value is BAD:
            return None
        if not isinstance(value, bool):
            self.problem(node, f"{what} must be true or false, not {describe(value)}")
            return None
        return value

    def number(self, node: Node, what: str) -> Decimal | None:
        """A number as a Decimal, exactly as written (0.1 stays 0.1)."""
        value = self.doc.value(node)
        if value is BAD:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return Decimal(value)
        if isinstance(value, float) and math.isfinite(value):
            raw = node.value.replace("_", "") if isinstance(node, ScalarNode) else ""
            try:
                return Decimal(raw)
            except InvalidOperation:
                return Decimal(repr(value))
        shown = "infinite" if isinstance(value, float) else describe(value)
        self.problem(node, f"{what} must be a number, not {shown}")
        return None

    def whole(self, node: Node, what: str, low: int, high: int | None = None) -> int | None:
        value = self.doc.integer(node, what)
        if value is None:
            return None
        if value < low or (high is not None and value > high):
            limits = f"from {low} to {high}" if high is not None else f"{low} or more"
            self.problem(node, f"{what} must be {limits}, not {value}")
            return None
        return value

    def choice(self, node: Node, what: str, allowed: Sequence[str]) -> str | None:
        value = self.doc.value(node)
        if value is BAD:
            return None
        if not isinstance(value, str) or value not in allowed:
            shown = f"'{value}'" if isinstance(value, str) else describe(value)
            self.problem(node, f"{what} must be one of {', '.join(allowed)}, not {shown}")
            return None
        return value

    def link_id(self, node: Node, what: str) -> str | None:
        value = self.doc.value(node)
        if value is BAD:
            return None
        if not isinstance(value, str) or not _LINK_ID_RE.match(value):
            shown = f"'{value}'" if isinstance(value, str) else describe(value)
            self.problem(
                node,
                f"{what} must be 1 to 64 letters, digits, '.', '_' or '-' (in quotes if it "
                f"is a number), not {shown}",
            )
            return None
        return value

    def link_list(self, node: Node, what: str) -> list[tuple[str, Node]]:
        """A list of distinct linkIds, with their nodes."""
        result: list[tuple[str, Node]] = []
        for item in self.doc.sequence(node, what) or []:
            link_id = self.link_id(item, f"{what}: item")
            if link_id is None:
                continue
            if any(link_id == seen for seen, _ in result):
                self.problem(item, f"{what}: '{link_id}' is listed twice")
                continue
            result.append((link_id, item))
        return result

    def answer_value(
        self, node: Node, item_type: str, codes: Sequence[str], what: str
    ) -> Value | None:
        """A value of the Python type that answers to an item of ``item_type`` have."""
        if item_type == "time":
            return self.time(node, what)
        value = self.doc.value(node)
        if value is BAD:
            return None
        if item_type == "boolean":
            if isinstance(value, bool):
                return value
            self.problem(node, f"{what} must be true or false, not {describe(value)}")
        elif item_type == "integer":
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            self.problem(node, f"{what} must be a whole number, not {describe(value)}")
        elif item_type == "decimal":
            return self.number(node, what)
        elif item_type == "date":
            if isinstance(value, str):
                with contextlib.suppress(ValueError):
                    value = datetime.date.fromisoformat(value.strip())
            if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
                return value
            self.problem(node, f"{what} must be a date such as 2026-01-31, not {describe(value)}")
        elif isinstance(value, str) and value.strip():  # choice, open-choice, string, text
            if item_type == "choice" and value.strip() not in codes:
                self.problem(
                    node,
                    f"{what}: '{value.strip()}' is not an option code "
                    f"(the codes are {', '.join(codes) or 'none'})",
                )
                return None
            return value.strip()
        else:
            self.problem(node, f"{what} must be non-empty text, not {describe(value)}")
        return None

    def time(self, node: Node, what: str) -> datetime.time | None:
        # Read the text as written: YAML 1.1 would turn an unquoted 12:30 into 750.
        raw = node.value.strip() if isinstance(node, ScalarNode) else None
        match = _TIME_RE.match(raw) if raw is not None else None
        if match is None:
            shown = f"'{raw}'" if raw is not None else describe(self.doc.value(node))
            self.problem(node, f"{what} must be a time such as 08:30, not {shown}")
            return None
        hour, minute, second = match.groups()
        return datetime.time(int(hour), int(minute), int(second or 0))

    # -- items

    def _items(self, node: Node, what: str) -> tuple[Item, ...]:
        result = []
        for child in self.doc.sequence(node, what) or []:
            item = self._item(child)
            if item is not None:
                result.append(item)
        return tuple(result)

    def _item(self, node: Node) -> Item | None:
        doc = self.doc
        entries = doc.mapping(node, "item")
        if entries is None:
            return None
        what = "item"
        link_id = None
        if "linkId" in entries:
            link_id = self.link_id(entries["linkId"], "item: linkId")
        if link_id is not None:
            what = f"item '{link_id}'"
            if link_id in self.link_lines:
                self.problem(
                    entries["linkId"],
                    f"linkId '{link_id}' is already used on line {self.link_lines[link_id]}: "
                    "every item needs its own",
                )
                link_id = None
            else:
                self.link_lines[link_id] = doc.line(entries["linkId"])
        item_type = None
        if "type" in entries:
            item_type = self.choice(entries["type"], f"{what}: type", ITEM_TYPES)
        required_keys = ["linkId", "type"] + ([] if item_type == "group" else ["text"])
        doc.check_keys(node, entries, what, required_keys, _ITEM_KEYS)
        self._check_keys_for_type(node, entries, what, item_type)

        text: Texts | None = {}
        if "text" in entries:
            text = self.texts(entries["text"], f"{what}: text")
        hint: Texts | None = {}
        if "hint" in entries:
            hint = self.texts(entries["hint"], f"{what}: hint")
        flags = {}
        for key in ("required", "repeats"):
            if key in entries and item_type is not None:
                flags[key] = bool(self.boolean(entries[key], f"{what}: {key}"))
        options: tuple[AnswerOption, ...] = ()
        if "answerOption" in entries and item_type in ("choice", "open-choice"):
            options = self._options(entries["answerOption"], what)
        codes = tuple(option.code for option in options)

        enable_when: tuple[EnableWhen, ...] = ()
        if "enableWhen" in entries:
            enable_when = self._enable_when(entries["enableWhen"], what, link_id)
        behavior = self._enable_behavior(entries, what)
        if link_id is not None and item_type in ANSWER_TYPES:
            self.earlier[link_id] = _Question(item_type, codes)

        min_value, max_value = self._value_range(entries, what, item_type)
        min_length, max_length = self._length_range(entries, what, item_type)
        initial: tuple[Value, ...] = ()
        if "initial" in entries and item_type in ANSWER_TYPES:
            initial = self._initial(
                entries["initial"],
                what,
                cast(str, item_type),
                codes,
                repeats=flags.get("repeats", False),
                limits=(min_value, max_value, min_length, max_length),
            )
        children: tuple[Item, ...] = ()
        if "item" in entries and item_type == "group":
            children = self._items(entries["item"], f"{what}: item")
            if isinstance(entries["item"], SequenceNode) and not entries["item"].value:
                self.problem(entries["item"], f"{what}: a group needs at least one item")
        if link_id is None or item_type is None or text is None or hint is None:
            return None
        return Item(
            link_id=link_id,
            type=cast(Any, item_type),
            text=text,
            required=flags.get("required", False),
            repeats=flags.get("repeats", False),
            options=options,
            enable_when=enable_when,
            enable_behavior=cast(Any, behavior),
            min_value=min_value,
            max_value=max_value,
            min_length=min_length,
            max_length=max_length,
            initial=initial,
            hint=hint,
            items=children,
        )

    def _check_keys_for_type(
        self, node: Node, entries: dict[str, Node], what: str, item_type: str | None
    ) -> None:
        if item_type is None:
            return
        rules: tuple[tuple[str, Callable[[str], bool], str], ...] = (
            ("required", lambda t: t in ANSWER_TYPES, "items that take an answer"),
            ("repeats", lambda t: t in _REPEATING_TYPES, f"{_types(_REPEATING_TYPES)} items"),
            (
                "answerOption",
                lambda t: t in ("choice", "open-choice"),
                "choice and open-choice items",
            ),
            ("minValue", lambda t: t in _VALUE_RANGE_TYPES, f"{_types(_VALUE_RANGE_TYPES)} items"),
            ("maxValue", lambda t: t in _VALUE_RANGE_TYPES, f"{_types(_VALUE_RANGE_TYPES)} items"),
            ("minLength", lambda t: t in _LENGTH_TYPES, "string and text items"),
            ("maxLength", lambda t: t in _LENGTH_TYPES, "string and text items"),
            ("initial", lambda t: t in ANSWER_TYPES, "items that take an answer"),
            ("item", lambda t: t == "group", "group items"),
        )
        for key, applies, which in rules:
            if key in entries and not applies(item_type):
                self.problems.add(
                    self.doc.file,
                    self.doc.key_line(node, key),
                    f"{what}: '{key}' is only for {which}, not for {item_type}",
                )
        if item_type == "choice" and "answerOption" not in entries:
            self.problem(node, f"{what}: a choice item needs answerOption (at least two)")
        if item_type == "group" and "item" not in entries:
            self.problem(node, f"{what}: a group needs its items under 'item:'")

    def _options(self, node: Node, what: str) -> tuple[AnswerOption, ...]:
        doc = self.doc
        nodes = doc.sequence(node, f"{what}: answerOption")
        if nodes is None:
            return ()
        if len(nodes) < 2:
            self.problem(node, f"{what}: answerOption needs at least two options")
        result: list[AnswerOption] = []
        lines: dict[str, int] = {}
        for option_node in nodes:
            entries = doc.mapping(option_node, f"{what}: option")
            if entries is None:
                continue
            doc.check_keys(option_node, entries, f"{what}: option", ("code", "text"), ("score",))
            code = None
            if "code" in entries:
                code = self._code(entries["code"], f"{what}: option code")
            where = f"{what}: option '{code}'" if code else f"{what}: option"
            if code is not None and code in lines:
                self.problem(
                    entries["code"],
                    f"{what}: option code '{code}' is already used on line {lines[code]}",
                )
                code = None
            elif code is not None:
                lines[code] = doc.line(entries["code"])
            text = self.texts(entries["text"], f"{where}: text") if "text" in entries else None
            score = None
            if "score" in entries:
                score = self.number(entries["score"], f"{where}: score")
            if code is not None and text is not None:
                result.append(AnswerOption(code=code, text=text, score=score))
        return tuple(result)

    def _code(self, node: Node, what: str) -> str | None:
        value = self.doc.value(node)
        if value is BAD:
            return None
        if not isinstance(value, str):
            example = '"yes"' if isinstance(value, bool) else '"1"'
            self.problem(node, f"{what} must be text; write it in quotes, e.g. {example}")
            return None
        if not _CODE_RE.match(value) or len(value) > _CODE_MAX:
            self.problem(
                node,
                f"{what} '{value}' must be 1 to {_CODE_MAX} characters, without spaces at "
                "either end",
            )
            return None
        return value

    def _enable_when(self, node: Node, what: str, link_id: str | None) -> tuple[EnableWhen, ...]:
        doc = self.doc
        nodes = doc.sequence(node, f"{what}: enableWhen")
        if nodes is None:
            return ()
        if not nodes:
            self.problem(node, f"{what}: enableWhen lists no condition (leave it out instead)")
        result = []
        for condition in nodes:
            where = f"{what}: enableWhen"
            entries = doc.mapping(condition, where)
            if entries is None:
                continue
            doc.check_keys(condition, entries, where, ("question", "operator", "answer"))
            if not {"question", "operator", "answer"} <= entries.keys():
                continue
            question = self.link_id(entries["question"], f"{where}: question")
            operator = self._operator(entries["operator"], where)
            if question is None:
                continue
            if question == link_id:
                self.problem(entries["question"], f"{where}: an item cannot depend on itself")
                continue
            target = self.earlier.get(question)
            if target is None:
                if question in self.link_lines:  # a group or display item met already
                    self.problem(
                        entries["question"],
                        f"{where}: '{question}' takes no answer, so nothing can depend on it",
                    )
                else:
                    self.forward.append((entries["question"], where, question))
                continue
            if operator is None:
                continue
            answer = self._condition_answer(entries["answer"], where, question, target, operator)
            if answer is not None:
                result.append(EnableWhen(question, cast(Any, operator), answer))
        return tuple(result)

    def _operator(self, node: Node, what: str) -> str | None:
        # Read "=" as written: YAML 1.1 gives a plain = a tag of its own.
        raw = node.value if isinstance(node, ScalarNode) else None
        if raw not in OPERATORS:
            shown = f"'{raw}'" if raw is not None else describe(self.doc.value(node))
            self.problem(
                node, f"{what}: operator must be one of {', '.join(OPERATORS)}, not {shown}"
            )
            return None
        return raw

    def _condition_answer(
        self, node: Node, what: str, question: str, target: _Question, operator: str
    ) -> Value | None:
        if operator == "exists":
            return self.boolean(node, f"{what}: answer (with exists)")
        if operator not in ("=", "!=") and target.type not in _ORDERED_TYPES:
            self.problem(
                node,
                f"{what}: '{operator}' does not work with the {target.type} question "
                f"'{question}' (use =, != or exists)",
            )
            return None
        return self.answer_value(node, target.type, target.codes, f"{what}: answer")

    def _enable_behavior(self, entries: dict[str, Node], what: str) -> str:
        conditions = entries.get("enableWhen")
        count = len(conditions.value) if isinstance(conditions, SequenceNode) else 0
        if "enableBehavior" not in entries:
            if count > 1:
                self.problem(
                    conditions,
                    f"{what}: with several enableWhen conditions, say whether all of them or "
                    "any one must hold: enableBehavior: all (or any)",
                )
            return "all"
        if conditions is None:
            self.problem(
                entries["enableBehavior"], f"{what}: enableBehavior needs enableWhen conditions"
            )
        return (
            self.choice(entries["enableBehavior"], f"{what}: enableBehavior", _BEHAVIORS) or "all"
        )

    def _value_range(
        self, entries: dict[str, Node], what: str, item_type: str | None
    ) -> tuple[Decimal | datetime.date | None, Decimal | datetime.date | None]:
        if item_type not in _VALUE_RANGE_TYPES:
            return None, None
        limits: list[Decimal | datetime.date | None] = []
        for key in ("minValue", "maxValue"):
            limit: Decimal | datetime.date | None = None
            if key in entries:
                if item_type == "decimal":
                    limit = self.number(entries[key], f"{what}: {key}")
                else:
                    value = self.answer_value(entries[key], str(item_type), (), f"{what}: {key}")
                    if isinstance(value, int):
                        limit = Decimal(value)
                    elif isinstance(value, datetime.date):
                        limit = value
            limits.append(limit)
        low, high = limits
        if low is not None and high is not None and low > high:  # type: ignore[operator]
            self.problem(entries["maxValue"], f"{what}: maxValue is below minValue")
            return low, None
        return low, high

    def _length_range(
        self, entries: dict[str, Node], what: str, item_type: str | None
    ) -> tuple[int | None, int | None]:
        if item_type not in _LENGTH_TYPES:
            return None, None
        low = high = None
        if "minLength" in entries:
            low = self.whole(entries["minLength"], f"{what}: minLength", 1, DEFAULT_MAX_LENGTH)
        if "maxLength" in entries:
            high = self.whole(entries["maxLength"], f"{what}: maxLength", 1, DEFAULT_MAX_LENGTH)
        if low is not None and low > (high or DEFAULT_MAX_LENGTH):
            self.problem(entries["minLength"], f"{what}: minLength is above maxLength")
            return None, high
        return low, high

    def _initial(
        self,
        node: Node,
        what: str,
        item_type: str,
        codes: tuple[str, ...],
        *,
        repeats: bool,
        limits: tuple[Any, Any, int | None, int | None],
    ) -> tuple[Value, ...]:
        nodes = self.doc.sequence(node, f"{what}: initial")
        if nodes is None:
            return ()
        if len(nodes) > 1 and not repeats:
            self.problem(node, f"{what}: initial has one value unless the item repeats")
        low, high, min_length, max_length = limits
        result: list[Value] = []
        for value_node in nodes:
            value = self.answer_value(value_node, item_type, codes, f"{what}: initial")
            if value is None:
                continue
            if _outside(value, low, high):
                self.problem(value_node, f"{what}: initial {value} is outside minValue–maxValue")
                continue
            if item_type in _LENGTH_TYPES and not (
                (min_length or 0) <= len(str(value)) <= (max_length or DEFAULT_MAX_LENGTH)
            ):
                self.problem(value_node, f"{what}: initial text is too short or too long")
                continue
            result.append(value)
        return tuple(result)

    def _report_forward_references(self) -> None:
        for node, where, question in self.forward:
            if question in self.link_lines:
                self.problem(
                    node,
                    f"{where}: '{question}' is not an earlier question: an item can only "
                    "depend on questions before it (not on itself, later items or its own "
                    "items)",
                )
            else:
                self.problem(node, f"{where}: there is no item '{question}'")

    # -- schedule

    def _schedule(self, node: Node) -> Schedule | None:
        doc = self.doc
        entries = doc.mapping(node, "schedule")
        if entries is None:
            return None
        doc.check_keys(
            node,
            entries,
            "schedule",
            (),
            ("kind", "anchor", "start_day", "end_day", "offsets", "backfill_days"),
        )
        ok = True
        kind = "once"
        if "kind" in entries:
            kind = self.choice(entries["kind"], "schedule: kind", _SCHEDULE_KINDS) or ""
            ok = bool(kind)
        anchor = "start"
        if "anchor" in entries:
            anchor = self.choice(entries["anchor"], "schedule: anchor", _ANCHORS) or ""
            ok = ok and bool(anchor)
        start_day = 0
        if "start_day" in entries:
            if kind == "offsets":
                self.problem(
                    entries["start_day"],
                    "schedule: start_day is not for offsets: the offsets are the days",
                )
                ok = False
            else:
                start = self.whole(entries["start_day"], "schedule: start_day", 0)
                ok = ok and start is not None
                start_day = start or 0
        end_day = None
        if "end_day" in entries:
            if kind not in ("daily", "weekly"):
                self.problem(
                    entries["end_day"], "schedule: end_day is only for daily and weekly schedules"
                )
                ok = False
            else:
                end_day = self.whole(entries["end_day"], "schedule: end_day", start_day)
                ok = ok and end_day is not None
        offsets: tuple[int, ...] = ()
        if "offsets" in entries:
            if kind != "offsets":
                self.problem(entries["offsets"], "schedule: offsets are only for kind: offsets")
                ok = False
            else:
                offsets = self._offsets(entries["offsets"])
                ok = ok and bool(offsets)
        elif kind == "offsets":
            self.problem(node, "schedule: kind offsets needs offsets: the days, e.g. [90, 180]")
            ok = False
        backfill = 0
        if "backfill_days" in entries:
            days = self.whole(
                entries["backfill_days"], "schedule: backfill_days", 0, MAX_BACKFILL_DAYS
            )
            ok = ok and days is not None
            backfill = days or 0
        if not ok:
            return None
        return Schedule(
            kind=cast(Any, kind),
            anchor=cast(Any, anchor),
            start_day=start_day,
            end_day=end_day,
            offsets=offsets,
            backfill_days=backfill,
        )

    def _offsets(self, node: Node) -> tuple[int, ...]:
        nodes = self.doc.sequence(node, "schedule: offsets")
        if nodes is None:
            return ()
        if not nodes:
            self.problem(node, "schedule: offsets lists no day")
        days: list[int] = []
        ok = True
        for day_node in nodes:
            day = self.whole(day_node, "schedule: offset", 0)
            if day is None:
                ok = False
            elif days and day <= days[-1]:
                self.problem(day_node, "schedule: offsets must be different days, smallest first")
                ok = False
            else:
                days.append(day)
        return tuple(days) if ok else ()

    # -- scoring

    def _scoring(self, node: Node, items: tuple[Item, ...]) -> Scoring | None:
        doc = self.doc
        entries = doc.mapping(node, "scoring")
        if entries is None:
            return None
        doc.check_keys(node, entries, "scoring", ("items",), _SCORING_KEYS)
        built = {item.link_id: item for item in _walk(items)}
        ok = True
        scored: list[str] = []
        ranges: dict[str, tuple[Decimal, Decimal] | None] = {}
        if "items" in entries:
            listed = self.link_list(entries["items"], "scoring: items")
            if isinstance(entries["items"], SequenceNode) and not entries["items"].value:
                self.problem(entries["items"], "scoring: items lists no item")
            for link_id, item_node in listed:
                if self._check_scored_item(item_node, link_id, built):
                    scored.append(link_id)
                    ranges[link_id] = _score_range(built[link_id])
                else:
                    ok = False
        reversed_: list[str] = []
        if "reversed" in entries:
            for link_id, item_node in self.link_list(entries["reversed"], "scoring: reversed"):
                if link_id not in scored:
                    if link_id in self.link_lines and link_id not in built:
                        continue  # the item itself is broken (already reported)
                    self.problem(
                        item_node, f"scoring: reversed '{link_id}' is not in scoring: items"
                    )
                elif ranges.get(link_id) is None:
                    self.problem(
                        item_node,
                        f"scoring: '{link_id}' can only be reversed with minValue and maxValue "
                        "(its lowest and highest score)",
                    )
                else:
                    reversed_.append(link_id)
        missing = "refuse"
        if "missing" in entries:
            missing = self.choice(entries["missing"], "scoring: missing", _MISSING_RULES) or missing
        max_missing = 0
        if "max_missing" in entries:
            if missing != "prorate":
                self.problem(
                    entries["max_missing"], "scoring: max_missing is only for missing: prorate"
                )
            else:
                limit = max(len(scored) - 1, 0)
                max_missing = (
                    self.whole(entries["max_missing"], "scoring: max_missing", 0, limit) or 0
                )
        decimals = 0
        if "decimals" in entries:
            decimals = self.whole(entries["decimals"], "scoring: decimals", 0, MAX_DECIMALS) or 0
        subscales: tuple[Subscale, ...] = ()
        if "subscales" in entries:
            subscales = self._subscales(entries["subscales"], scored, built)
        bands: tuple[Band, ...] = ()
        if "bands" in entries:
            total_range = _sum_ranges([ranges.get(link_id) for link_id in scored])
            bands = self._bands(entries["bands"], total_range if ok else None)
        flags: tuple[Flag, ...] = ()
        if "flags" in entries:
            flags = self._flags(entries["flags"], {s.key for s in subscales})
        return Scoring(
            items=tuple(scored),
            reversed=tuple(reversed_),
            missing=cast(Any, missing),
            max_missing=max_missing,
            decimals=decimals,
            subscales=subscales,
            bands=bands,
            flags=flags,
        )

    def _check_scored_item(self, node: Node, link_id: str, built: dict[str, Item]) -> bool:
        item = built.get(link_id)
        if item is None:
            if link_id not in self.link_lines:
                self.problem(node, f"scoring: there is no item '{link_id}'")
            return False
        if item.type not in SCORABLE_TYPES:
            self.problem(
                node,
                f"scoring: '{link_id}' is a {item.type} item; only "
                f"{_types(sorted(SCORABLE_TYPES))} items can be scored",
            )
            return False
        if item.repeats:
            self.problem(node, f"scoring: '{link_id}' repeats; a scored item has one answer")
            return False
        if item.type in ("choice", "open-choice"):
            unscored = [o.code for o in item.options if o.score is None]
            if unscored or not item.options:
                self.problem(
                    node,
                    f"scoring: every option of '{link_id}' needs a score "
                    f"(missing: {', '.join(unscored) or 'no options'})",
                )
                return False
        return True

    def _keyed(self, node: Node, what: str) -> Iterator[tuple[Node, dict[str, Node], str | None]]:
        """The mappings of a list whose entries have a unique ``key``."""
        seen: set[str] = set()
        for entry in self.doc.sequence(node, f"scoring: {what}s") or []:
            entries = self.doc.mapping(entry, f"scoring: {what}")
            if entries is None:
                continue
            key = (
                self.doc.slug(entries["key"], f"scoring: {what} key") if "key" in entries else None
            )
            if key is not None and key in seen:
                self.problem(entries["key"], f"scoring: {what} key '{key}' is used twice")
                key = None
            elif key is not None:
                seen.add(key)
            yield entry, entries, key

    def _subscales(
        self, node: Node, scored: list[str], built: dict[str, Item]
    ) -> tuple[Subscale, ...]:
        result = []
        for entry, entries, key in self._keyed(node, "subscale"):
            where = f"scoring: subscale '{key}'" if key else "scoring: subscale"
            self.doc.check_keys(entry, entries, where, ("key", "title", "items"))
            if key == "total":
                self.problem(entries["key"], f"{where}: 'total' is the name of the whole score")
                key = None
            title = self.texts(entries["title"], f"{where}: title") if "title" in entries else None
            members: list[str] = []
            if "items" in entries:
                for link_id, item_node in self.link_list(entries["items"], f"{where}: items"):
                    if link_id in scored:
                        members.append(link_id)
                    elif link_id in built or link_id not in self.link_lines:
                        self.problem(item_node, f"{where}: '{link_id}' is not in scoring: items")
                if isinstance(entries["items"], SequenceNode) and not entries["items"].value:
                    self.problem(entries["items"], f"{where}: items lists no item")
            if key is not None and title is not None and members:
                result.append(Subscale(key, title, tuple(members)))
        return tuple(result)

    def _range(
        self, entries: dict[str, Node], node: Node, where: str
    ) -> tuple[Decimal | None, Decimal | None] | None:
        low = self.number(entries["min"], f"{where}: min") if "min" in entries else None
        high = self.number(entries["max"], f"{where}: max") if "max" in entries else None
        if "min" not in entries and "max" not in entries:
            self.problem(node, f"{where}: give min, max or both")
            return None
        if low is not None and high is not None and low > high:
            self.problem(entries["max"], f"{where}: max is below min")
            return None
        if ("min" in entries and low is None) or ("max" in entries and high is None):
            return None
        return low, high

    def _bands(self, node: Node, total: tuple[Decimal, Decimal] | None) -> tuple[Band, ...]:
        result: list[tuple[Band, Node]] = []
        for entry, entries, key in self._keyed(node, "band"):
            where = f"scoring: band '{key}'" if key else "scoring: band"
            self.doc.check_keys(entry, entries, where, ("key", "title"), ("min", "max", "feedback"))
            limits = self._range(entries, entry, where)
            title = self.texts(entries["title"], f"{where}: title") if "title" in entries else None
            feedback: Texts | None = {}
            if "feedback" in entries:
                feedback = self.texts(entries["feedback"], f"{where}: feedback")
            if limits is None or key is None or title is None or feedback is None:
                continue
            band = Band(key, limits[0], limits[1], title, feedback)
            for other, _ in result:
                if _overlap(band, other):
                    self.problem(entry, f"{where} overlaps band '{other.key}'")
            if total is not None and not _overlap(band, Band("", total[0], total[1], {}, {})):
                self.problem(
                    entry,
                    f"{where} can never apply: the total score is from {total[0]} to {total[1]}",
                )
            result.append((band, entry))
        return tuple(band for band, _ in result)

    def _flags(self, node: Node, subscales: set[str]) -> tuple[Flag, ...]:
        result = []
        for entry, entries, key in self._keyed(node, "flag"):
            where = f"scoring: flag '{key}'" if key else "scoring: flag"
            self.doc.check_keys(entry, entries, where, ("key", "text"), ("scale", "min", "max"))
            scale: str | None = "total"
            if "scale" in entries:
                scale = self.doc.text(entries["scale"], f"{where}: scale")
                if scale is not None and scale != "total" and scale not in subscales:
                    known = ", ".join(["total", *sorted(subscales)])
                    self.problem(
                        entries["scale"], f"{where}: scale '{scale}' is not one of {known}"
                    )
                    scale = None
            limits = self._range(entries, entry, where)
            text = self.texts(entries["text"], f"{where}: text") if "text" in entries else None
            if limits is not None and key is not None and scale is not None and text is not None:
                result.append(Flag(key, scale, limits[0], limits[1], text))
        return tuple(result)


def _outside(value: Value, low: Any, high: Any) -> bool:
    """Whether a number or date is below ``low`` or above ``high`` (either may be None)."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal | datetime.date):
        return False
    return (low is not None and value < low) or (high is not None and value > high)


def _walk(items: tuple[Item, ...]) -> Iterator[Item]:
    for item in items:
        yield item
        yield from _walk(item.items)


def _score_range(item: Item) -> tuple[Decimal, Decimal] | None:
    """The lowest and highest score of a scored item, where they are known."""
    if item.type == "boolean":
        return Decimal(0), Decimal(1)
    if item.type in ("choice", "open-choice"):
        scores = [o.score for o in item.options if o.score is not None]
        return (min(scores), max(scores)) if scores else None
    if isinstance(item.min_value, Decimal) and isinstance(item.max_value, Decimal):
        return item.min_value, item.max_value
    return None


def _sum_ranges(
    ranges: list[tuple[Decimal, Decimal] | None],
) -> tuple[Decimal, Decimal] | None:
    if not ranges or any(r is None for r in ranges):
        return None
    known = [r for r in ranges if r is not None]
    return sum((r[0] for r in known), Decimal(0)), sum((r[1] for r in known), Decimal(0))


def _overlap(a: Band, b: Band) -> bool:
    a_low = a.min if a.min is not None else Decimal("-Infinity")
    a_high = a.max if a.max is not None else Decimal("Infinity")
    b_low = b.min if b.min is not None else Decimal("-Infinity")
    b_high = b.max if b.max is not None else Decimal("Infinity")
    return a_low <= b_high and b_low <= a_high


# --------------------------------------------------------------------------- writing


class _Dumper(yaml.SafeDumper):
    """Plain YAML: no anchors, numbers exactly as the Decimals hold them."""

    def ignore_aliases(self, data: object) -> bool:
        return True

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        # Indent lists under their key, as people write them.
        super().increase_indent(flow, False)


def _represent_decimal(dumper: yaml.SafeDumper, value: Decimal) -> yaml.ScalarNode:
    if value == value.to_integral_value():
        return dumper.represent_int(int(value))
    return dumper.represent_scalar("tag:yaml.org,2002:float", format(value, "f"))


def _represent_time(dumper: yaml.SafeDumper, value: datetime.time) -> yaml.ScalarNode:
    text = value.strftime("%H:%M:%S" if value.second else "%H:%M")
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style='"')


_Dumper.add_representer(Decimal, _represent_decimal)
_Dumper.add_representer(datetime.time, _represent_time)


def dump_questionnaire(q: Questionnaire) -> str:
    """The questionnaire as YAML in the format :func:`parse_questionnaire` reads back."""
    data: dict[str, object] = {"id": q.id, "version": q.version}
    if q.url:
        data["url"] = q.url
    data["languages"] = list(q.languages)
    data["title"] = dict(q.title)
    if q.description:
        data["description"] = dict(q.description)
    if q.source:
        data["source"] = q.source
    if q.schedule != Schedule():
        data["schedule"] = _dump_schedule(q.schedule)
    data["items"] = [_dump_item(item) for item in q.items]
    if q.scoring is not None:
        data["scoring"] = _dump_scoring(q.scoring)
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100, indent=2)


def _dump_schedule(schedule: Schedule) -> dict[str, object]:
    data: dict[str, object] = {"kind": schedule.kind}
    if schedule.anchor != "start":
        data["anchor"] = schedule.anchor
    if schedule.start_day:
        data["start_day"] = schedule.start_day
    if schedule.end_day is not None:
        data["end_day"] = schedule.end_day
    if schedule.offsets:
        data["offsets"] = list(schedule.offsets)
    if schedule.backfill_days:
        data["backfill_days"] = schedule.backfill_days
    return data


def _dump_item(item: Item) -> dict[str, object]:
    data: dict[str, object] = {"linkId": item.link_id, "type": item.type}
    if item.text:
        data["text"] = dict(item.text)
    if item.hint:
        data["hint"] = dict(item.hint)
    if item.required:
        data["required"] = True
    if item.repeats:
        data["repeats"] = True
    if item.options:
        data["answerOption"] = [_dump_option(option) for option in item.options]
    if item.enable_when:
        data["enableWhen"] = [
            {"question": c.question, "operator": c.operator, "answer": c.answer}
            for c in item.enable_when
        ]
        if len(item.enable_when) > 1 or item.enable_behavior != "all":
            data["enableBehavior"] = item.enable_behavior
    for key, value in (
        ("minValue", item.min_value),
        ("maxValue", item.max_value),
        ("minLength", item.min_length),
        ("maxLength", item.max_length),
    ):
        if value is not None:
            data[key] = value
    if item.initial:
        data["initial"] = list(item.initial)
    if item.items:
        data["item"] = [_dump_item(child) for child in item.items]
    return data


def _dump_option(option: AnswerOption) -> dict[str, object]:
    data: dict[str, object] = {"code": option.code, "text": dict(option.text)}
    if option.score is not None:
        data["score"] = option.score
    return data


def _dump_range(data: dict[str, object], low: Decimal | None, high: Decimal | None) -> None:
    if low is not None:
        data["min"] = low
    if high is not None:
        data["max"] = high


def _dump_scoring(scoring: Scoring) -> dict[str, object]:
    data: dict[str, object] = {"items": list(scoring.items)}
    if scoring.reversed:
        data["reversed"] = list(scoring.reversed)
    if scoring.missing != "refuse":
        data["missing"] = scoring.missing
    if scoring.missing == "prorate" and scoring.max_missing:
        data["max_missing"] = scoring.max_missing
    if scoring.decimals:
        data["decimals"] = scoring.decimals
    if scoring.subscales:
        data["subscales"] = [
            {"key": s.key, "title": dict(s.title), "items": list(s.items)}
            for s in scoring.subscales
        ]
    if scoring.bands:
        bands = []
        for band in scoring.bands:
            entry: dict[str, object] = {"key": band.key}
            _dump_range(entry, band.min, band.max)
            entry["title"] = dict(band.title)
            if band.feedback:
                entry["feedback"] = dict(band.feedback)
            bands.append(entry)
        data["bands"] = bands
    if scoring.flags:
        flags = []
        for flag in scoring.flags:
            entry = {"key": flag.key, "scale": flag.scale}
            _dump_range(entry, flag.min, flag.max)
            entry["text"] = dict(flag.text)
            flags.append(entry)
        data["flags"] = flags
    return data
