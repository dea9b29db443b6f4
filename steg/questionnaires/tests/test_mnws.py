"""The tobacco programme's Minnesota Nicotine Withdrawal Scale scores as published.

``programmes/tobacco-cessation/questionnaires/mnws.yaml`` holds the nine well-validated
self-report items of the revised scale (MNWS-R), each rated 0 none, 1 slight, 2 mild,
3 moderate, 4 severe over the last 24 hours (Hughes JR, Hatsukami D. Arch Gen Psychiatry
1986;43:289-94; the MNWS-R form as reproduced in the PhenX Toolkit, protocol 721001). The
total is the sum of the eight withdrawal items, 0-32, without craving (Hughes JR, Hatsukami
DK. Tob Control 1998;7:92-3). The vectors go through the same path as a patient's answers:
form values, server-side validation, then scoring.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import NamedTuple

import pytest
from django.utils import translation

from steg.questionnaires import logic
from steg.questionnaires.definition import Answers, Questionnaire
from steg.questionnaires.parse import load_questionnaire_text

MNWS_FILE = (
    Path(__file__).resolve().parents[3]
    / "programmes"
    / "tobacco-cessation"
    / "questionnaires"
    / "mnws.yaml"
)

RATING = [("none", 0), ("slight", 1), ("mild", 2), ("moderate", 3), ("severe", 4)]
POINTS = dict(RATING)

# The self-report items 1-9 of the MNWS-R, in the order of the form.
ITEMS = [
    "angry",  # angry, irritable, frustrated
    "anxious",  # anxious, nervous
    "depressed",  # depressed mood, sad
    "craving",  # desire or craving to smoke (here: or use snus)
    "concentrating",  # difficulty concentrating
    "appetite",  # increased appetite, hungry, weight gain
    "insomnia",  # insomnia, sleep problems, awakening at night
    "restless",  # restless
    "impatient",  # impatient
]
WITHDRAWAL_ITEMS = [i for i in ITEMS if i != "craving"]


def _load() -> Questionnaire:
    return load_questionnaire_text(
        MNWS_FILE.read_text(encoding="utf-8"),
        "mnws.yaml",
        languages=("sv", "en"),
        expected_id="mnws",
    )


@pytest.fixture(scope="module")
def mnws() -> Questionnaire:
    return _load()


def _answers(default: str = "none", **ratings: str) -> Answers:
    unknown = set(ratings) - set(ITEMS)
    assert not unknown, unknown
    return {item: (ratings.get(item, default),) for item in ITEMS}


class Vector(NamedTuple):
    answers: Answers
    total: Decimal
    flags: tuple[str, ...] = ()


VECTORS: list[Vector] = [
    # The lowest rating everywhere: 0.
    Vector(_answers("none"), Decimal(0)),
    # The highest rating everywhere: 8 x 4 = 32; craving (4) is not counted.
    Vector(_answers("severe"), Decimal(32), ("severe-low-mood",)),
    # Craving alone, however strong, does not count towards the total.
    Vector(_answers("none", craving="severe"), Decimal(0)),
    # Slight everywhere: 8 x 1 = 8.
    Vector(_answers("slight"), Decimal(8)),
    # A mixed day: 2 + 3 + 1 + 3 + 2 + 0 + 3 + 2 = 16 (craving 4 not counted).
    Vector(
        _answers(
            angry="mild",
            anxious="moderate",
            depressed="slight",
            craving="severe",
            concentrating="moderate",
            appetite="mild",
            insomnia="none",
            restless="moderate",
            impatient="mild",
        ),
        Decimal(16),
    ),
    # Severe low mood alone: total 4, and the therapist is flagged.
    Vector(_answers("none", depressed="severe"), Decimal(4), ("severe-low-mood",)),
    # Everything severe but mood moderate: 7 x 4 + 3 = 31, no flag.
    Vector(_answers("severe", depressed="moderate"), Decimal(31)),
    # Moderate everywhere: 8 x 3 = 24, no flag.
    Vector(_answers("moderate"), Decimal(24)),
]


def test_the_items_and_points_are_the_nine_published_self_report_items(
    mnws: Questionnaire,
) -> None:
    assert mnws.id == "mnws"
    assert [i.link_id for i in mnws.items] == ITEMS
    for item in mnws.items:
        assert item.type == "choice"
        assert item.required
        assert not item.repeats
        assert not item.enable_when
        assert [(o.code, o.score) for o in item.options] == [
            (code, Decimal(points)) for code, points in RATING
        ]
        assert item.text["en"] and item.text["sv"]


def test_the_total_is_the_eight_withdrawal_items_without_craving(mnws: Questionnaire) -> None:
    scoring = mnws.scoring
    assert scoring is not None
    assert list(scoring.items) == WITHDRAWAL_ITEMS
    assert "craving" not in scoring.items
    assert (scoring.missing, scoring.decimals, scoring.reversed) == ("refuse", 0, ())
    # No cut-offs are published for the MNWS total.
    assert scoring.bands == ()
    # One justified flag: severe depressed mood, through a one-item subscale.
    assert [(s.key, s.items) for s in scoring.subscales] == [("low-mood", ("depressed",))]
    assert [(f.key, f.scale, f.min, f.max) for f in scoring.flags] == [
        ("severe-low-mood", "low-mood", Decimal(4), None)
    ]


def test_it_is_due_daily_for_four_weeks_from_the_quit_date(mnws: Questionnaire) -> None:
    schedule = mnws.schedule
    assert (schedule.kind, schedule.anchor) == ("daily", "quit_date")
    assert (schedule.start_day, schedule.end_day, schedule.backfill_days) == (0, 28, 2)


@pytest.mark.parametrize("vector", VECTORS, ids=[str(i) for i in range(len(VECTORS))])
def test_the_vector_scores_as_published(mnws: Questionnaire, vector: Vector) -> None:
    # The expected total is also the plain sum of the published points, craving left out.
    assert vector.total == sum(Decimal(POINTS[str(vector.answers[i][0])]) for i in WITHDRAWAL_ITEMS)
    form = logic.answers_to_form(mnws, vector.answers)
    with translation.override("en"):
        validation = logic.validate(mnws, form, "en")

    assert validation.errors == {}
    result = logic.score(mnws, validation.answers)
    assert result is not None
    assert result.status == "scored"
    assert result.total == vector.total
    assert result.band is None
    assert result.subscales == {"low-mood": Decimal(POINTS[str(vector.answers["depressed"][0])])}
    assert tuple(flag.key for flag in result.flags) == vector.flags


@pytest.mark.parametrize("left_out", ["angry", "craving", "impatient"])
def test_an_unanswered_item_cannot_be_submitted(mnws: Questionnaire, left_out: str) -> None:
    answers = dict(_answers("mild"))
    del answers[left_out]
    form = logic.answers_to_form(mnws, answers)
    with translation.override("en"):
        validation = logic.validate(mnws, form, "en")

    assert left_out in validation.errors
