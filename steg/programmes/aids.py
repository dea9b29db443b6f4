"""Aids: tools a programme page can embed with `::: aid <name>`.

An aid is a named template with a function that builds its context from the enrolment. The
tobacco programme registers its own (medication list, savings); `my-answers` is built in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from steg.care.models import Enrolment

    from .outline import Outline
    from .progress import Progress


@dataclass(frozen=True)
class AidContext:
    enrolment: Enrolment
    outline: Outline
    language: str
    # The patient's progress when the page around the aid has loaded it already; an aid that
    # needs it loads it itself otherwise.
    progress: Progress | None = None


@dataclass(frozen=True)
class Aid:
    name: str
    title: str | Promise
    template: str
    context: Callable[[AidContext], dict[str, Any]]


REGISTRY: dict[str, Aid] = {}


def register(aid: Aid) -> Aid:
    REGISTRY[aid.name] = aid
    return aid


def _my_answers(ctx: AidContext) -> dict[str, Any]:
    from .models import ExerciseAnswer

    answers = {
        a.key: a
        for a in ExerciseAnswer.objects.filter(
            enrolment=ctx.enrolment, status=ExerciseAnswer.Status.SUBMITTED
        )
    }
    rows = [
        {"page": page, "answer": answers[key]}
        for page in ctx.outline.pages
        for key in page.exercise_keys
        if key in answers
    ]
    return {"rows": rows}


register(
    Aid(
        name="my-answers",
        title=_("My answers"),
        template="programmes/aids/my_answers.html",
        context=_my_answers,
    )
)
