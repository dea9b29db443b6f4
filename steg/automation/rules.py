"""Read and validate a programme's ``automations.yaml`` (no Django): the rules the engine runs.

The format is documented in ``docs/automation.md`` ("Rules file"); the data it becomes is
:mod:`steg.automation.spec`. :func:`load_automations` checks the whole file against what the
programme holds (its languages, steps, pages, questionnaires and attributes) and reports
*every* problem, each with its file and line, to a shared :class:`~steg.lib.yamldoc.Problems`,
exactly as the programme and questionnaire readers do; the programme loader
(``steg.programmes.format.load_programme``) calls it once the rest of the folder is known.

Placeholders in messages are checked with ``steg.dialog.placeholders.validate_placeholders``;
that module reads Django settings only inside its rendering functions, so importing it needs no
configured Django.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any, cast

from yaml.nodes import MappingNode, Node, ScalarNode

from steg.automation.spec import (
    ACTION_KINDS,
    DEFAULT_AT,
    EVENT_TRIGGERS,
    REMIND_LINKS,
    STEP_UP_LEVELS,
    TIME_TRIGGERS,
    Action,
    Automations,
    Condition,
    Rule,
    Trigger,
)
from steg.dialog.placeholders import PLACEHOLDERS, validate_placeholders
from steg.lib.yamldoc import BAD, SLUG_RE, Problems, YamlDoc, describe
from steg.programmes.conditions import ConditionError, check_condition, parse_condition
from steg.questionnaires.definition import Questionnaire, Schedule

__all__ = [
    "CONDITION_KINDS",
    "MAX_AFTER_DAYS",
    "MAX_HOURS",
    "MAX_MESSAGE_LENGTH",
    "MAX_RULE_KEY_LENGTH",
    "MIN_AFTER_DAYS",
    "is_ever_due",
    "load_automations",
]

TRIGGER_KINDS: tuple[str, ...] = EVENT_TRIGGERS + TIME_TRIGGERS
CONDITION_KINDS: tuple[str, ...] = (
    "score",
    "answer",
    "unanswered",
    "when",
    "quit_date",
    "days_since_quit_date",
    "days_since_start",
)
#: ``after``: from a month before the anchor to two years after it.
MIN_AFTER_DAYS = -30
MAX_AFTER_DAYS = 730
#: ``meeting``: from an hour to a week before the meeting.
MAX_HOURS = 168
#: As ``steg.dialog.models.Message.MAX_LENGTH`` (not imported: no Django here).
MAX_MESSAGE_LENGTH = 5000
#: As the ``rule`` fields of ``Firing`` and ``Message``.
MAX_RULE_KEY_LENGTH = 100

_TIME_RE = re.compile(r"^([01]?[0-9]|2[0-3]):([0-5][0-9])$")
# A tag, a comment or a character reference: messages are plain text.
_HTML_RE = re.compile(r"<\s*/?\s*[A-Za-z!?]|&(?:[A-Za-z]+|#[0-9]+|#x[0-9A-Fa-f]+);")
_BOOL_TAG = "tag:yaml.org,2002:bool"
# The options each trigger takes besides its own value.
_TRIGGER_OPTIONS: dict[str, tuple[str, ...]] = {
    "activated": (),
    "step_completed": (),
    "page_read": (),
    "questionnaire_submitted": (),
    "after": ("days", "at"),
    "questionnaire_due": ("days", "at"),
    "inactive": ("at",),
    "meeting": (),
}
_TRIGGER_FORMS = (
    "activated, {step_completed: <step>}, {page_read: <page>}, "
    "{questionnaire_submitted: <questionnaire>}, {after: start|quit_date, days: N, at: HH:MM}, "
    "{questionnaire_due: <questionnaire>, days: N, at: HH:MM}, {inactive: N, at: HH:MM} "
    "or {meeting: N}"
)
_CONDITION_FORMS = (
    "{score: {at_least: N, at_most: N, band: <band>, flag: <flag>}}, "
    "{answer: {item: <linkId>, equals: <value>}}, unanswered, {when: <attribute>:<value>}, "
    "{quit_date: set|unset|reached}, {days_since_quit_date: {at_least: N, at_most: N}}, "
    "{days_since_start: {at_least: N, at_most: N}}"
)
_ACTION_FORMS = (
    "{message: <key>}, {remind: start|messages|questionnaires}, {unlock: <step>}, "
    "{request_questionnaire: <questionnaire>}, {flag: {sv: ..., en: ...}}, "
    "{suggest_step_up: {level: phone_video|meeting, reason: {sv: ..., en: ...}}}"
)
# The trigger a condition needs.
_CONDITION_TRIGGERS = {
    "score": "questionnaire_submitted",
    "answer": "questionnaire_submitted",
    "unanswered": "questionnaire_due",
}
_QUIT_DATE_STATES = {"set": (True, False), "unset": (False, False), "reached": (True, True)}


def load_automations(
    file: str,
    text: str,
    *,
    languages: Sequence[str],
    steps: Mapping[str, Sequence[str]],
    pages: Collection[str],
    questionnaires: Mapping[str, Questionnaire | None],
    attributes: Mapping[str, Sequence[str] | None] | None,
    problems: Problems,
) -> Automations | None:
    """Parse and validate an ``automations.yaml``; None when it has problems.

    ``steps`` maps each step key to its page keys; ``pages`` holds every page key;
    ``questionnaires`` the questionnaires a rule may name, by id: the programme's own and the
    library instruments its pages embed. A None there is a questionnaire that exists but is
    broken (its own problems are reported): a rule may name it, and nothing more is checked.
    ``attributes`` maps each declared attribute to its values (None: that declaration is
    broken); None altogether when the declarations cannot be read, so that ``when``
    conditions are checked for their syntax only. Every problem goes to ``problems``.
    """
    before = len(problems.items)
    reader = _Reader(
        YamlDoc(file, text, problems),
        languages=tuple(languages),
        steps=steps,
        pages=pages,
        questionnaires=questionnaires,
        attributes=attributes,
    )
    automations = reader.read()
    return automations if len(problems.items) == before else None


def is_ever_due(schedule: Schedule) -> bool:
    """Whether a schedule makes its questionnaire due on some day (given an anchor)."""
    if schedule.kind == "once":
        return True
    if schedule.kind == "offsets":
        return bool(schedule.offsets)
    if schedule.kind in ("daily", "weekly"):
        return schedule.end_day is None or schedule.end_day >= schedule.start_day
    return False


def _listed(values: Collection[str]) -> str:
    return ", ".join(sorted(values)) or "none"


class _Reader:
    def __init__(
        self,
        doc: YamlDoc,
        *,
        languages: tuple[str, ...],
        steps: Mapping[str, Sequence[str]],
        pages: Collection[str],
        questionnaires: Mapping[str, Questionnaire | None],
        attributes: Mapping[str, Sequence[str] | None] | None,
    ) -> None:
        self.doc = doc
        self.languages = languages
        self.steps = steps
        self.pages = pages
        self.questionnaires = questionnaires
        self.attributes = attributes
        # Message keys the actions use, with the line of their first use.
        self.used_messages: dict[str, int] = {}
        # The kind of trigger of the rule being read (None: unknown).
        self.trigger_kind: str | None = None

    def problem(self, node: Node | None, message: str) -> None:
        self.doc.problem(node, message)

    # -- reading helpers

    def mapping(self, node: Node | None, what: str) -> dict[str, Node] | None:
        """Like ``YamlDoc.mapping``, but a plain ``on``, ``yes`` … as a key is that text
        (YAML 1.1 reads it as true/false, and ``on:`` is what a rule's trigger is called)."""
        if not isinstance(node, MappingNode):
            self.problem(node, f"{what} must be a mapping of keys to values")
            return None
        entries: dict[str, Node] = {}
        for key_node, value_node in node.value:
            key: object
            if isinstance(key_node, ScalarNode) and key_node.tag == _BOOL_TAG:
                key = key_node.value
            else:
                key = self.doc.value(key_node)
            if key is BAD:
                continue
            if not isinstance(key, str):
                self.problem(key_node, f"{what}: keys must be text, not {describe(key)}")
            elif key in entries:
                self.problem(key_node, f"{what}: '{key}' is given twice")
            else:
                entries[key] = value_node
        return entries

    def single(
        self, node: Node, what: str, kinds: Sequence[str], forms: str
    ) -> tuple[str, Node] | None:
        """The kind a one-key mapping names and its value, as in ``{message: welcome}``."""
        entries = self.mapping(node, what)
        if entries is None:
            return None
        if len(entries) != 1:
            self.problem(node, f"{what}: one at a time; write {forms}")
            return None
        kind, value = next(iter(entries.items()))
        if kind not in kinds:
            self.problem(node, f"{what}: unknown '{kind}' (write {forms})")
            return None
        return kind, value

    def number(self, node: Node, what: str) -> float | None:
        value = self.doc.value(node)
        if value is BAD:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(node, f"{what} must be a number, not {describe(value)}")
            return None
        return float(value)

    def whole(self, node: Node, what: str, low: int, high: int, hint: str = "") -> int | None:
        value = self.doc.integer(node, what)
        if value is not None and not low <= value <= high:
            self.problem(node, f"{what} must be from {low} to {high}, not {value}{hint}")
            return None
        return value

    def time_of_day(self, node: Node, what: str) -> datetime.time | None:
        # The source text: YAML 1.1 reads an unquoted 18:00 as the number 1080.
        raw = node.value if isinstance(node, ScalarNode) else None
        match = _TIME_RE.match(raw.strip()) if isinstance(raw, str) else None
        if match is None:
            shown = f"'{raw}'" if isinstance(raw, str) else describe(self.doc.value(node))
            self.problem(node, f'{what} must be a time of day HH:MM, such as "18:00", not {shown}')
            return None
        return datetime.time(int(match.group(1)), int(match.group(2)))

    def plain_texts(self, node: Node, what: str, *, placeholders: bool) -> dict[str, str] | None:
        """Text per programme language, plain (no HTML); placeholders only where allowed."""
        texts = self.doc.texts(node, what, self.languages)
        ok = texts is not None
        # Each text in a programme language is checked even when another one is broken.
        present = [
            (key_node.value, value_node)
            for key_node, value_node in (node.value if isinstance(node, MappingNode) else ())
            if isinstance(key_node, ScalarNode)
            and key_node.value in self.languages
            and isinstance(value_node, ScalarNode)
            and value_node.tag == "tag:yaml.org,2002:str"
        ]
        for language, where in present:
            text = str(where.value).strip()
            label = f"{what} ({language})"
            if _HTML_RE.search(text):
                self.problem(
                    where,
                    f"{label} is plain text: no HTML tags or entities (write the text itself)",
                )
                ok = False
            if len(text) > MAX_MESSAGE_LENGTH:
                self.problem(
                    where, f"{label} is {len(text)} characters long; at most {MAX_MESSAGE_LENGTH}"
                )
                ok = False
            unknown = validate_placeholders(text)
            if not placeholders and ("{" in text or "}" in text):
                self.problem(
                    where,
                    f"{label} is shown to the therapist as written: no placeholders or braces",
                )
                ok = False
            elif unknown:
                known = ", ".join(f"{{{name}}}" for name in PLACEHOLDERS)
                self.problem(
                    where,
                    f"{label}: unknown placeholder {', '.join(unknown)} (known: {known}; "
                    "write {{ and }} for a brace)",
                )
                ok = False
        return texts if ok else None

    # -- the file

    def read(self) -> Automations:
        doc = self.doc
        if doc.root is None:
            if not any(p.file == doc.file for p in doc.problems.items):
                doc.problems.add(
                    doc.file, 1, "is empty: write 'rules:' with a list of rules, or remove the file"
                )
            return Automations()
        entries = self.mapping(doc.root, "automations")
        if entries is None:
            return Automations()
        doc.check_keys(doc.root, entries, "automations", ("rules",), ("messages",))
        messages: dict[str, dict[str, str]] = {}
        message_nodes: dict[str, Node] = {}
        messages_ok = True
        if "messages" in entries:
            messages_ok = self.messages(entries["messages"], messages, message_nodes)
        rules: list[Rule] = []
        nodes = None
        if "rules" in entries:
            nodes = doc.sequence(entries["rules"], "rules")
            seen: dict[str, int] = {}
            for index, node in enumerate(nodes or []):
                rule = self.rule(node, index, seen)
                if rule is not None:
                    rules.append(rule)
        for key, line in self.used_messages.items():
            if key not in messages and messages_ok:
                doc.problems.add(
                    doc.file,
                    line,
                    f"message '{key}' is not under 'messages' (known: {_listed(messages)})",
                )
        for key in message_nodes:
            if key not in self.used_messages and nodes is not None:
                doc.problems.add(
                    doc.file,
                    doc.key_line(entries["messages"], key),
                    f"message '{key}' is not used by any rule (use it or remove it)",
                )
        return Automations(rules=tuple(rules), messages=messages)

    def messages(
        self, node: Node, messages: dict[str, dict[str, str]], nodes: dict[str, Node]
    ) -> bool:
        """Read ``messages``; False when the list itself is broken (keys unknown)."""
        entries = self.mapping(node, "messages")
        if entries is None:
            return False
        for key, value_node in entries.items():
            nodes[key] = value_node
            what = f"message '{key}'"
            if not SLUG_RE.match(key):
                self.doc.problems.add(
                    self.doc.file,
                    self.doc.key_line(node, key),
                    f"message key '{key}' must be lower-case letters, digits and single hyphens",
                )
            texts = self.plain_texts(value_node, what, placeholders=True)
            if texts is not None:
                messages[key] = texts
        # A message whose texts are broken is still known: its use is no second problem.
        for key in nodes:
            messages.setdefault(key, {})
        return True

    # -- a rule

    def rule(self, node: Node, index: int, seen: dict[str, int]) -> Rule | None:
        doc = self.doc
        what = f"rule {index + 1}"
        entries = self.mapping(node, what)
        if entries is None:
            return None
        key: str | None = None
        if "key" in entries:
            key = doc.slug(entries["key"], f"{what}: key")
            if key is not None and len(key) > MAX_RULE_KEY_LENGTH:
                self.problem(
                    entries["key"], f"{what}: key is longer than {MAX_RULE_KEY_LENGTH} characters"
                )
                key = None
            if key is not None:
                what = f"rule '{key}'"
                if key in seen:
                    self.problem(
                        entries["key"],
                        f"rule key '{key}' is already used on line {seen[key]}: "
                        "every rule needs its own key",
                    )
                    key = None
                else:
                    seen[key] = doc.line(entries["key"])
        doc.check_keys(node, entries, what, ("key", "on", "do"), ("if",))
        trigger = self.trigger(entries["on"], what) if "on" in entries else None
        # Conditions are checked against the kind of trigger even when the rest of it is broken.
        self.trigger_kind = _trigger_kind(entries["on"]) if "on" in entries else None
        conditions: list[Condition] | None = []
        if "if" in entries:
            conditions = self.conditions(entries["if"], what, trigger)
        actions = self.actions(entries["do"], what) if "do" in entries else None
        if key is None or trigger is None or conditions is None or actions is None:
            return None
        return Rule(
            key=key,
            trigger=trigger,
            conditions=tuple(conditions),
            actions=tuple(actions),
            line=doc.line(node),
        )

    # -- triggers

    def trigger(self, node: Node, what: str) -> Trigger | None:
        what = f"{what}: on"
        if isinstance(node, ScalarNode):
            kind = node.value
            if kind == "activated":
                return Trigger("activated")
            if kind in TRIGGER_KINDS:
                self.problem(node, f"{what}: {kind} needs more: write {_TRIGGER_FORMS}")
            else:
                self.problem(node, f"{what}: unknown trigger '{kind}' (write {_TRIGGER_FORMS})")
            return None
        entries = self.mapping(node, what)
        if entries is None:
            return None
        kinds = [key for key in entries if key in TRIGGER_KINDS]
        if not kinds:
            self.problem(
                node,
                f"{what}: name the trigger ({', '.join(TRIGGER_KINDS)}); write {_TRIGGER_FORMS}",
            )
            return None
        if len(kinds) > 1:
            self.problem(node, f"{what}: one trigger per rule, not {' and '.join(kinds)}")
            return None
        kind = kinds[0]
        if kind == "activated":
            self.problem(node, f"{what}: write 'on: activated', without a value")
            return None
        self.doc.check_keys(node, entries, f"{what} {kind}", (kind,), _TRIGGER_OPTIONS[kind])
        value = entries[kind]
        at = DEFAULT_AT
        if "at" in entries:
            at = self.time_of_day(entries["at"], f"{what}: at") or DEFAULT_AT
        if kind == "step_completed":
            step = self.doc.slug(value, f"{what}: step")
            if step is not None and step not in self.steps:
                self.problem(value, f"{what}: unknown step '{step}' (steps: {_listed(self.steps)})")
                return None
            return None if step is None else Trigger("step_completed", subject=step)
        if kind == "page_read":
            page = self.doc.slug(value, f"{what}: page")
            if page is not None and page not in self.pages:
                self.problem(value, f"{what}: unknown page '{page}'")
                return None
            return None if page is None else Trigger("page_read", subject=page)
        if kind == "questionnaire_submitted":
            qid = self.questionnaire(value, what)
            return None if qid is None else Trigger("questionnaire_submitted", subject=qid)
        if kind == "after":
            return self.after_trigger(node, entries, what, at)
        if kind == "questionnaire_due":
            return self.due_trigger(entries, what, at)
        if kind == "inactive":
            days = self.whole(
                value, f"{what}: inactive days", 1, MAX_AFTER_DAYS, " (days without activity)"
            )
            return None if days is None else Trigger("inactive", days=days, at=at)
        # meeting
        hours = self.whole(value, f"{what}: meeting hours", 1, MAX_HOURS, " (hours before it)")
        return None if hours is None else Trigger("meeting", hours=hours)

    def after_trigger(
        self, node: Node, entries: dict[str, Node], what: str, at: datetime.time
    ) -> Trigger | None:
        anchor_node = entries["after"]
        anchor = self.doc.value(anchor_node)
        ok = True
        if anchor not in ("start", "quit_date"):
            shown = f"'{anchor}'" if isinstance(anchor, str) else describe(anchor)
            self.problem(anchor_node, f"{what}: after must be start or quit_date, not {shown}")
            ok = False
        if "days" not in entries:
            self.problem(node, f"{what}: after needs days: the number of days after {anchor}")
            return None
        low = 0 if anchor == "start" else MIN_AFTER_DAYS
        hint = " (a rule cannot fire before the treatment starts)" if anchor == "start" else ""
        days = self.whole(entries["days"], f"{what}: days", low, MAX_AFTER_DAYS, hint)
        if days is None or not ok:
            return None
        return Trigger("after", anchor=cast(Any, anchor), days=days, at=at)

    def due_trigger(self, entries: dict[str, Node], what: str, at: datetime.time) -> Trigger | None:
        value = entries["questionnaire_due"]
        qid = self.questionnaire(value, what)
        days = 0
        if "days" in entries:
            found = self.whole(
                entries["days"],
                f"{what}: days",
                0,
                MAX_AFTER_DAYS,
                " (days after the day it is due: 0 is that day)",
            )
            if found is None:
                return None
            days = found
        if qid is None:
            return None
        questionnaire = self.questionnaires.get(qid)
        if questionnaire is not None and not is_ever_due(questionnaire.schedule):
            self.problem(
                value, f"{what}: questionnaire '{qid}' is never due: its schedule has no day"
            )
            return None
        return Trigger("questionnaire_due", subject=qid, days=days, at=at)

    def questionnaire(self, node: Node, what: str) -> str | None:
        qid = self.doc.slug(node, f"{what}: questionnaire")
        if qid is not None and qid not in self.questionnaires:
            self.problem(
                node,
                f"{what}: unknown questionnaire '{qid}' (the programme's own in questionnaires/, "
                "or a library instrument that a page embeds with '::: questionnaire <id>'; "
                f"known: {_listed(self.questionnaires)})",
            )
            return None
        return qid

    # -- conditions

    def conditions(self, node: Node, what: str, trigger: Trigger | None) -> list[Condition] | None:
        nodes = self.doc.sequence(node, f"{what}: if")
        if nodes is None:
            return None
        result: list[Condition] = []
        ok = True
        for item in nodes:
            condition = self.condition(item, f"{what}: if", trigger)
            if condition is None:
                ok = False
            else:
                result.append(condition)
        return result if ok else None

    def condition(self, node: Node, what: str, trigger: Trigger | None) -> Condition | None:
        if isinstance(node, ScalarNode):
            if node.value == "unanswered":
                return self.fits(node, what, Condition("unanswered"), trigger)
            if node.value in CONDITION_KINDS:
                self.problem(node, f"{what}: {node.value} needs more: write {_CONDITION_FORMS}")
            else:
                self.problem(
                    node, f"{what}: unknown condition '{node.value}' (write {_CONDITION_FORMS})"
                )
            return None
        found = self.single(node, what, CONDITION_KINDS, _CONDITION_FORMS)
        if found is None:
            return None
        kind, value = found
        condition: Condition | None
        if kind == "unanswered":
            self.problem(node, f"{what}: write 'unanswered' on its own, without a value")
            return None
        if kind == "when":
            condition = self.when(value, what)
        elif kind == "quit_date":
            condition = self.quit_date(value, what, trigger)
        elif kind in ("days_since_quit_date", "days_since_start"):
            condition = self.days_since(value, f"{what}: {kind}", kind.removeprefix("days_since_"))
        elif kind == "score":
            condition = self.score(value, what, trigger)
        else:
            condition = self.answer(value, what, trigger)
        return None if condition is None else self.fits(node, what, condition, trigger)

    def fits(
        self, node: Node, what: str, condition: Condition, trigger: Trigger | None
    ) -> Condition | None:
        """Score and answer need a submitted questionnaire; unanswered a due one."""
        wanted = _CONDITION_TRIGGERS.get(condition.kind)
        kind = self.trigger_kind
        if wanted is not None and kind is not None and kind != wanted:
            self.problem(
                node, f"{what}: {condition.kind} works only with the trigger {wanted}, not {kind}"
            )
            return None
        if trigger is None:
            return condition
        questionnaire = self.questionnaires.get(trigger.subject)
        if condition.kind == "unanswered" and questionnaire is not None:
            schedule = questionnaire.schedule
            if schedule.kind != "once" and trigger.days > schedule.backfill_days:
                self.problem(
                    node,
                    f"{what}: unanswered {trigger.days} days after the day is too late: "
                    f"questionnaire '{questionnaire.id}' can be filled in for "
                    f"{schedule.backfill_days} days after its day (backfill_days)",
                )
                return None
        return condition

    def when(self, node: Node, what: str) -> Condition | None:
        text = self.doc.text(node, f"{what}: when")
        if text is None:
            return None
        try:
            condition = parse_condition(text)
            declared = self.attributes
            if declared is not None and not (
                condition.attribute in declared and declared[condition.attribute] is None
            ):
                check_condition(
                    text, {name: values for name, values in declared.items() if values is not None}
                )
        except ConditionError as exc:
            self.problem(node, f"{what}: {exc}")
            return None
        return Condition("when", when=text)

    def quit_date(self, node: Node, what: str, trigger: Trigger | None) -> Condition | None:
        value = self.doc.value(node)
        if value is BAD:
            return None
        if not isinstance(value, str) or value not in _QUIT_DATE_STATES:
            shown = f"'{value}'" if isinstance(value, str) else describe(value)
            self.problem(node, f"{what}: quit_date must be set, unset or reached, not {shown}")
            return None
        is_set, reached = _QUIT_DATE_STATES[value]
        if not is_set and trigger is not None and trigger.anchor == "quit_date":
            self.problem(
                node,
                f"{what}: quit_date unset never holds here: a rule after the quit date "
                "fires only when there is one",
            )
            return None
        return Condition("quit_date", is_set=is_set, reached=reached)

    def days_since(self, node: Node, what: str, anchor: str) -> Condition | None:
        entries = self.mapping(node, what)
        if entries is None:
            return None
        self.doc.check_keys(node, entries, what, (), ("at_least", "at_most"))
        if not entries.keys() & {"at_least", "at_most"}:
            self.problem(node, f"{what}: give at_least, at_most or both (whole days)")
            return None
        found: dict[str, int | None] = {}
        for key in ("at_least", "at_most"):
            if key in entries:
                found[key] = self.whole(entries[key], f"{what}: {key}", MIN_AFTER_DAYS, 3650)
                if found[key] is None:
                    return None
        at_least, at_most = found.get("at_least"), found.get("at_most")
        if at_least is not None and at_most is not None and at_least > at_most:
            self.problem(node, f"{what}: at_least ({at_least}) is above at_most ({at_most})")
            return None
        return Condition(
            "days_since",
            anchor=anchor,
            at_least=None if at_least is None else float(at_least),
            at_most=None if at_most is None else float(at_most),
        )

    def submitted(self, trigger: Trigger | None) -> Questionnaire | None:
        """The questionnaire of a ``questionnaire_submitted`` trigger, when it can be checked."""
        if trigger is None or trigger.kind != "questionnaire_submitted":
            return None
        return self.questionnaires.get(trigger.subject)

    def score(self, node: Node, what: str, trigger: Trigger | None) -> Condition | None:
        what = f"{what}: score"
        entries = self.mapping(node, what)
        if entries is None:
            return None
        options = ("at_least", "at_most", "band", "flag")
        self.doc.check_keys(node, entries, what, (), options)
        if not any(key in entries for key in options):
            self.problem(node, f"{what}: give at_least, at_most, band or flag")
            return None
        questionnaire = self.submitted(trigger)
        scoring = questionnaire.scoring if questionnaire is not None else None
        if questionnaire is not None and scoring is None:
            self.problem(node, f"{what}: questionnaire '{questionnaire.id}' is not scored")
            return None
        ok = True
        found: dict[str, Any] = {}
        for key in ("at_least", "at_most"):
            if key in entries:
                found[key] = self.number(entries[key], f"{what}: {key}")
                ok = ok and found[key] is not None
        at_least, at_most = found.get("at_least"), found.get("at_most")
        if at_least is not None and at_most is not None and at_least > at_most:
            self.problem(node, f"{what}: at_least ({at_least:g}) is above at_most ({at_most:g})")
            ok = False
        for key, known in (
            ("band", [band.key for band in scoring.bands] if scoring else None),
            ("flag", [flag.key for flag in scoring.flags] if scoring else None),
        ):
            if key not in entries:
                continue
            text = self.doc.text(entries[key], f"{what}: {key}")
            if text is None:
                ok = False
            elif known is not None and text not in known:
                assert questionnaire is not None  # noqa: S101 - known comes from its scoring
                self.problem(
                    entries[key],
                    f"{what}: questionnaire '{questionnaire.id}' has no {key} '{text}' "
                    f"(its {key}s: {', '.join(known) or 'none'})",
                )
                ok = False
            found[key] = text
        if not ok:
            return None
        return Condition(
            "score",
            at_least=at_least,
            at_most=at_most,
            band=found.get("band") or "",
            flag=found.get("flag") or "",
        )

    def answer(self, node: Node, what: str, trigger: Trigger | None) -> Condition | None:
        what = f"{what}: answer"
        entries = self.mapping(node, what)
        if entries is None:
            return None
        self.doc.check_keys(node, entries, what, ("item", "equals"))
        if "item" not in entries or "equals" not in entries:
            return None
        link_id = self.doc.text(entries["item"], f"{what}: item")
        equals = self.doc.value(entries["equals"])
        if link_id is None or equals is BAD:
            return None
        questionnaire = self.submitted(trigger)
        if questionnaire is None:
            if not isinstance(equals, bool | int | float | str):
                self.problem(
                    entries["equals"],
                    f"{what}: equals must be true/false, a number or text, not {describe(equals)}",
                )
                return None
            return Condition("answer", item=link_id, equals=equals)
        item = questionnaire.item(link_id)
        if item is None or item.type in ("display", "group"):
            answerable = [
                i.link_id for i in questionnaire.all_items() if i.type not in ("display", "group")
            ]
            self.problem(
                entries["item"],
                f"{what}: questionnaire '{questionnaire.id}' has no question '{link_id}' "
                f"(its questions: {', '.join(answerable)})",
            )
            return None
        problem = _equals_problem(item.type, [o.code for o in item.options], equals)
        if problem is not None:
            self.problem(entries["equals"], f"{what}: item '{link_id}' is {problem}")
            return None
        return Condition("answer", item=link_id, equals=equals)

    # -- actions

    def actions(self, node: Node, what: str) -> list[Action] | None:
        nodes = self.doc.sequence(node, f"{what}: do")
        if nodes is None:
            return None
        if not nodes:
            self.problem(node, f"{what}: do lists no action; a rule needs at least one")
            return None
        result: list[Action] = []
        ok = True
        for item in nodes:
            action = self.action(item, f"{what}: do")
            if action is None:
                ok = False
            else:
                result.append(action)
        return result if ok else None

    def action(self, node: Node, what: str) -> Action | None:
        if isinstance(node, ScalarNode):
            name = node.value
            if name in ACTION_KINDS:
                self.problem(node, f"{what}: {name} needs a value: write {_ACTION_FORMS}")
            else:
                self.problem(node, f"{what}: unknown action '{name}' (write {_ACTION_FORMS})")
            return None
        found = self.single(node, what, ACTION_KINDS, _ACTION_FORMS)
        if found is None:
            return None
        kind, value = found
        what = f"{what}: {kind}"
        if kind == "message":
            key = self.doc.slug(value, what)
            if key is None:
                return None
            self.used_messages.setdefault(key, self.doc.line(value))
            return Action("message", key=key)
        if kind == "remind":
            link = self.doc.value(value)
            if link not in REMIND_LINKS:
                shown = f"'{link}'" if isinstance(link, str) else describe(link)
                self.problem(value, f"{what} must be one of {', '.join(REMIND_LINKS)}, not {shown}")
                return None
            return Action("remind", link=cast(str, link))
        if kind == "unlock":
            step = self.doc.slug(value, what)
            if step is not None and step not in self.steps:
                self.problem(value, f"{what}: unknown step '{step}' (steps: {_listed(self.steps)})")
                return None
            return None if step is None else Action("unlock", key=step)
        if kind == "request_questionnaire":
            qid = self.questionnaire(value, what)
            return None if qid is None else Action("request_questionnaire", key=qid)
        if kind == "flag":
            texts = self.plain_texts(value, f"{what} reason", placeholders=False)
            return None if texts is None else Action("flag", texts=texts)
        return self.step_up(value, what)

    def step_up(self, node: Node, what: str) -> Action | None:
        entries = self.mapping(node, what)
        if entries is None:
            return None
        self.doc.check_keys(node, entries, what, ("level", "reason"))
        if "level" not in entries or "reason" not in entries:
            return None
        level = self.doc.value(entries["level"])
        ok = True
        if level not in STEP_UP_LEVELS:
            shown = f"'{level}'" if isinstance(level, str) else describe(level)
            self.problem(
                entries["level"],
                f"{what}: level must be one of {', '.join(STEP_UP_LEVELS)}, not {shown}",
            )
            ok = False
        texts = self.plain_texts(entries["reason"], f"{what}: reason", placeholders=False)
        if texts is None or not ok:
            return None
        return Action("suggest_step_up", level=cast(str, level), texts=texts)


def _trigger_kind(node: Node) -> str | None:
    """The kind of trigger ``on`` names, whether or not the rest of it is right."""
    if isinstance(node, ScalarNode):
        return node.value if node.value in TRIGGER_KINDS else None
    if isinstance(node, MappingNode):
        kinds = [
            key.value
            for key, _ in node.value
            if isinstance(key, ScalarNode) and key.value in TRIGGER_KINDS
        ]
        return kinds[0] if len(kinds) == 1 else None
    return None


def _equals_problem(item_type: str, codes: list[str], equals: object) -> str | None:
    """What is wrong with comparing an item of this type to ``equals``, or None."""
    if item_type == "boolean":
        return None if isinstance(equals, bool) else "yes/no: equals must be true or false"
    if item_type == "choice":
        if isinstance(equals, str) and equals in codes:
            return None
        shown = f"'{equals}'" if isinstance(equals, str) else describe(equals)
        return f"a choice: equals must be one of its codes ({', '.join(codes)}), not {shown}"
    if item_type == "integer":
        if isinstance(equals, int) and not isinstance(equals, bool):
            return None
        return f"a whole number: equals must be one, not {describe(equals)}"
    if item_type == "decimal":
        if isinstance(equals, int | float) and not isinstance(equals, bool):
            return None
        return f"a number: equals must be one, not {describe(equals)}"
    if item_type in ("string", "text", "open-choice"):
        return (
            None
            if isinstance(equals, str)
            else f"text: equals must be text, not {describe(equals)}"
        )
    return f"of type {item_type}: answer conditions work on yes/no, choice, number and text items"
