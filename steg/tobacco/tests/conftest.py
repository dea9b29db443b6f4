"""A small tobacco programme to test the aids with."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import Settings

from steg.care.models import Enrolment
from steg.programmes.actions import import_programme
from steg.programmes.models import ProgrammeVersion
from steg.questionnaires.models import Response
from steg.testing.personas import World, start_treatment


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings: Settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


PROGRAMME_YAML = """\
slug: tobacco-test
title: {sv: Tobaksfri, en: Tobacco-free}
description: {sv: Ett testprogram., en: A test programme.}
audience: {sv: Alla., en: Everyone.}
languages: [sv, en]
guidance: guided
steps:
  - key: preparing
    title: {sv: Förbered, en: Prepare}
    unlock: immediately
    pages: [tools, plan]
  - key: first-days
    title: {sv: De första dagarna, en: The first days}
    unlock: {days_after_quit_date: 1}
    pages: [after-quitting]
"""

PAGES = {
    "tools": (
        "Verktyg",
        "::: aid quit-date\n:::\n\n"
        "::: aid savings\n:::\n\n"
        "::: aid medication-list\n:::\n\n"
        "::: aid craving-first-aid\n:::\n\n"
        "::: questionnaire tobacco-profile\n:::\n",
    ),
    "plan": (
        "Planen",
        "::: exercise reasons\nVarför vill du sluta?\n:::\n\n"
        "::: exercise triggers\nNär brukar du röka?\n:::\n\n"
        "::: exercise quit-day-plan\nHur ser din sluta-dag ut?\n:::\n\n"
        "::: questionnaire motivation\n:::\n\n"
        "::: aid my-plan\n:::\n",
    ),
    "after-quitting": (
        "Efter sluta-dagen",
        "::: exercise support-people\nVem kan stötta dig?\n:::\n",
    ),
}

TOBACCO_PROFILE = """\
id: tobacco-profile
title: {sv: Din tobak, en: Your tobacco}
items:
  - linkId: product
    type: choice
    required: true
    text: {sv: "Vad använder du?", en: "What do you use?"}
    answerOption:
      - code: smoking
        text: {sv: Cigaretter, en: Cigarettes}
      - code: snus
        text: {sv: Snus, en: Snus}
      - code: both
        text: {sv: Båda, en: Both}
  - linkId: cigarettes-per-day
    type: integer
    minValue: 0
    maxValue: 100
    text: {sv: Cigaretter per dag, en: Cigarettes per day}
  - linkId: cigarettes-per-pack
    type: integer
    minValue: 1
    maxValue: 50
    text: {sv: Cigaretter per paket, en: Cigarettes per pack}
  - linkId: pack-price
    type: decimal
    minValue: 0
    maxValue: 1000
    text: {sv: Pris per paket, en: Price per pack}
  - linkId: cans-per-week
    type: decimal
    minValue: 0
    maxValue: 50
    text: {sv: Dosor per vecka, en: Cans per week}
  - linkId: can-price
    type: decimal
    minValue: 0
    maxValue: 1000
    text: {sv: Pris per dosa, en: Price per can}
"""

MOTIVATION = """\
id: motivation
title: {sv: Motivation, en: Motivation}
items:
  - linkId: importance
    type: integer
    minValue: 0
    maxValue: 10
    text: {sv: "Hur viktigt är det för dig att sluta?", en: "How important is quitting to you?"}
  - linkId: confidence
    type: integer
    minValue: 0
    maxValue: 10
    text: {sv: "Hur säker är du på att du klarar det?", en: "How confident are you that you can?"}
"""


def write_programme(folder: Path) -> Path:
    (folder / "questionnaires").mkdir(parents=True)
    (folder / "programme.yaml").write_text(PROGRAMME_YAML, encoding="utf-8")
    (folder / "questionnaires" / "tobacco-profile.yaml").write_text(
        TOBACCO_PROFILE, encoding="utf-8"
    )
    (folder / "questionnaires" / "motivation.yaml").write_text(MOTIVATION, encoding="utf-8")
    for language in ("sv", "en"):
        (folder / "pages" / language).mkdir(parents=True)
        for key, (title, body) in PAGES.items():
            (folder / "pages" / language / f"{key}.md").write_text(
                f"---\ntitle: {title}\nminutes: 3\n---\nText.\n\n{body}", encoding="utf-8"
            )
    return folder


@pytest.fixture
def tobacco_version(tmp_path: Path, world: World) -> ProgrammeVersion:
    return import_programme(write_programme(tmp_path / "tobacco-test")).version


@pytest.fixture
def tobacco_enrolment(world: World, tobacco_version: ProgrammeVersion) -> Enrolment:
    """The patient persona's enrolment in the tobacco test programme (no quit date yet)."""
    return start_treatment(
        world.patient,
        world.unit,
        tobacco_version,
        started_at=timezone.now() - datetime.timedelta(days=3),
    )


def submit_response(
    enrolment: Enrolment,
    questionnaire_id: str,
    answers: dict[str, list[Any]],
    *,
    day: datetime.date | None = None,
) -> Response:
    now = timezone.now()
    return Response.objects.create(
        enrolment=enrolment,
        questionnaire_id=questionnaire_id,
        day=day or timezone.localdate(),
        status=Response.Status.SUBMITTED,
        answers=answers,
        language="sv",
        created_at=now,
        updated_at=now,
        submitted_at=now,
    )


@pytest.fixture
def patient(world: World) -> Client:
    client = Client()
    client.force_login(world.patient_user)
    return client


@pytest.fixture
def patient_en(world: World) -> Client:
    """The patient, reading Steg in English (the messages are tested in their source text)."""
    client = Client()
    client.force_login(world.patient_user)
    client.cookies["steg_language"] = "en"
    return client
