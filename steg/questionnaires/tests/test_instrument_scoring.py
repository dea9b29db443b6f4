"""The library instruments are scored exactly as published: every test vector, end to end.

The answers go through the same path as a patient's: form values, server-side validation,
then scoring.
"""

from __future__ import annotations

import pytest
from django.utils import translation

from steg.questionnaires import logic
from steg.questionnaires.library import library_questionnaire

from .instrument_vectors import VECTORS, Vector

CASES = [
    pytest.param(ident, vector, id=f"{ident}-{index}")
    for ident, vectors in VECTORS.items()
    for index, vector in enumerate(vectors)
]


@pytest.mark.parametrize(("ident", "vector"), CASES)
def test_the_vector_scores_as_published(ident: str, vector: Vector) -> None:
    questionnaire = library_questionnaire(ident)
    form = logic.answers_to_form(questionnaire, vector.answers)
    with translation.override("en"):
        validation = logic.validate(questionnaire, form, "en")

    assert validation.errors == {}
    result = logic.score(questionnaire, validation.answers)
    assert result is not None
    assert result.status == "scored"
    assert result.total == vector.total
    assert (result.band.key if result.band else None) == vector.band
    assert tuple(flag.key for flag in result.flags) == vector.flags


@pytest.mark.parametrize("ident", sorted(VECTORS))
def test_an_unanswered_item_cannot_be_submitted(ident: str) -> None:
    questionnaire = library_questionnaire(ident)
    answers = dict(VECTORS[ident][0].answers)
    left_out = next(iter(answers))
    del answers[left_out]
    form = logic.answers_to_form(questionnaire, answers)
    with translation.override("en"):
        validation = logic.validate(questionnaire, form, "en")

    assert left_out in validation.errors
