"""The rules file (automations.yaml): what it reads, every problem it reports, and the tobacco
programme's rules. Pure tests of the reader, and one import through the database."""

from __future__ import annotations

import datetime
import shutil
from pathlib import Path
from typing import Any

import pytest

from steg.automation.rules import load_automations
from steg.automation.spec import (
    Action,
    Automations,
    Condition,
    Rule,
    Trigger,
    from_json,
    to_json,
)
from steg.lib.yamldoc import Problems, ProgrammeFormatError
from steg.programmes.format import ProgrammeSpec, load_programme
from steg.questionnaires.definition import Item, Questionnaire, Schedule
from steg.questionnaires.library import library_ids
from steg.questionnaires.parse import load_questionnaire_text

ROOT = Path(__file__).resolve().parents[3]
TOBACCO = ROOT / "programmes" / "tobacco-cessation"
EXAMPLE = ROOT / "programmes" / "example"
TOBACCO_AIDS = frozenset(
    {"medication-list", "savings", "craving-first-aid", "my-plan", "quit-date"}
)
FILE = "automations.yaml"

DIARY = """\
id: diary
title: {sv: Dagbok, en: Diary}
schedule: {kind: daily, anchor: start, backfill_days: 3}
items:
  - {linkId: used, type: boolean, text: {sv: Rökt, en: Smoked}}
  - {linkId: cigarettes, type: integer, text: {sv: Antal, en: Number}}
  - {linkId: weight, type: decimal, text: {sv: Vikt, en: Weight}}
  - {linkId: note, type: text, text: {sv: Anteckning, en: Note}}
  - {linkId: when, type: date, text: {sv: När, en: When}}
  - {linkId: intro, type: display, text: {sv: Hej, en: Hello}}
  - linkId: mood
    type: choice
    text: {sv: Humör, en: Mood}
    answerOption:
      - {code: good, text: {sv: Bra, en: Good}}
      - {code: bad, text: {sv: Dåligt, en: Bad}}
"""
TEST = """\
id: test
title: {sv: Test, en: Test}
items:
  - linkId: a
    type: choice
    text: {sv: A, en: A}
    answerOption:
      - {code: "no", text: {sv: Nej, en: "No"}, score: 0}
      - {code: "yes", text: {sv: Ja, en: "Yes"}, score: 10}
scoring:
  items: [a]
  bands:
    - {key: low, min: 0, max: 5, title: {sv: Låg, en: Low}, feedback: {sv: L, en: L}}
    - {key: high, min: 6, max: 10, title: {sv: Hög, en: High}, feedback: {sv: H, en: H}}
  flags:
    - {key: medication, scale: total, min: 7, text: {sv: Läkemedel, en: Medication}}
"""
FOLLOW_UP = """\
id: follow-up
title: {sv: Uppföljning, en: Follow-up}
schedule: {kind: offsets, anchor: quit_date, offsets: [90, 180], backfill_days: 30}
items:
  - {linkId: smoked, type: boolean, text: {sv: Rökt, en: Smoked}}
"""
LANGUAGES = ("sv", "en")


def questionnaires() -> dict[str, Questionnaire | None]:
    found: dict[str, Questionnaire | None] = {
        text.split("\n", 1)[0].removeprefix("id: "): load_questionnaire_text(
            text, languages=LANGUAGES
        )
        for text in (DIARY, TEST, FOLLOW_UP)
    }
    # Built by hand: the questionnaire reader refuses a schedule without a day.
    found["never"] = Questionnaire(
        id="never",
        title={"sv": "Aldrig", "en": "Never"},
        languages=LANGUAGES,
        items=(Item("x", "boolean", {"sv": "X", "en": "X"}),),
        schedule=Schedule(kind="offsets", offsets=()),
    )
    found["broken"] = None  # exists, but its own file has problems
    return found


def read(text: str, **context: Any) -> tuple[Automations | None, list[str]]:
    problems = Problems()
    arguments: dict[str, Any] = {
        "languages": LANGUAGES,
        "steps": {"preparation": ["quit-date"], "hold-on": ["slip"]},
        "pages": {"quit-date", "slip"},
        "questionnaires": questionnaires(),
        "attributes": {"tobacco": ("smoking", "snus", "both")},
    }
    arguments.update(context)
    automations = load_automations(FILE, text, problems=problems, **arguments)
    return automations, [str(p) for p in sorted(problems.items, key=lambda p: p.line or 0)]


def problems_of(text: str, **context: Any) -> list[str]:
    automations, problems = read(text, **context)
    assert automations is None
    assert problems
    return problems


MESSAGES = """\
messages:
  hello:
    sv: "Hej {first_name}! Slutdatum {quit_date}."
    en: "Hi {first_name}! Quit date {quit_date}."
"""


def with_rule(rule: str, messages: str = MESSAGES) -> str:
    """A file with one rule (its `- key:` line is line 6) after the message `hello`."""
    return f"{messages}rules:\n{rule}"


GOOD = """\
messages:
  hello:
    sv: "Hej {first_name}! {{Klamrar}} är okej."
    en: "Hi {first_name}! {{Braces}} are fine."
  eve:
    sv: >-
      I morgon, {quit_date}, är din slutdag. {therapist_name} finns här. Dag {days_tobacco_free}.
    en: >-
      Tomorrow, {quit_date}, is your quit day. {therapist_name} is here. Day {days_tobacco_free}.
rules:
  - key: hello
    on: activated
    do:
      - message: hello
  - key: eve
    on: {after: quit_date, days: -1, at: 18:00}
    if: [{quit_date: set}, {when: "tobacco:snus|both"}]
    do:
      - message: eve
      - remind: messages
  - key: prepared
    on: {step_completed: preparation}
    do:
      - unlock: hold-on
      - request_questionnaire: test
  - key: read-slip
    on: {page_read: slip}
    if: [{quit_date: unset}]
    do: [{remind: start}]
  - key: high
    on: {questionnaire_submitted: test}
    if:
      - {score: {at_least: 7, at_most: 10}}
      - {score: {band: high, flag: medication}}
      - {answer: {item: a, equals: "yes"}}
    do:
      - flag: {sv: Högt beroende, en: High dependence}
  - key: slip
    on: {questionnaire_submitted: diary}
    if:
      - {answer: {item: used, equals: true}}
      - {answer: {item: cigarettes, equals: 3}}
      - {answer: {item: weight, equals: 70.5}}
      - {answer: {item: note, equals: tough day}}
      - {answer: {item: mood, equals: bad}}
      - {quit_date: reached}
    do:
      - suggest_step_up:
          level: phone_video
          reason: {sv: Rapporterat återfall, en: Reported relapse}
  - key: diary-missed
    on: {questionnaire_due: diary, days: 1, at: "19:00"}
    if: [unanswered]
    do: [{remind: questionnaires}]
  - key: follow-up
    on: {questionnaire_due: follow-up}
    do: [{remind: questionnaires}]
  - key: away
    on: {inactive: 14}
    do:
      - suggest_step_up: {level: meeting, reason: {sv: Borta, en: Away}}
  - key: before-meeting
    on: {meeting: 24}
    do: [{remind: start}]
  - key: one-week-in
    on: {after: start, days: 7, at: "7:30"}
    do: [{remind: start}]
"""


# --------------------------------------------------------------------------- a good file


def test_a_good_file_reads_every_trigger_condition_and_action() -> None:
    automations, problems = read(GOOD)

    assert problems == []
    assert automations is not None
    assert [rule.key for rule in automations.rules] == [
        "hello",
        "eve",
        "prepared",
        "read-slip",
        "high",
        "slip",
        "diary-missed",
        "follow-up",
        "away",
        "before-meeting",
        "one-week-in",
    ]
    assert automations.messages["hello"] == {
        "sv": "Hej {first_name}! {{Klamrar}} är okej.",
        "en": "Hi {first_name}! {{Braces}} are fine.",
    }
    assert automations.rule("hello") == Rule(
        key="hello",
        trigger=Trigger("activated"),
        actions=(Action("message", key="hello"),),
        line=11,
    )
    eve = automations.rule("eve")
    assert eve is not None
    assert eve.trigger == Trigger("after", anchor="quit_date", days=-1, at=datetime.time(18, 0))
    assert eve.conditions == (
        Condition("quit_date", is_set=True),
        Condition("when", when="tobacco:snus|both"),
    )
    assert eve.actions == (Action("message", key="eve"), Action("remind", link="messages"))
    prepared = automations.rule("prepared")
    assert prepared is not None
    assert prepared.trigger == Trigger("step_completed", subject="preparation")
    assert prepared.actions == (
        Action("unlock", key="hold-on"),
        Action("request_questionnaire", key="test"),
    )
    read_slip = automations.rule("read-slip")
    assert read_slip is not None
    assert read_slip.trigger == Trigger("page_read", subject="slip")
    assert read_slip.conditions == (Condition("quit_date", is_set=False),)
    high = automations.rule("high")
    assert high is not None
    assert high.conditions == (
        Condition("score", at_least=7, at_most=10),
        Condition("score", band="high", flag="medication"),
        Condition("answer", item="a", equals="yes"),
    )
    assert high.actions == (Action("flag", texts={"sv": "Högt beroende", "en": "High dependence"}),)
    slip = automations.rule("slip")
    assert slip is not None
    assert [c.equals for c in slip.conditions[:5]] == [True, 3, 70.5, "tough day", "bad"]
    assert slip.conditions[5] == Condition("quit_date", is_set=True, reached=True)
    assert slip.actions == (
        Action(
            "suggest_step_up",
            level="phone_video",
            texts={"sv": "Rapporterat återfall", "en": "Reported relapse"},
        ),
    )
    assert automations.for_trigger("questionnaire_due") == [
        automations.rule("diary-missed"),
        automations.rule("follow-up"),
    ]
    missed = automations.rule("diary-missed")
    assert missed is not None
    assert missed.trigger == Trigger(
        "questionnaire_due", subject="diary", days=1, at=datetime.time(19, 0)
    )
    assert missed.conditions == (Condition("unanswered"),)
    follow_up = automations.rule("follow-up")
    assert follow_up is not None
    assert follow_up.trigger == Trigger("questionnaire_due", subject="follow-up")  # day 0, 09:00
    away = automations.rule("away")
    assert away is not None
    assert away.trigger == Trigger("inactive", days=14, at=datetime.time(9, 0))
    assert away.actions[0].level == "meeting"
    assert automations.rule("before-meeting") == Rule(
        key="before-meeting",
        trigger=Trigger("meeting", hours=24),
        actions=(Action("remind", link="start"),),
        line=62,
    )
    one_week = automations.rule("one-week-in")
    assert one_week is not None
    assert one_week.trigger == Trigger("after", anchor="start", days=7, at=datetime.time(7, 30))


def test_a_good_file_round_trips_through_json() -> None:
    automations, _ = read(GOOD)
    assert automations is not None

    assert from_json(to_json(automations)) == automations


def test_rules_without_messages_and_an_empty_rule_list_are_fine() -> None:
    automations, problems = read(
        "rules:\n  - key: a\n    on: activated\n    do: [{remind: start}]\n"
    )
    assert problems == []
    assert automations is not None and automations.messages == {}

    automations, problems = read("rules: []\n")
    assert problems == [] and automations == Automations()


def test_a_broken_questionnaire_may_be_named_without_further_checks() -> None:
    automations, problems = read(
        with_rule(
            "  - key: a\n    on: {questionnaire_submitted: broken}\n"
            "    if: [{score: {band: whatever}}]\n    do: [{message: hello}]\n"
        )
    )
    assert problems == []
    assert automations is not None


def test_when_conditions_are_checked_for_syntax_only_while_the_attributes_are_broken() -> None:
    text = with_rule(
        "  - key: a\n    on: activated\n    if: [{when: 'x:y'}]\n    do: [{message: hello}]\n"
    )
    assert read(text, attributes=None)[1] == []
    assert read(text, attributes={"x": None})[1] == []
    assert problems_of(text.replace("x:y", "x y"), attributes=None) == [
        "automations.yaml:8: rule 'a': if: condition 'x y' must be written "
        "<attribute>:<value>[|<value>...], with lower-case letters, digits and single hyphens, "
        "no spaces (tobacco:snus|both)"
    ]


# --------------------------------------------------------------------------- problems

ACTIVATED = "  - key: a\n    on: activated\n"
# The rule's `- key:` line is 6, `on` 7, then `if` or `do` 8 (and `do` 9 after an `if`).
REFUSED: list[tuple[str, str, str]] = [
    # -- the file and its keys
    (
        "unknown top-level key",
        with_rule(ACTIVATED + "    do: [{message: hello}]\n") + "extra: 1\n",
        "automations.yaml:9: automations: unknown key 'extra' (allowed: messages, rules)",
    ),
    (
        "unknown rule key",
        with_rule(ACTIVATED + "    then: [{message: hello}]\n    do: [{message: hello}]\n"),
        "automations.yaml:8: rule 'a': unknown key 'then' (allowed: do, if, key, on)",
    ),
    (
        "a rule without do",
        with_rule(ACTIVATED),
        "automations.yaml:6: rule 'a': missing required key 'do'",
    ),
    (
        "a rule with no actions",
        with_rule(ACTIVATED + "    do: []\n"),
        "automations.yaml:8: rule 'a': do lists no action; a rule needs at least one",
    ),
    (
        "a rule key that is not a slug",
        with_rule("  - key: Welcome_1\n    on: activated\n    do: [{message: hello}]\n"),
        "automations.yaml:6: rule 1: key 'Welcome_1' must be lower-case letters, digits and "
        "single hyphens",
    ),
    (
        "a rule key used twice",
        with_rule(
            ACTIVATED
            + "    do: [{message: hello}]\n"
            + "  - key: a\n    on: activated\n    do: [{message: hello}]\n"
        ),
        "automations.yaml:9: rule key 'a' is already used on line 6: every rule needs its own key",
    ),
    (
        "a rule key longer than the database holds",
        with_rule(f"  - key: {'a' * 101}\n    on: activated\n    do: [{{message: hello}}]\n"),
        "automations.yaml:6: rule 1: key is longer than 100 characters",
    ),
    # -- triggers
    (
        "unknown trigger",
        with_rule("  - key: a\n    on: sometimes\n    do: [{message: hello}]\n"),
        "automations.yaml:7: rule 'a': on: unknown trigger 'sometimes' (write activated, "
        "{step_completed: <step>}, {page_read: <page>}, {questionnaire_submitted: "
        "<questionnaire>}, {after: start|quit_date, days: N, at: HH:MM}, {questionnaire_due: "
        "<questionnaire>, days: N, at: HH:MM}, {inactive: N, at: HH:MM} or {meeting: N})",
    ),
    (
        "unknown trigger in a mapping",
        with_rule("  - key: a\n    on: {sometimes: 3}\n    do: [{message: hello}]\n"),
        "automations.yaml:7: rule 'a': on: name the trigger (activated, step_completed, "
        "page_read, questionnaire_submitted, after, questionnaire_due, inactive, meeting); write "
        "activated, {step_completed: <step>}, {page_read: <page>}, {questionnaire_submitted: "
        "<questionnaire>}, {after: start|quit_date, days: N, at: HH:MM}, {questionnaire_due: "
        "<questionnaire>, days: N, at: HH:MM}, {inactive: N, at: HH:MM} or {meeting: N}",
    ),
    (
        "two triggers",
        with_rule("  - key: a\n    on: {meeting: 2, inactive: 3}\n    do: [{message: hello}]\n"),
        "automations.yaml:7: rule 'a': on: one trigger per rule, not meeting and inactive",
    ),
    (
        "an option the trigger does not take",
        with_rule("  - key: a\n    on: {meeting: 2, at: '10:00'}\n    do: [{message: hello}]\n"),
        "automations.yaml:7: rule 'a': on meeting: unknown key 'at' (allowed: meeting)",
    ),
    (
        "a trigger without its subject",
        with_rule("  - key: a\n    on: page_read\n    do: [{message: hello}]\n"),
        "automations.yaml:7: rule 'a': on: page_read needs more: write activated, "
        "{step_completed: <step>}, {page_read: <page>}, {questionnaire_submitted: "
        "<questionnaire>}, {after: start|quit_date, days: N, at: HH:MM}, {questionnaire_due: "
        "<questionnaire>, days: N, at: HH:MM}, {inactive: N, at: HH:MM} or {meeting: N}",
    ),
    (
        "unknown step",
        with_rule("  - key: a\n    on: {step_completed: prep}\n    do: [{message: hello}]\n"),
        "automations.yaml:7: rule 'a': on: unknown step 'prep' (steps: hold-on, preparation)",
    ),
    (
        "unknown page",
        with_rule("  - key: a\n    on: {page_read: quit-day}\n    do: [{message: hello}]\n"),
        "automations.yaml:7: rule 'a': on: unknown page 'quit-day'",
    ),
    (
        "unknown questionnaire",
        with_rule(
            "  - key: a\n    on: {questionnaire_submitted: ftnd}\n    do: [{message: hello}]\n"
        ),
        "automations.yaml:7: rule 'a': on: unknown questionnaire 'ftnd' (the programme's own in "
        "questionnaires/, or a library instrument that a page embeds with '::: questionnaire "
        "<id>'; known: broken, diary, follow-up, never, test)",
    ),
    (
        "at that is not a time",
        with_rule(
            "  - key: a\n    on: {after: start, days: 1, at: '25:00'}\n    do: [{message: hello}]\n"
        ),
        "automations.yaml:7: rule 'a': on: at must be a time of day HH:MM, such as \"18:00\", "
        "not '25:00'",
    ),
    (
        "at that is a word",
        with_rule(
            "  - key: a\n    on: {after: start, days: 1, at: noon}\n    do: [{message: hello}]\n"
        ),
        "automations.yaml:7: rule 'a': on: at must be a time of day HH:MM, such as \"18:00\", "
        "not 'noon'",
    ),
    (
        "an unknown anchor",
        with_rule("  - key: a\n    on: {after: birthday, days: 1}\n    do: [{message: hello}]\n"),
        "automations.yaml:7: rule 'a': on: after must be start or quit_date, not 'birthday'",
    ),
    (
        "after without days",
        with_rule("  - key: a\n    on: {after: quit_date}\n    do: [{message: hello}]\n"),
        "automations.yaml:7: rule 'a': on: after needs days: the number of days after quit_date",
    ),
    (
        "days too far before the quit date",
        with_rule(
            "  - key: a\n    on: {after: quit_date, days: -31}\n    do: [{message: hello}]\n"
        ),
        "automations.yaml:7: rule 'a': on: days must be from -30 to 730, not -31",
    ),
    (
        "days too far after the quit date",
        with_rule(
            "  - key: a\n    on: {after: quit_date, days: 731}\n    do: [{message: hello}]\n"
        ),
        "automations.yaml:7: rule 'a': on: days must be from -30 to 730, not 731",
    ),
    (
        "days before the start",
        with_rule("  - key: a\n    on: {after: start, days: -1}\n    do: [{message: hello}]\n"),
        "automations.yaml:7: rule 'a': on: days must be from 0 to 730, not -1 (a rule cannot "
        "fire before the treatment starts)",
    ),
    (
        "days that are not a number",
        with_rule("  - key: a\n    on: {after: start, days: two}\n    do: [{message: hello}]\n"),
        "automations.yaml:7: rule 'a': on: days must be a whole number, not text",
    ),
    (
        "due days before the day",
        with_rule(
            "  - key: a\n    on: {questionnaire_due: diary, days: -1}\n    do: [{message: hello}]\n"
        ),
        "automations.yaml:7: rule 'a': on: days must be from 0 to 730, not -1 (days after the "
        "day it is due: 0 is that day)",
    ),
    (
        "a questionnaire that is never due",
        with_rule("  - key: a\n    on: {questionnaire_due: never}\n    do: [{message: hello}]\n"),
        "automations.yaml:7: rule 'a': on: questionnaire 'never' is never due: its schedule has "
        "no day",
    ),
    (
        "inactive for no days",
        with_rule("  - key: a\n    on: {inactive: 0}\n    do: [{message: hello}]\n"),
        "automations.yaml:7: rule 'a': on: inactive days must be from 1 to 730, not 0 (days "
        "without activity)",
    ),
    (
        "a meeting more than a week ahead",
        with_rule("  - key: a\n    on: {meeting: 169}\n    do: [{message: hello}]\n"),
        "automations.yaml:7: rule 'a': on: meeting hours must be from 1 to 168, not 169 (hours "
        "before it)",
    ),
    (
        "a meeting no hours ahead",
        with_rule("  - key: a\n    on: {meeting: 0}\n    do: [{message: hello}]\n"),
        "automations.yaml:7: rule 'a': on: meeting hours must be from 1 to 168, not 0 (hours "
        "before it)",
    ),
    # -- conditions
    (
        "unknown condition",
        with_rule(ACTIVATED + "    if: [sunny]\n    do: [{message: hello}]\n"),
        "automations.yaml:8: rule 'a': if: unknown condition 'sunny' (write {score: {at_least: "
        "N, at_most: N, band: <band>, flag: <flag>}}, {answer: {item: <linkId>, equals: "
        "<value>}}, unanswered, {when: <attribute>:<value>}, {quit_date: set|unset|reached}, "
        "{days_since_quit_date: {at_least: N, at_most: N}}, {days_since_start: {at_least: N, "
        "at_most: N}})",
    ),
    (
        "unknown condition in a mapping",
        with_rule(ACTIVATED + "    if: [{weather: sunny}]\n    do: [{message: hello}]\n"),
        "automations.yaml:8: rule 'a': if: unknown 'weather' (write {score: {at_least: N, "
        "at_most: N, band: <band>, flag: <flag>}}, {answer: {item: <linkId>, equals: <value>}}, "
        "unanswered, {when: <attribute>:<value>}, {quit_date: set|unset|reached}, "
        "{days_since_quit_date: {at_least: N, at_most: N}}, {days_since_start: {at_least: N, "
        "at_most: N}})",
    ),
    (
        "conditions that are not a list",
        with_rule(ACTIVATED + "    if: {quit_date: set}\n    do: [{message: hello}]\n"),
        "automations.yaml:8: rule 'a': if must be a list",
    ),
    (
        "a score condition on an event without a response",
        with_rule(ACTIVATED + "    if: [{score: {at_least: 3}}]\n    do: [{message: hello}]\n"),
        "automations.yaml:8: rule 'a': if: score works only with the trigger "
        "questionnaire_submitted, not activated",
    ),
    (
        "an answer condition on a due questionnaire",
        with_rule(
            "  - key: a\n    on: {questionnaire_due: diary}\n"
            "    if: [{answer: {item: used, equals: true}}]\n    do: [{message: hello}]\n"
        ),
        "automations.yaml:8: rule 'a': if: answer works only with the trigger "
        "questionnaire_submitted, not questionnaire_due",
    ),
    (
        "unanswered on a submitted questionnaire",
        with_rule(
            "  - key: a\n    on: {questionnaire_submitted: diary}\n    if: [unanswered]\n"
            "    do: [{message: hello}]\n"
        ),
        "automations.yaml:8: rule 'a': if: unanswered works only with the trigger "
        "questionnaire_due, not questionnaire_submitted",
    ),
    (
        "unanswered after the day can no longer be filled in",
        with_rule(
            "  - key: a\n    on: {questionnaire_due: diary, days: 4}\n    if: [unanswered]\n"
            "    do: [{message: hello}]\n"
        ),
        "automations.yaml:8: rule 'a': if: unanswered 4 days after the day is too late: "
        "questionnaire 'diary' can be filled in for 3 days after its day (backfill_days)",
    ),
    (
        "a score condition on a questionnaire without scoring",
        with_rule(
            "  - key: a\n    on: {questionnaire_submitted: diary}\n"
            "    if: [{score: {at_least: 3}}]\n    do: [{message: hello}]\n"
        ),
        "automations.yaml:8: rule 'a': if: score: questionnaire 'diary' is not scored",
    ),
    (
        "a band the questionnaire does not have",
        with_rule(
            "  - key: a\n    on: {questionnaire_submitted: test}\n"
            "    if: [{score: {band: very-high}}]\n    do: [{message: hello}]\n"
        ),
        "automations.yaml:8: rule 'a': if: score: questionnaire 'test' has no band 'very-high' "
        "(its bands: low, high)",
    ),
    (
        "a flag the questionnaire does not have",
        with_rule(
            "  - key: a\n    on: {questionnaire_submitted: test}\n"
            "    if: [{score: {flag: danger}}]\n    do: [{message: hello}]\n"
        ),
        "automations.yaml:8: rule 'a': if: score: questionnaire 'test' has no flag 'danger' "
        "(its flags: medication)",
    ),
    (
        "at_least above at_most",
        with_rule(
            "  - key: a\n    on: {questionnaire_submitted: test}\n"
            "    if: [{score: {at_least: 8, at_most: 2}}]\n    do: [{message: hello}]\n"
        ),
        "automations.yaml:8: rule 'a': if: score: at_least (8) is above at_most (2)",
    ),
    (
        "a score condition with nothing to compare",
        with_rule(
            "  - key: a\n    on: {questionnaire_submitted: test}\n"
            "    if: [{score: {}}]\n    do: [{message: hello}]\n"
        ),
        "automations.yaml:8: rule 'a': if: score: give at_least, at_most, band or flag",
    ),
    (
        "a score bound that is not a number",
        with_rule(
            "  - key: a\n    on: {questionnaire_submitted: test}\n"
            "    if: [{score: {at_least: high}}]\n    do: [{message: hello}]\n"
        ),
        "automations.yaml:8: rule 'a': if: score: at_least must be a number, not text",
    ),
    (
        "an answer to an item the questionnaire does not have",
        with_rule(
            "  - key: a\n    on: {questionnaire_submitted: diary}\n"
            "    if: [{answer: {item: smoked, equals: true}}]\n    do: [{message: hello}]\n"
        ),
        "automations.yaml:8: rule 'a': if: answer: questionnaire 'diary' has no question "
        "'smoked' (its questions: used, cigarettes, weight, note, when, mood)",
    ),
    (
        "an answer to a display item",
        with_rule(
            "  - key: a\n    on: {questionnaire_submitted: diary}\n"
            "    if: [{answer: {item: intro, equals: x}}]\n    do: [{message: hello}]\n"
        ),
        "automations.yaml:8: rule 'a': if: answer: questionnaire 'diary' has no question "
        "'intro' (its questions: used, cigarettes, weight, note, when, mood)",
    ),
    (
        "a yes/no item compared with text",
        with_rule(
            "  - key: a\n    on: {questionnaire_submitted: diary}\n"
            "    if: [{answer: {item: used, equals: 'yes'}}]\n    do: [{message: hello}]\n"
        ),
        "automations.yaml:8: rule 'a': if: answer: item 'used' is yes/no: equals must be true "
        "or false",
    ),
    (
        "a choice compared with a code it does not have",
        with_rule(
            "  - key: a\n    on: {questionnaire_submitted: diary}\n"
            "    if: [{answer: {item: mood, equals: awful}}]\n    do: [{message: hello}]\n"
        ),
        "automations.yaml:8: rule 'a': if: answer: item 'mood' is a choice: equals must be one "
        "of its codes (good, bad), not 'awful'",
    ),
    (
        "a whole number compared with a decimal",
        with_rule(
            "  - key: a\n    on: {questionnaire_submitted: diary}\n"
            "    if: [{answer: {item: cigarettes, equals: 2.5}}]\n    do: [{message: hello}]\n"
        ),
        "automations.yaml:8: rule 'a': if: answer: item 'cigarettes' is a whole number: equals "
        "must be one, not a number",
    ),
    (
        "a date item",
        with_rule(
            "  - key: a\n    on: {questionnaire_submitted: diary}\n"
            "    if: [{answer: {item: when, equals: today}}]\n    do: [{message: hello}]\n"
        ),
        "automations.yaml:8: rule 'a': if: answer: item 'when' is of type date: answer "
        "conditions work on yes/no, choice, number and text items",
    ),
    (
        "an answer condition without equals",
        with_rule(
            "  - key: a\n    on: {questionnaire_submitted: diary}\n"
            "    if: [{answer: {item: used}}]\n    do: [{message: hello}]\n"
        ),
        "automations.yaml:8: rule 'a': if: answer: missing required key 'equals'",
    ),
    (
        "a when condition on an unknown attribute",
        with_rule(ACTIVATED + "    if: [{when: 'age:old'}]\n    do: [{message: hello}]\n"),
        "automations.yaml:8: rule 'a': if: condition 'age:old': unknown attribute 'age' "
        "(declared: tobacco)",
    ),
    (
        "a when condition on an unknown value",
        with_rule(ACTIVATED + "    if: [{when: 'tobacco:pipe'}]\n    do: [{message: hello}]\n"),
        "automations.yaml:8: rule 'a': if: condition 'tobacco:pipe': 'tobacco' has no value "
        "'pipe' (its values: smoking, snus, both)",
    ),
    (
        "a quit_date state that does not exist",
        with_rule(ACTIVATED + "    if: [{quit_date: true}]\n    do: [{message: hello}]\n"),
        "automations.yaml:8: rule 'a': if: quit_date must be set, unset or reached, not "
        "true/false (put text in quotes)",
    ),
    (
        "quit_date unset on a rule after the quit date",
        with_rule(
            "  - key: a\n    on: {after: quit_date, days: 1}\n    if: [{quit_date: unset}]\n"
            "    do: [{message: hello}]\n"
        ),
        "automations.yaml:8: rule 'a': if: quit_date unset never holds here: a rule after the "
        "quit date fires only when there is one",
    ),
    # -- actions
    (
        "unknown action",
        with_rule(ACTIVATED + "    do: [{call: patient}]\n"),
        "automations.yaml:8: rule 'a': do: unknown 'call' (write {message: <key>}, {remind: "
        "start|messages|questionnaires}, {unlock: <step>}, {request_questionnaire: "
        "<questionnaire>}, {flag: {sv: ..., en: ...}}, {suggest_step_up: {level: "
        "phone_video|meeting, reason: {sv: ..., en: ...}}})",
    ),
    (
        "two actions in one item",
        with_rule(ACTIVATED + "    do: [{message: hello, remind: start}]\n"),
        "automations.yaml:8: rule 'a': do: one at a time; write {message: <key>}, {remind: "
        "start|messages|questionnaires}, {unlock: <step>}, {request_questionnaire: "
        "<questionnaire>}, {flag: {sv: ..., en: ...}}, {suggest_step_up: {level: "
        "phone_video|meeting, reason: {sv: ..., en: ...}}}",
    ),
    (
        "an unknown message",
        with_rule(ACTIVATED + "    do: [{message: hello}, {message: goodbye}]\n"),
        "automations.yaml:8: message 'goodbye' is not under 'messages' (known: hello)",
    ),
    (
        "an unknown step to unlock",
        with_rule(ACTIVATED + "    do: [{message: hello}, {unlock: step-9}]\n"),
        "automations.yaml:8: rule 'a': do: unlock: unknown step 'step-9' (steps: hold-on, "
        "preparation)",
    ),
    (
        "an unknown questionnaire to request",
        with_rule(ACTIVATED + "    do: [{message: hello}, {request_questionnaire: phq-9}]\n"),
        "automations.yaml:8: rule 'a': do: request_questionnaire: unknown questionnaire 'phq-9' "
        "(the programme's own in questionnaires/, or a library instrument that a page embeds "
        "with '::: questionnaire <id>'; known: broken, diary, follow-up, never, test)",
    ),
    (
        "a reminder to an unknown place",
        with_rule(ACTIVATED + "    do: [{message: hello}, {remind: diary}]\n"),
        "automations.yaml:8: rule 'a': do: remind must be one of start, messages, "
        "questionnaires, not 'diary'",
    ),
    (
        "a flag reason without English",
        with_rule(ACTIVATED + "    do: [{message: hello}, {flag: {sv: Hög}}]\n"),
        "automations.yaml:8: rule 'a': do: flag reason: missing translation for 'en'",
    ),
    (
        "a flag reason with a placeholder",
        with_rule(
            ACTIVATED + "    do: [{message: hello}, {flag: {sv: Hög, en: 'High {first_name}'}}]\n"
        ),
        "automations.yaml:8: rule 'a': do: flag reason (en) is shown to the therapist as "
        "written: no placeholders or braces",
    ),
    (
        "a step-up to an unknown level",
        with_rule(
            ACTIVATED + "    do:\n      - suggest_step_up:\n          level: hospital\n"
            "          reason: {sv: Svårt, en: Hard}\n"
        ),
        "automations.yaml:10: rule 'a': do: suggest_step_up: level must be one of phone_video, "
        "meeting, not 'hospital'",
    ),
    (
        "a step-up reason in a language the programme does not have",
        with_rule(
            ACTIVATED + "    do:\n      - suggest_step_up:\n          level: meeting\n"
            "          reason: {sv: Svårt, en: Hard, de: Schwer}\n"
        ),
        "automations.yaml:11: rule 'a': do: suggest_step_up: reason: 'de' is not one of the "
        "programme's languages (sv, en)",
    ),
    (
        "a step-up without a reason",
        with_rule(ACTIVATED + "    do: [{suggest_step_up: {level: meeting}}]\n"),
        "automations.yaml:8: rule 'a': do: suggest_step_up: missing required key 'reason'",
    ),
    # -- messages
    (
        "a message without English",
        with_rule(ACTIVATED + "    do: [{message: hello}]\n", "messages:\n  hello: {sv: Hej}\n"),
        "automations.yaml:2: message 'hello': missing translation for 'en'",
    ),
    (
        "a message in a language the programme does not have",
        with_rule(
            ACTIVATED + "    do: [{message: hello}]\n",
            "messages:\n  hello: {sv: Hej, en: Hi, fi: Moi}\n",
        ),
        "automations.yaml:2: message 'hello': 'fi' is not one of the programme's languages "
        "(sv, en)",
    ),
    (
        "a message with an unknown placeholder",
        with_rule(
            ACTIVATED + "    do: [{message: hello}]\n",
            "messages:\n  hello:\n    sv: Hej {name}\n    en: Hi {first_name}\n",
        ),
        "automations.yaml:3: message 'hello' (sv): unknown placeholder {name} (known: "
        "{first_name}, {quit_date}, {days_tobacco_free}, {therapist_name}; write {{ and }} for a "
        "brace)",
    ),
    (
        "a message with a lone brace",
        with_rule(
            ACTIVATED + "    do: [{message: hello}]\n",
            "messages:\n  hello:\n    sv: Hej\n    en: 'Hi :}'\n",
        ),
        "automations.yaml:4: message 'hello' (en): unknown placeholder } (known: {first_name}, "
        "{quit_date}, {days_tobacco_free}, {therapist_name}; write {{ and }} for a brace)",
    ),
    (
        "a message with HTML",
        with_rule(
            ACTIVATED + "    do: [{message: hello}]\n",
            "messages:\n  hello:\n    sv: Hej <b>du</b>\n    en: Hi\n",
        ),
        "automations.yaml:3: message 'hello' (sv) is plain text: no HTML tags or entities "
        "(write the text itself)",
    ),
    (
        "a message with an HTML entity",
        with_rule(
            ACTIVATED + "    do: [{message: hello}]\n",
            "messages:\n  hello:\n    sv: Hej\n    en: Tom &amp; Jerry\n",
        ),
        "automations.yaml:4: message 'hello' (en) is plain text: no HTML tags or entities "
        "(write the text itself)",
    ),
    (
        "a message too long to send",
        with_rule(
            ACTIVATED + "    do: [{message: hello}]\n",
            f"messages:\n  hello:\n    sv: Hej\n    en: {'a' * 5001}\n",
        ),
        "automations.yaml:4: message 'hello' (en) is 5001 characters long; at most 5000",
    ),
    (
        "a message key that is not a slug",
        with_rule(
            ACTIVATED + "    do: [{message: hello}]\n",
            "messages:\n  hello: {sv: Hej, en: Hi}\n  Hello: {sv: Hej, en: Hi}\n",
        ),
        "automations.yaml:3: message key 'Hello' must be lower-case letters, digits and single "
        "hyphens",
    ),
    (
        "a message no rule uses",
        with_rule(
            ACTIVATED + "    do: [{message: hello}]\n",
            "messages:\n  hello: {sv: Hej, en: Hi}\n  bye: {sv: Hejdå, en: Bye}\n",
        ),
        "automations.yaml:3: message 'bye' is not used by any rule (use it or remove it)",
    ),
    # -- YAML
    (
        "a YAML syntax error",
        "rules:\n  - key: a\n    on: [activated\n",
        "automations.yaml:4: YAML syntax error: while parsing a flow sequence expected ',' or "
        "']', but got '<stream end>'; inside { } or [ ], put text that holds ?, :, # or a comma "
        "in quotes",
    ),
    (
        "an empty file",
        "",
        "automations.yaml:1: is empty: write 'rules:' with a list of rules, or remove the file",
    ),
    (
        "rules that are not a list",
        "rules: {key: a}\n",
        "automations.yaml:1: rules must be a list",
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [(text, expected) for _, text, expected in REFUSED],
    ids=[name for name, _, _ in REFUSED],
)
def test_a_broken_file_is_refused_with_file_line_and_reason(text: str, expected: str) -> None:
    assert expected in problems_of(text)


def test_every_problem_of_a_file_is_reported_at_once() -> None:
    text = """\
messages:
  hi: {sv: "Hej {name}", en: Hi, de: Hallo}
  unused: {sv: a, en: b}
rules:
  - key: a
    on: {after: quit_date, days: -40, at: "25:00"}
    if: [unanswered, {when: "tobacco:pipe"}]
    do: []
  - key: a
    on: {questionnaire_due: diary, days: 1}
    do: [{message: nope}, {remind: home}, {unlock: nope}]
"""
    problems = problems_of(text)

    assert problems == [
        "automations.yaml:2: message 'hi': 'de' is not one of the programme's languages (sv, en)",
        "automations.yaml:2: message 'hi' (sv): unknown placeholder {name} (known: {first_name}, "
        "{quit_date}, {days_tobacco_free}, {therapist_name}; write {{ and }} for a brace)",
        "automations.yaml:2: message 'hi' is not used by any rule (use it or remove it)",
        "automations.yaml:3: message 'unused' is not used by any rule (use it or remove it)",
        "automations.yaml:6: rule 'a': on: at must be a time of day HH:MM, such as \"18:00\", "
        "not '25:00'",
        "automations.yaml:6: rule 'a': on: days must be from -30 to 730, not -40",
        "automations.yaml:7: rule 'a': if: unanswered works only with the trigger "
        "questionnaire_due, not after",
        "automations.yaml:7: rule 'a': if: condition 'tobacco:pipe': 'tobacco' has no value "
        "'pipe' (its values: smoking, snus, both)",
        "automations.yaml:8: rule 'a': do lists no action; a rule needs at least one",
        "automations.yaml:9: rule key 'a' is already used on line 5: every rule needs its own key",
        "automations.yaml:11: rule 'a': do: remind must be one of start, messages, "
        "questionnaires, not 'home'",
        "automations.yaml:11: rule 'a': do: unlock: unknown step 'nope' (steps: hold-on, "
        "preparation)",
        "automations.yaml:11: message 'nope' is not under 'messages' (known: hi, unused)",
    ]


# --------------------------------------------------------------------------- in a programme


def load_tobacco(path: Path = TOBACCO) -> ProgrammeSpec:
    return load_programme(path, known_questionnaires=library_ids(), known_aids=TOBACCO_AIDS)


def test_the_tobacco_programme_has_the_rules_the_issue_asks_for() -> None:
    automations = load_tobacco().automations

    assert [rule.key for rule in automations.rules] == [
        "welcome",
        "quit-day-eve",
        "quit-day-morning",
        "check-in-day-3",
        "check-in-day-7",
        "check-in-week-4",
        "diary-missed",
        "inactive-one-week",
        "inactive-two-weeks",
        "follow-up-due",
        "follow-up-reminder",
        "high-dependence",
        "slip-reported",
        "high-withdrawal",
    ]
    rules = {rule.key: rule for rule in automations.rules}

    def message_of(key: str) -> dict[str, str]:
        (action,) = [a for a in rules[key].actions if a.kind == "message"]
        return automations.messages[action.key]

    assert rules["welcome"].trigger == Trigger("activated")
    assert "{first_name}" in message_of("welcome")["sv"]
    quit_date_set = Condition("quit_date", is_set=True)
    assert rules["quit-day-eve"].trigger == Trigger(
        "after", anchor="quit_date", days=-1, at=datetime.time(18, 0)
    )
    assert rules["quit-day-eve"].conditions == (quit_date_set,)
    assert rules["quit-day-morning"].trigger == Trigger(
        "after", anchor="quit_date", days=0, at=datetime.time(8, 0)
    )
    assert rules["quit-day-morning"].conditions == (quit_date_set,)
    for key, days in (("check-in-day-3", 3), ("check-in-day-7", 7), ("check-in-week-4", 28)):
        assert rules[key].trigger == Trigger(
            "after", anchor="quit_date", days=days, at=datetime.time(10, 0)
        )
        assert message_of(key)["sv"] and message_of(key)["en"]
    assert rules["diary-missed"] == Rule(
        key="diary-missed",
        trigger=Trigger("questionnaire_due", subject="diary", days=1, at=datetime.time(19, 0)),
        conditions=(
            Condition("unanswered"),
            Condition("days_since", anchor="quit_date", at_most=28.0),
        ),
        actions=(Action("remind", link="questionnaires"),),
        line=rules["diary-missed"].line,
    )
    for key in ("inactive-one-week", "inactive-two-weeks"):
        assert rules[key].conditions == (Condition("days_since", anchor="quit_date", at_most=84.0),)
    assert rules["inactive-one-week"].trigger == Trigger("inactive", days=7, at=datetime.time(10))
    assert rules["inactive-one-week"].actions == (Action("remind", link="start"),)
    assert rules["inactive-two-weeks"].trigger.days == 14
    assert [a.kind for a in rules["inactive-two-weeks"].actions] == ["message", "suggest_step_up"]
    assert rules["inactive-two-weeks"].actions[1].level == "phone_video"
    assert rules["follow-up-due"].trigger == Trigger(
        "questionnaire_due", subject="follow-up", days=0, at=datetime.time(9, 0)
    )
    assert rules["follow-up-due"].actions[1] == Action("remind", link="questionnaires")
    assert rules["follow-up-reminder"].trigger == Trigger(
        "questionnaire_due", subject="follow-up", days=7, at=datetime.time(18, 0)
    )
    assert rules["follow-up-reminder"].conditions == (Condition("unanswered"),)
    assert rules["high-dependence"].trigger == Trigger("questionnaire_submitted", subject="ftnd")
    assert rules["high-dependence"].conditions == (Condition("score", flag="medication"),)
    assert rules["high-dependence"].actions[0].kind == "flag"
    assert rules["slip-reported"].trigger == Trigger("questionnaire_submitted", subject="diary")
    assert rules["slip-reported"].conditions == (
        Condition("answer", item="used", equals=True),
        Condition("quit_date", is_set=True, reached=True),
    )
    (step_up,) = rules["slip-reported"].actions
    assert step_up.kind == "suggest_step_up" and step_up.level == "phone_video"
    assert rules["high-withdrawal"].trigger == Trigger("questionnaire_submitted", subject="mnws")
    assert rules["high-withdrawal"].conditions == (Condition("score", at_least=24),)
    # Swedish and English everywhere; it round-trips as the version stores it.
    for texts in automations.messages.values():
        assert set(texts) == {"sv", "en"}
    assert from_json(to_json(automations)) == automations


def test_a_programme_without_automations_has_none() -> None:
    spec = load_programme(EXAMPLE, known_aids={"my-answers"})
    assert spec.automations == Automations()


def write_rules(folder: Path, text: str) -> None:
    (folder / "automations.yaml").write_text(text, encoding="utf-8")


def test_rules_may_name_a_library_instrument_only_when_a_page_embeds_it(tmp_path: Path) -> None:
    folder = tmp_path / "example"
    shutil.copytree(EXAMPLE, folder)
    write_rules(
        folder,
        "rules:\n  - key: dependent\n    on: {questionnaire_submitted: ftnd}\n"
        "    if: [{score: {flag: medication}}]\n"
        "    do: [{flag: {sv: Beroende, en: Dependent}}]\n",
    )

    with pytest.raises(ProgrammeFormatError) as caught:
        load_programme(folder, known_aids={"my-answers"}, known_questionnaires=library_ids())
    assert [str(p) for p in caught.value.problems] == [
        "automations.yaml:3: rule 'dependent': on: unknown questionnaire 'ftnd' (the programme's "
        "own in questionnaires/, or a library instrument that a page embeds with '::: "
        "questionnaire <id>'; known: diary, mood)"
    ]

    for language in ("sv", "en"):
        page = folder / "pages" / language / "looking-back.md"
        page.write_text(
            page.read_text(encoding="utf-8") + "\n::: questionnaire ftnd\n:::\n", encoding="utf-8"
        )
    spec = load_programme(folder, known_aids={"my-answers"}, known_questionnaires=library_ids())
    assert spec.automations.rules[0].conditions == (Condition("score", flag="medication"),)


def test_rule_problems_are_listed_with_the_rest_of_the_folder_sorted_by_file(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "tobacco"
    shutil.copytree(TOBACCO, folder)
    text = (folder / "automations.yaml").read_text(encoding="utf-8")
    write_rules(folder, text.replace("{questionnaire_submitted: mnws}", "{page_read: nowhere}"))
    (folder / "pages" / "en" / "welcome.md").unlink()

    with pytest.raises(ProgrammeFormatError) as caught:
        load_tobacco(folder)
    problems = [str(p) for p in caught.value.problems]
    assert len(problems) == 3
    line = text[: text.index("{questionnaire_submitted: mnws}")].count("\n") + 1
    assert (
        problems[0]
        == f"automations.yaml:{line}: rule 'high-withdrawal': on: unknown page 'nowhere'"
    )
    assert problems[1] == (
        f"automations.yaml:{line + 1}: rule 'high-withdrawal': if: score works only with the "
        "trigger questionnaire_submitted, not page_read"
    )
    assert problems[2].startswith("programme.yaml:")


def test_a_broken_programme_yaml_leaves_only_the_rules_syntax_checked(tmp_path: Path) -> None:
    folder = tmp_path / "example"
    shutil.copytree(EXAMPLE, folder)
    (folder / "programme.yaml").write_text("slug: example\n", encoding="utf-8")
    write_rules(folder, "rules:\n  - key: a\n    on: {step_completed: nowhere\n")

    with pytest.raises(ProgrammeFormatError) as caught:
        load_programme(folder, known_aids={"my-answers"})
    rule_problems = [str(p) for p in caught.value.problems if p.file == "automations.yaml"]
    assert len(rule_problems) == 1
    assert "YAML syntax error" in rule_problems[0]


def test_the_rules_file_is_part_of_the_content_hash(tmp_path: Path) -> None:
    folder = tmp_path / "tobacco"
    shutil.copytree(TOBACCO, folder)
    before = load_tobacco(folder).content_hash
    text = (folder / "automations.yaml").read_text(encoding="utf-8")
    write_rules(folder, text.replace('at: "18:00"}', 'at: "17:30"}', 1))

    assert load_tobacco(folder).content_hash != before


# --------------------------------------------------------------------------- import


def test_importing_the_tobacco_programme_stores_its_rules_on_the_version(db: None) -> None:
    from steg.programmes.actions import import_programme

    version = import_programme(TOBACCO).version
    version.refresh_from_db()

    stored = from_json(version.automations)
    assert stored == load_tobacco().automations
    welcome = stored.rule("welcome")
    assert welcome is not None and welcome.actions == (Action("message", key="welcome"),)
    assert set(stored.messages["welcome"]) == {"sv", "en"}


def test_days_since_conditions_are_read_and_checked() -> None:
    from steg.automation.rules import load_automations
    from steg.lib.yamldoc import Problems

    text = (
        "rules:\n"
        "  - key: early\n"
        "    on: {inactive: 7}\n"
        "    if: [{days_since_quit_date: {at_most: 28}}, {days_since_start: {at_least: 2}}]\n"
        "    do: [{remind: start}]\n"
        "  - key: wrong\n"
        "    on: {inactive: 7}\n"
        "    if: [{days_since_quit_date: {at_least: 9, at_most: 3}}]\n"
        "    do: [{remind: start}]\n"
    )
    problems = Problems()
    result = load_automations(
        "automations.yaml",
        text,
        languages=("sv", "en"),
        steps={},
        pages=set(),
        questionnaires={},
        attributes=None,
        problems=problems,
    )
    assert result is None
    assert [str(p) for p in problems.items] == [
        "automations.yaml:8: rule 'wrong': if: days_since_quit_date: at_least (9) is above "
        "at_most (3)"
    ]
    problems = Problems()
    good = load_automations(
        "automations.yaml",
        text.split("  - key: wrong")[0],
        languages=("sv", "en"),
        steps={},
        pages=set(),
        questionnaires={},
        attributes=None,
        problems=problems,
    )
    assert not problems.items and good is not None
    first, second = good.rules[0].conditions
    assert (first.kind, first.anchor, first.at_least, first.at_most) == (
        "days_since",
        "quit_date",
        None,
        28.0,
    )
    assert (second.anchor, second.at_least) == ("start", 2.0)
