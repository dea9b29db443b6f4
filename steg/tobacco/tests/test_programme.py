"""The tobacco cessation programme as shipped: complete in both languages, and its tracks.

A snus user must not meet the smokers' content (and the other way round) where it does not
apply; a dual user and a patient we know nothing about yet see both.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from steg.programmes import aids
from steg.programmes.actions import import_programme
from steg.programmes.models import PageContent, ProgrammeVersion
from steg.programmes.outline import Outline, get_outline
from steg.questionnaires.due import due_for_enrolment
from steg.questionnaires.loader import questionnaires_of
from steg.questionnaires.models import Response
from steg.testing.personas import World, start_treatment

FOLDER = Path(settings.BASE_DIR) / "programmes" / "tobacco-cessation"
STEPS = ["welcome", "good-to-know", "preparation", "quit-start", "hold-on", "follow-up"]
QUESTIONNAIRES = {"tobacco-profile", "motivation", "diary", "mnws", "follow-up", "ftnd", "ftnd-st"}
AIDS = {"medication-list", "savings", "craving-first-aid", "my-plan", "quit-date"}


@pytest.fixture
def version(db: None) -> ProgrammeVersion:
    return import_programme(FOLDER).version


def blocks(outline: Outline, page_key: str) -> list[tuple[str, str]]:
    page = outline.page_by_key[page_key]
    return [(b["type"], b.get("key", "")) for b in page.blocks]


def test_the_programme_imports_with_every_page_in_both_languages(
    version: ProgrammeVersion,
) -> None:
    assert version.languages == ["sv", "en"]
    assert [s.key for s in version.steps.order_by("position")] == STEPS
    pages = version.pages.count()
    assert pages >= 30
    for language in ("sv", "en"):
        assert PageContent.objects.filter(page__version=version, language=language).count() == pages
    # Importing it again creates nothing.
    assert import_programme(FOLDER).created is False


def test_every_questionnaire_and_aid_the_pages_use_exists_in_both_languages(
    version: ProgrammeVersion,
) -> None:
    questionnaires = questionnaires_of(version)
    assert set(questionnaires) == QUESTIONNAIRES
    for questionnaire in questionnaires.values():
        assert set(questionnaire.title) == {"sv", "en"}, questionnaire.id
        for item in questionnaire.all_items():
            if item.text:
                assert set(item.text) == {"sv", "en"}, (questionnaire.id, item.link_id)
    used_aids = set()
    for language in ("sv", "en"):
        outline = get_outline(version, language)
        for page in outline.pages:
            used_aids |= {b["key"] for b in page.blocks if b["type"] == "aid"}
    assert used_aids == AIDS
    assert used_aids <= set(aids.REGISTRY)


@pytest.mark.parametrize("language", ["sv", "en"])
def test_each_track_sees_its_own_pages_and_tests(version: ProgrammeVersion, language: str) -> None:
    outline = get_outline(version, language)
    snus = outline.visible_to({"tobacco": "snus"})
    smoking = outline.visible_to({"tobacco": "smoking"})
    both = outline.visible_to({"tobacco": "both"})
    unknown = outline.visible_to({"tobacco": None})

    assert "harms-of-snus" in snus.page_by_key
    assert "harms-of-smoking" not in snus.page_by_key
    assert "harms-of-smoking" in smoking.page_by_key
    assert "harms-of-snus" not in smoking.page_by_key
    for everyone in (both, unknown):
        assert {"harms-of-snus", "harms-of-smoking"} <= set(everyone.page_by_key)

    assert ("questionnaire", "ftnd-st") in blocks(snus, "dependence-test")
    assert ("questionnaire", "ftnd") not in blocks(snus, "dependence-test")
    assert ("questionnaire", "ftnd") in blocks(smoking, "dependence-test")
    assert ("questionnaire", "ftnd-st") not in blocks(smoking, "dependence-test")
    assert {("questionnaire", "ftnd"), ("questionnaire", "ftnd-st")} <= set(
        blocks(both, "dependence-test")
    )
    # Every conditional block a track sees applies to it, and it misses none that does.
    for track, visible in (("snus", snus), ("smoking", smoking)):
        for page in outline.pages:
            if page.key not in visible.page_by_key:
                continue
            shown = visible.page_by_key[page.key].blocks
            expected = [b for b in page.blocks if _applies(b.get("when"), track)]
            assert list(shown) == expected, (track, page.key)


def _applies(when: object, track: str) -> bool:
    """Whether a block's condition (``"tobacco:snus|both"``) holds for the track."""
    if not when:
        return True
    assert isinstance(when, str), when
    _attribute, values = when.split(":", 1)
    return track in values.split("|")


def test_a_snus_user_is_asked_for_the_snus_test_and_not_the_cigarette_test(
    world: World, version: ProgrammeVersion
) -> None:
    enrolment = start_treatment(world.patient, world.unit, version)
    due_before = {
        d.questionnaire.id for d in due_for_enrolment(enrolment, timezone.localdate(), "sv")
    }
    assert {"ftnd", "ftnd-st"} <= due_before  # nothing known yet: both are offered

    now = timezone.now()
    Response.objects.create(
        enrolment=enrolment,
        questionnaire_id="tobacco-profile",
        day=timezone.localdate(),
        status=Response.Status.SUBMITTED,
        answers={"product": ["snus"], "cans-per-week": ["3"], "can-price": ["55"]},
        language="sv",
        created_at=now,
        updated_at=now,
        submitted_at=now,
    )
    due = {d.questionnaire.id for d in due_for_enrolment(enrolment, timezone.localdate(), "sv")}
    assert "ftnd-st" in due
    assert "ftnd" not in due


def test_no_page_of_the_programme_repeats_an_element_id(
    world: World, version: ProgrammeVersion, client_as: Callable[[str], Client]
) -> None:
    import re
    from collections import Counter

    from django.urls import reverse

    from steg.programmes.models import StepOpening

    enrolment = start_treatment(world.patient, world.unit, version, quit_date=timezone.localdate())
    for step in STEPS:
        StepOpening.objects.create(
            enrolment=enrolment, step_key=step, opened_by=world.therapist, opened_at=timezone.now()
        )
    patient = client_as("patient")
    for page in get_outline(version, "sv").pages:
        response = patient.get(reverse("programmes:page", args=[enrolment.pk, page.key]))
        assert response.status_code == 200, page.key
        ids = Counter(re.findall(r'\sid="([^"]+)"', response.content.decode()))
        repeated = [element_id for element_id, count in ids.items() if count > 1]
        assert repeated == [], (page.key, repeated)
