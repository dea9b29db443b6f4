"""Automation rules of a programme, as plain data (no Django): what the engine runs.

A programme folder may hold ``automations.yaml`` (format: docs/automation.md). It is read and
validated with the rest of the folder (``steg.automation.rules.load_automations``) and stored
on the programme version as JSON (``to_json``/``from_json``), so an enrolment runs the rules of
the version it is pinned to.

A rule is a trigger, optional conditions and one or more actions:

Triggers (``Trigger.kind``)
    Events, handled right after the event's transaction commits:

    * ``activated``: the enrolment became active (the patient activated the invitation).
    * ``step_completed`` (``subject`` = step key): every page of the step is read.
    * ``page_read`` (``subject`` = page key).
    * ``questionnaire_submitted`` (``subject`` = questionnaire id).

    Times, fired by the scheduler at a local time of day (``at``, in the patient's time zone):

    * ``after``: ``days`` days after ``anchor`` (``start``: the day the enrolment started,
      ``quit_date``: the quit date; may be negative: -1 is the day before), at ``at``.
    * ``questionnaire_due`` (``subject`` = questionnaire id): ``days`` days after each day the
      questionnaire's schedule makes due (0: that day; 1: the day after), at ``at``. Follow-up
      questionnaires, and reminders of a missed diary day with the ``unanswered`` condition.
    * ``inactive``: when the patient has done nothing for ``days`` days, at ``at``; once per
      stretch of inactivity.
    * ``meeting``: ``hours`` hours before each booked meeting of the enrolment.

Conditions (all must hold when the rule fires)
    * ``score`` on a submitted questionnaire (``questionnaire_submitted``): ``at_least`` and/or
      ``at_most`` on the total, or ``band`` (the interpretation band's key), or ``flag`` (one
      of the flags the scoring raised).
    * ``answer``: the submitted response's answer to ``item`` equals ``equals``.
    * ``unanswered`` (``questionnaire_due``): the occurrence has no submitted response.
    * ``when``: an attribute condition as on pages (``tobacco:smoking|both``).
    * ``days_since``: the days from ``anchor`` (start or quit date) to the day the rule fires
      are within ``at_least``/``at_most`` (``{days_since_quit_date: {at_most: 28}}``).
    * ``quit_date``: ``set`` true/false — the enrolment has (or has no) quit date; with
      ``reached``, the quit date is set and has come: the day the rule fires for (for
      ``questionnaire_submitted``, the day the response is for) is the quit date or later
      (a diary that reports tobacco before the quit date is no slip).

Actions
    * ``message`` (``key`` = a message in the file's ``messages``): an automatic message in the
      patient's language, with placeholders filled in (steg/dialog/placeholders.py); the patient
      is notified as for any message.
    * ``remind``: a notification without any content ("there is something for you in Steg"),
      with a link to ``link`` (``start``, ``messages``, ``questionnaires``).
    * ``unlock`` (``key`` = step key): opens the step for the enrolment.
    * ``request_questionnaire`` (``key`` = questionnaire id): makes it due today.
    * ``flag`` (``texts`` = reason per language): flags the enrolment on the therapist's
      dashboard until the therapist clears it.
    * ``suggest_step_up`` (``level`` = ``phone_video`` or ``meeting``, ``texts`` = reason):
      a flag that also suggests the next rung of the care ladder.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "ACTION_KINDS",
    "EVENT_TRIGGERS",
    "STEP_UP_LEVELS",
    "TIME_TRIGGERS",
    "Action",
    "Automations",
    "Condition",
    "Rule",
    "Trigger",
    "from_json",
    "to_json",
]

EVENT_TRIGGERS = ("activated", "step_completed", "page_read", "questionnaire_submitted")
TIME_TRIGGERS = ("after", "questionnaire_due", "inactive", "meeting")
ACTION_KINDS = (
    "message",
    "remind",
    "unlock",
    "request_questionnaire",
    "flag",
    "suggest_step_up",
)
STEP_UP_LEVELS = ("phone_video", "meeting")
REMIND_LINKS = ("start", "messages", "questionnaires")
DEFAULT_AT = datetime.time(9, 0)

TriggerKind = Literal[
    "activated",
    "step_completed",
    "page_read",
    "questionnaire_submitted",
    "after",
    "questionnaire_due",
    "inactive",
    "meeting",
]
ConditionKind = Literal["score", "answer", "unanswered", "when", "quit_date", "days_since"]
ActionKind = Literal[
    "message", "remind", "unlock", "request_questionnaire", "flag", "suggest_step_up"
]


@dataclass(frozen=True)
class Trigger:
    kind: TriggerKind
    subject: str = ""  # step key, page key or questionnaire id
    anchor: Literal["start", "quit_date", ""] = ""  # `after`
    days: int = 0  # `after`, `questionnaire_due`, `inactive`
    at: datetime.time = DEFAULT_AT  # local time of day of the time triggers
    hours: int = 0  # `meeting`

    @property
    def is_event(self) -> bool:
        return self.kind in EVENT_TRIGGERS


@dataclass(frozen=True)
class Condition:
    kind: ConditionKind
    at_least: float | None = None  # score
    at_most: float | None = None  # score
    band: str = ""  # score
    flag: str = ""  # score
    item: str = ""  # answer
    equals: Any = None  # answer (text, number or true/false)
    when: str = ""  # attribute condition
    is_set: bool = True  # quit_date
    reached: bool = False  # quit_date: set, and the day is the quit date or later
    # days_since: whole days from the anchor ("start" or "quit_date") to the day the rule fires,
    # within at_least..at_most. Without a quit date it is before it: at_most holds, at_least not.
    anchor: str = ""


@dataclass(frozen=True)
class Action:
    kind: ActionKind
    key: str = ""  # message key, step key or questionnaire id
    texts: dict[str, str] = field(default_factory=dict)  # flag / step-up reason per language
    level: str = ""  # suggest_step_up
    link: str = "start"  # remind


@dataclass(frozen=True)
class Rule:
    key: str  # unique in the programme: the "rule" of every firing
    trigger: Trigger
    conditions: tuple[Condition, ...] = ()
    actions: tuple[Action, ...] = ()
    line: int | None = None  # where it is written in automations.yaml


@dataclass(frozen=True)
class Automations:
    rules: tuple[Rule, ...] = ()
    # Message texts by key, then language; placeholders as in message templates.
    messages: dict[str, dict[str, str]] = field(default_factory=dict)

    def rule(self, key: str) -> Rule | None:
        return next((rule for rule in self.rules if rule.key == key), None)

    def for_trigger(self, kind: str, subject: str = "") -> list[Rule]:
        return [
            rule
            for rule in self.rules
            if rule.trigger.kind == kind and (not subject or rule.trigger.subject == subject)
        ]


def to_json(automations: Automations) -> dict[str, Any]:
    """A JSON-able form, stored on the programme version."""

    def trigger(t: Trigger) -> dict[str, Any]:
        return {
            "kind": t.kind,
            "subject": t.subject,
            "anchor": t.anchor,
            "days": t.days,
            "at": t.at.strftime("%H:%M"),
            "hours": t.hours,
        }

    def condition(c: Condition) -> dict[str, Any]:
        return {
            "kind": c.kind,
            "at_least": c.at_least,
            "at_most": c.at_most,
            "band": c.band,
            "flag": c.flag,
            "item": c.item,
            "equals": c.equals,
            "when": c.when,
            "is_set": c.is_set,
            "reached": c.reached,
            "anchor": c.anchor,
        }

    def action(a: Action) -> dict[str, Any]:
        return {"kind": a.kind, "key": a.key, "texts": a.texts, "level": a.level, "link": a.link}

    return {
        "rules": [
            {
                "key": r.key,
                "trigger": trigger(r.trigger),
                "conditions": [condition(c) for c in r.conditions],
                "actions": [action(a) for a in r.actions],
                "line": r.line,
            }
            for r in automations.rules
        ],
        "messages": automations.messages,
    }


def from_json(data: dict[str, Any] | None) -> Automations:
    if not data:
        return Automations()
    rules = []
    for r in data.get("rules", []):
        t = dict(r["trigger"])
        hour, minute = (int(part) for part in t.pop("at").split(":"))
        rules.append(
            Rule(
                key=r["key"],
                trigger=Trigger(at=datetime.time(hour, minute), **t),
                conditions=tuple(Condition(**c) for c in r.get("conditions", [])),
                actions=tuple(Action(**a) for a in r.get("actions", [])),
                line=r.get("line"),
            )
        )
    return Automations(rules=tuple(rules), messages=dict(data.get("messages", {})))
