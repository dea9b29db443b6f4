"""Content that adapts to the patient: conditions on attributes, and what a snus user, a
smoker and a patient we know nothing about are shown, counted, led through, searched and
given in the PDF."""

from __future__ import annotations

import datetime
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st
from pytest_django import DjangoAssertNumQueries
from pytest_django.fixtures import Settings

from steg.audit.models import AuditEvent
from steg.care.models import Enrolment
from steg.programmes.actions import import_programme
from steg.programmes.conditions import (
    Attribute,
    Condition,
    ConditionError,
    attribute_values,
    check_condition,
    holds,
    is_shown,
    parse_condition,
)
from steg.programmes.models import Page, PageContent, PageProgress, ProgrammeVersion
from steg.programmes.outline import get_outline
from steg.programmes.tests.test_pdf_search import pdf_text
from steg.programmes.tests.test_views import OVERVIEW_QUERIES, PAGE_QUERIES
from steg.questionnaires.models import Response
from steg.testing.personas import EXAMPLE_PROGRAMME, World, start_treatment

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as HttpResponse

TOBACCO = Attribute("tobacco", ("smoking", "snus", "both"), "tobacco-profile", "product")
# Words only the conditional content holds, to look for in pages, search results and PDFs.
SNUS_WORD = "zebrasnus"
SMOKE_WORD = "zebrarök"


# --- pure: conditions and values --------------------------------------------------------------

slugs = st.from_regex(r"[a-z0-9]{1,6}(-[a-z0-9]{1,6}){0,2}", fullmatch=True)


def test_a_condition_is_an_attribute_and_its_values() -> None:
    assert parse_condition("tobacco:snus|both") == Condition("tobacco", ("snus", "both"))
    assert str(parse_condition("tobacco:snus")) == "tobacco:snus"


@pytest.mark.parametrize(
    "text",
    ["tobacco", "tobacco:", ":snus", "tobacco:snus|", "tobacco: snus", "Tobacco:snus", "a:b:c"],
)
def test_a_condition_not_written_attribute_colon_values_is_refused(text: str) -> None:
    with pytest.raises(ConditionError, match="must be written"):
        parse_condition(text)


def test_a_value_listed_twice_is_refused() -> None:
    with pytest.raises(ConditionError, match="'snus' twice"):
        parse_condition("tobacco:snus|snus")


def test_a_condition_must_name_a_declared_attribute_and_its_values() -> None:
    declared = {"tobacco": ("smoking", "snus", "both")}
    assert check_condition("tobacco:snus", declared) == Condition("tobacco", ("snus",))
    with pytest.raises(ConditionError, match="unknown attribute 'alcohol'"):
        check_condition("alcohol:yes", declared)
    with pytest.raises(ConditionError, match="'tobacco' has no value 'cigar'"):
        check_condition("tobacco:snus|cigar", declared)
    with pytest.raises(ConditionError, match="declares none"):
        check_condition("tobacco:snus", {})


@given(
    attribute=slugs,
    values=st.lists(slugs, min_size=1, max_size=4, unique=True),
    value=st.one_of(st.none(), slugs),
)
def test_a_condition_holds_when_the_value_is_listed_or_unknown(
    attribute: str, values: list[str], value: str | None
) -> None:
    condition = parse_condition(f"{attribute}:{'|'.join(values)}")
    assert str(condition) == f"{attribute}:{'|'.join(values)}"
    assert holds(condition, {attribute: value}) == (value is None or value in values)
    assert holds(condition, {}) is True  # nothing known about the patient: shown
    assert is_shown(str(condition), {attribute: value}) == holds(condition, {attribute: value})


def test_content_without_a_condition_is_always_shown() -> None:
    assert is_shown("", {"tobacco": "snus"})
    assert is_shown(None, {})


@given(
    assigned=st.one_of(st.none(), st.sampled_from(["smoking", "snus", "both", "cigar", ""])),
    answered=st.one_of(st.none(), st.sampled_from(["smoking", "snus", "both", "none"])),
)
def test_the_value_set_on_the_enrolment_wins_then_the_answer_then_unknown(
    assigned: str | None, answered: str | None
) -> None:
    answers = {} if answered is None else {"tobacco-profile": {"product": [answered]}}
    values = attribute_values([TOBACCO], {} if assigned is None else {"tobacco": assigned}, answers)
    if assigned in TOBACCO.values:
        assert values == {"tobacco": assigned}
    elif answered in TOBACCO.values:
        assert values == {"tobacco": answered}
    else:
        assert values == {"tobacco": None}


def test_an_attribute_without_a_questionnaire_is_unknown_until_set() -> None:
    plain = Attribute("goal", ("quit", "reduce"))
    assert attribute_values([plain], {}, {}) == {"goal": None}
    assert attribute_values([plain], {"goal": "reduce"}, {}) == {"goal": "reduce"}


@pytest.mark.parametrize(
    "answers",
    [{}, {"product": []}, {"product": ["snus", "both"]}, {"product": [3]}, {"other": ["snus"]}],
)
def test_an_answer_that_is_not_one_code_leaves_the_value_unknown(
    answers: dict[str, object],
) -> None:
    assert attribute_values([TOBACCO], {}, {"tobacco-profile": answers}) == {"tobacco": None}


def test_attributes_round_trip_through_json() -> None:
    assert Attribute.from_json("tobacco", TOBACCO.to_json()) == TOBACCO
    plain = Attribute("goal", ("quit", "reduce"))
    assert Attribute.from_json("goal", plain.to_json()) == plain


# --- a programme that adapts ------------------------------------------------------------------

PROFILE = """\
id: tobacco-profile
version: "1"
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
      - code: neither
        text: {sv: Inget av dem, en: Neither}
"""


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _append(path: Path, text: str) -> None:
    _write(path, path.read_text(encoding="utf-8") + text)


def adaptive_programme(root: Path) -> Path:
    """The example programme with a `tobacco` attribute read from a questionnaire.

    Step `welcome`: welcome (a smoking-only text and a snus-only callout), how-it-works, and
    snus-facts (snus users). Step `smoke-free` (after_previous): smoke-free-home (smokers).
    Step `try-it` (after_previous): first-exercise, with a snus-only exercise.
    Step `looking-back` (7 days).
    """
    folder = root / "adaptive"
    shutil.copytree(EXAMPLE_PROGRAMME, folder)
    manifest = folder / "programme.yaml"
    text = manifest.read_text(encoding="utf-8")
    text = text.replace(
        "steps:\n",
        "attributes:\n"
        "  tobacco:\n"
        "    values: [smoking, snus, both]\n"
        "    from: {questionnaire: tobacco-profile, item: product}\n"
        "steps:\n",
        1,
    )
    text = text.replace(
        "      - how-it-works\n",
        "      - how-it-works\n"
        '      - {key: snus-facts, when: "tobacco:snus|both"}\n'
        "  - key: smoke-free\n"
        "    title: {sv: Rökfritt, en: Smoke-free}\n"
        "    unlock: after_previous\n"
        "    pages:\n"
        "      - key: smoke-free-home\n"
        "        when: tobacco:smoking|both\n",
        1,
    )
    _write(manifest, text)
    _write(folder / "questionnaires" / "tobacco-profile.yaml", PROFILE)
    for language in ("sv", "en"):
        pages = folder / "pages" / language
        _write(
            pages / "snus-facts.md",
            f"---\ntitle: Snus facts\nminutes: 2\n---\nAbout snus: {SNUS_WORD} portions.\n",
        )
        _write(
            pages / "smoke-free-home.md",
            f"---\ntitle: A smoke-free home\nminutes: 2\n---\nAir at home: {SMOKE_WORD}.\n",
        )
        _append(
            pages / "welcome.md",
            f"\n::: when tobacco:smoking|both\nCigarettes and {SMOKE_WORD} in the lungs.\n:::\n"
            f"\n::: callout tip when=tobacco:snus|both\nUnder the lip: {SNUS_WORD}.\n:::\n",
        )
        _append(
            pages / "first-exercise.md",
            "\n::: exercise snus-triggers when=tobacco:snus|both\nWhen do you take a snus?\n:::\n",
        )
    return folder


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings: Settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def version(db: None, tmp_path: Path) -> ProgrammeVersion:
    return import_programme(adaptive_programme(tmp_path)).version


@pytest.fixture
def enrolment(world: World, version: ProgrammeVersion) -> Enrolment:
    return start_treatment(world.patient, world.unit, version)


@pytest.fixture
def patient(client_as: Callable[[str], Client]) -> Client:
    return client_as("patient")


def answer_profile(enrolment: Enrolment, product: str, *, days_ago: int = 0) -> Response:
    now = timezone.now()
    return Response.objects.create(
        enrolment=enrolment,
        questionnaire_id="tobacco-profile",
        day=timezone.localdate() - datetime.timedelta(days=days_ago),
        status=Response.Status.SUBMITTED,
        answers={"product": [product]},
        language="sv",
        created_at=now,
        updated_at=now,
        submitted_at=now,
    )


@pytest.fixture
def snus_user(enrolment: Enrolment) -> Enrolment:
    answer_profile(enrolment, "snus")
    return enrolment


@pytest.fixture
def smoker(enrolment: Enrolment) -> Enrolment:
    answer_profile(enrolment, "smoking")
    return enrolment


def url(name: str, enrolment: Enrolment, *args: str) -> str:
    return reverse(f"programmes:{name}", args=[enrolment.pk, *args])


def read(client: Client, enrolment: Enrolment, *keys: str) -> HttpResponse:
    response = None
    for key in keys:
        response = client.post(url("mark_read", enrolment, key))
        assert response.status_code == 302, (key, response.status_code)
    assert response is not None
    return response


def step_pages(client: Client, enrolment: Enrolment) -> dict[str, list[str]]:
    progress = client.get(url("overview", enrolment)).context["progress"]
    return {s.step.key: [p.key for p in s.step.pages] for s in progress.steps}


# --- what is stored -------------------------------------------------------------------------


def test_import_stores_the_attributes_the_page_conditions_and_the_block_conditions(
    version: ProgrammeVersion,
) -> None:
    assert version.attributes == {
        "tobacco": {
            "values": ["smoking", "snus", "both"],
            "from": {"questionnaire": "tobacco-profile", "item": "product"},
        }
    }
    whens = dict(Page.objects.filter(version=version).values_list("key", "when"))
    assert whens["snus-facts"] == "tobacco:snus|both"
    assert whens["smoke-free-home"] == "tobacco:smoking|both"
    assert whens["welcome"] == whens["how-it-works"] == ""
    welcome = PageContent.objects.get(page__version=version, page__key="welcome", language="en")
    assert [(b["type"], b.get("when")) for b in welcome.blocks] == [
        ("markdown", None),
        ("callout", None),
        ("markdown", "tobacco:smoking|both"),
        ("callout", "tobacco:snus|both"),
    ]


def test_the_outline_carries_the_conditions(version: ProgrammeVersion) -> None:
    outline = get_outline(version, "en")
    assert outline.attributes == (TOBACCO,)
    assert outline.conditional
    assert outline.page_by_key["snus-facts"].when == "tobacco:snus|both"
    assert outline.page_by_key["welcome"].when == ""
    [exercise] = [
        b for b in outline.page_by_key["first-exercise"].blocks if b.get("key") == "snus-triggers"
    ]
    assert exercise["when"] == "tobacco:snus|both"


def test_the_example_programme_declares_nothing_and_adapts_to_nothing(world: World) -> None:
    outline = get_outline(world.enrolment.programme_version, "en")
    assert outline.attributes == ()
    assert not outline.conditional
    assert outline.visible_to({"tobacco": "snus"}) is outline


# --- what each patient is shown ---------------------------------------------------------------


def test_a_snus_user_sees_the_snus_page_and_not_the_smoking_step(
    patient: Client, snus_user: Enrolment
) -> None:
    assert step_pages(patient, snus_user) == {
        "welcome": ["welcome", "how-it-works", "snus-facts"],
        "try-it": ["first-exercise"],
        "looking-back": ["looking-back"],
    }


def test_a_smoker_sees_the_smoking_step_and_not_the_snus_page(
    patient: Client, smoker: Enrolment
) -> None:
    assert step_pages(patient, smoker) == {
        "welcome": ["welcome", "how-it-works"],
        "smoke-free": ["smoke-free-home"],
        "try-it": ["first-exercise"],
        "looking-back": ["looking-back"],
    }


def test_a_patient_we_know_nothing_about_sees_everything(
    patient: Client, enrolment: Enrolment
) -> None:
    assert step_pages(patient, enrolment) == {
        "welcome": ["welcome", "how-it-works", "snus-facts"],
        "smoke-free": ["smoke-free-home"],
        "try-it": ["first-exercise"],
        "looking-back": ["looking-back"],
    }


def test_an_answer_outside_the_attributes_values_shows_everything(
    patient: Client, enrolment: Enrolment
) -> None:
    answer_profile(enrolment, "neither")
    assert len(client_overview(patient, enrolment).context["progress"].outline.pages) == 6


def client_overview(client: Client, enrolment: Enrolment) -> HttpResponse:
    response = client.get(url("overview", enrolment))
    assert response.status_code == 200
    return response


def test_the_step_page_lists_only_the_pages_shown(patient: Client, enrolment: Enrolment) -> None:
    step = url("step", enrolment, "welcome")
    assert "Snus facts" in patient.get(step).content.decode()
    answer_profile(enrolment, "smoking")
    response = patient.get(step)
    assert "Snus facts" not in response.content.decode()
    assert [p.key for p in response.context["step"].step.pages] == ["welcome", "how-it-works"]


def test_the_overview_step_list_leaves_out_a_step_with_no_page_shown(
    patient: Client, snus_user: Enrolment
) -> None:
    content = client_overview(patient, snus_user).content.decode()
    assert "Smoke-free" not in content and "Rökfritt" not in content


def test_blocks_whose_condition_does_not_hold_are_not_rendered(
    patient: Client, enrolment: Enrolment
) -> None:
    page = url("page", enrolment, "welcome")
    unknown = patient.get(page).content.decode()
    assert SNUS_WORD in unknown and SMOKE_WORD in unknown

    answer_profile(enrolment, "snus")
    snus = patient.get(page).content.decode()
    assert SNUS_WORD in snus and SMOKE_WORD not in snus

    enrolment.attributes = {"tobacco": "smoking"}
    enrolment.save(update_fields=["attributes"])
    smoking = patient.get(page).content.decode()
    assert SMOKE_WORD in smoking and SNUS_WORD not in smoking


def test_a_hidden_page_asked_for_directly_answers_404_and_is_recorded(
    patient: Client, smoker: Enrolment
) -> None:
    assert patient.get(url("page", smoker, "snus-facts")).status_code == 404
    assert patient.post(url("mark_read", smoker, "snus-facts")).status_code == 404
    [event] = AuditEvent.objects.filter(action="programmes.access_denied").order_by("pk")[:1]
    assert event.object_id == "snus-facts"
    assert "condition" in event.detail["reason"]
    assert not PageProgress.objects.filter(enrolment=smoker).exists()


def test_a_step_with_no_page_shown_answers_404(patient: Client, snus_user: Enrolment) -> None:
    assert patient.get(url("step", snus_user, "smoke-free")).status_code == 404
    assert AuditEvent.objects.filter(
        action="programmes.access_denied", object_id="smoke-free"
    ).exists()


def test_a_hidden_exercise_cannot_be_answered(patient: Client, smoker: Enrolment) -> None:
    read(patient, smoker, "welcome", "how-it-works", "smoke-free-home")
    page = patient.get(url("page", smoker, "first-exercise"))
    assert page.status_code == 200
    assert "snus-triggers" not in page.content.decode()
    response = patient.post(
        url("exercise", smoker, "first-exercise", "snus-triggers"),
        {"snus-triggers-text": "x", "snus-triggers-token": "t", "snus-triggers-action": "save"},
    )
    assert response.status_code == 404


def test_setting_the_enrolments_attribute_overrides_the_answer(
    patient: Client, snus_user: Enrolment
) -> None:
    snus_user.attributes = {"tobacco": "smoking"}
    snus_user.save(update_fields=["attributes"])
    assert "smoke-free" in step_pages(patient, snus_user)
    assert patient.get(url("page", snus_user, "snus-facts")).status_code == 404


def test_a_value_on_the_enrolment_that_is_not_declared_is_ignored(
    patient: Client, snus_user: Enrolment
) -> None:
    snus_user.attributes = {"tobacco": "cigars"}
    snus_user.save(update_fields=["attributes"])
    assert "smoke-free" not in step_pages(patient, snus_user)


def test_the_latest_answer_counts(patient: Client, enrolment: Enrolment) -> None:
    answer_profile(enrolment, "snus", days_ago=3)
    answer_profile(enrolment, "smoking", days_ago=1)
    draft = answer_profile(enrolment, "both")
    draft.status = Response.Status.DRAFT
    draft.save(update_fields=["status"])
    assert "smoke-free" in step_pages(patient, enrolment)
    assert patient.get(url("page", enrolment, "snus-facts")).status_code == 404


# --- counting, unlocking and moving on ---------------------------------------------------------


def test_hidden_pages_count_neither_in_pages_read_nor_in_the_total(
    patient: Client, enrolment: Enrolment
) -> None:
    read(patient, enrolment, "welcome", "how-it-works", "snus-facts")
    progress = client_overview(patient, enrolment).context["progress"]
    assert (progress.pages_read, progress.pages_total) == (3, 6)

    answer_profile(enrolment, "smoking")  # the snus page, already read, is now hidden
    response = client_overview(patient, enrolment)
    progress = response.context["progress"]
    assert (progress.pages_read, progress.pages_total) == (2, 5)
    assert progress.step("welcome").completed
    assert '<progress max="5" value="2"' in response.content.decode()


def test_hidden_exercises_are_not_counted(patient: Client, smoker: Enrolment) -> None:
    assert client_overview(patient, smoker).context["progress"].exercises_total == 1
    smoker.attributes = {"tobacco": "snus"}
    smoker.save(update_fields=["attributes"])
    assert client_overview(patient, smoker).context["progress"].exercises_total == 2


def test_a_smoker_opens_the_next_step_without_reading_the_hidden_snus_page(
    patient: Client, smoker: Enrolment
) -> None:
    response = read(patient, smoker, "welcome", "how-it-works")
    # Marking the last shown page of the step read goes on to the next shown page.
    assert response["Location"] == url("page", smoker, "smoke-free-home")
    assert patient.get(url("page", smoker, "smoke-free-home")).status_code == 200


def test_a_snus_user_must_read_the_snus_page_before_the_next_step_opens(
    patient: Client, snus_user: Enrolment
) -> None:
    response = read(patient, snus_user, "welcome", "how-it-works")
    assert response["Location"] == url("page", snus_user, "snus-facts")
    assert patient.get(url("page", snus_user, "first-exercise")).status_code == 404

    response = read(patient, snus_user, "snus-facts")
    # The smoking step is not there for a snus user: try-it follows the welcome step.
    assert response["Location"] == url("page", snus_user, "first-exercise")
    assert patient.get(url("page", snus_user, "first-exercise")).status_code == 200


def test_previous_and_next_skip_hidden_pages(patient: Client, smoker: Enrolment) -> None:
    read(patient, smoker, "welcome", "how-it-works", "smoke-free-home")
    context = patient.get(url("page", smoker, "smoke-free-home")).context
    assert context["previous_page"].key == "how-it-works"
    assert context["next_page"].key == "first-exercise"
    context = patient.get(url("page", smoker, "how-it-works")).context
    assert context["next_page"].key == "smoke-free-home"


def test_continue_skips_hidden_pages(patient: Client, smoker: Enrolment) -> None:
    read(patient, smoker, "welcome", "how-it-works")
    response = patient.get(url("continue", smoker))
    assert response["Location"] == url("page", smoker, "smoke-free-home")


def test_continue_for_a_snus_user_goes_to_the_snus_page(
    patient: Client, snus_user: Enrolment
) -> None:
    read(patient, snus_user, "welcome", "how-it-works")
    response = patient.get(url("continue", snus_user))
    assert response["Location"] == url("page", snus_user, "snus-facts")


# --- search and PDF ---------------------------------------------------------------------------


def hits(client: Client, enrolment: Enrolment, query: str) -> list[str]:
    response = client.get(url("search", enrolment), {"q": query})
    assert response.status_code == 200
    return sorted(info.key for info, _ in response.context["hits"])


def test_search_leaves_out_hidden_pages_and_hidden_blocks(
    patient: Client, enrolment: Enrolment
) -> None:
    assert hits(patient, enrolment, SNUS_WORD) == ["snus-facts", "welcome"]
    assert hits(patient, enrolment, SMOKE_WORD) == ["welcome"]  # its step is still locked

    answer_profile(enrolment, "smoking")
    assert hits(patient, enrolment, SNUS_WORD) == []
    assert hits(patient, enrolment, SMOKE_WORD) == ["welcome"]

    enrolment.attributes = {"tobacco": "snus"}
    enrolment.save(update_fields=["attributes"])
    assert hits(patient, enrolment, SMOKE_WORD) == []
    assert hits(patient, enrolment, SNUS_WORD) == ["snus-facts", "welcome"]


def test_a_snippet_on_a_page_with_hidden_blocks_shows_only_what_the_patient_is_shown(
    patient: Client, snus_user: Enrolment
) -> None:
    response = patient.get(url("search", snus_user), {"q": SNUS_WORD})
    [hit] = [h for i, h in response.context["hits"] if i.key == "welcome"]
    assert f"<mark>{SNUS_WORD}</mark>." in hit.snippet
    assert SMOKE_WORD not in hit.snippet
    assert SMOKE_WORD not in response.content.decode()


def test_the_pdf_form_offers_only_the_pages_shown(patient: Client, smoker: Enrolment) -> None:
    form = patient.get(url("pdf", smoker)).context["form"]
    offered = [key for key, _ in form.fields["pages"].choices]
    assert "snus-facts" not in offered
    assert "welcome" in offered


def test_the_pdf_holds_what_the_patient_is_shown_and_nothing_hidden(
    patient: Client, snus_user: Enrolment
) -> None:
    response = patient.get(url("pdf", snus_user), {"everything": "on", "answers": "on"})
    assert response.status_code == 200
    text = pdf_text(response.content)
    assert SNUS_WORD in text and "Snus facts" in text
    assert SMOKE_WORD not in text and "smoke-free home" not in text

    tampered = patient.get(url("pdf", snus_user), {"pages": ["smoke-free-home"]})
    assert tampered.status_code == 422


def test_a_smokers_pdf_leaves_out_the_snus_page_and_blocks(
    patient: Client, smoker: Enrolment
) -> None:
    read(patient, smoker, "welcome", "how-it-works", "smoke-free-home")
    response = patient.get(url("pdf", smoker), {"everything": "on"})
    text = pdf_text(response.content)
    assert SMOKE_WORD in text
    assert SNUS_WORD not in text and "Snus facts" not in text


# --- the therapist's view and the number of queries ---------------------------------------------


def test_the_therapist_sees_the_patients_progress_over_what_the_patient_is_shown(
    client_as: Callable[[str], Client], world: World, smoker: Enrolment
) -> None:
    response = client_as("therapist").get(reverse("care:patient_record", args=[world.patient.pk]))
    [treatment] = [t for t in response.context["treatments"] if t["enrolment"] == smoker]
    assert treatment["progress"].pages_total == 5


@pytest.mark.parametrize("known", ["answer", "enrolment", "nothing"])
def test_overview_and_page_run_at_most_one_query_more_when_the_programme_adapts(
    patient: Client,
    enrolment: Enrolment,
    django_assert_max_num_queries: DjangoAssertNumQueries,
    known: str,
) -> None:
    from steg.programmes import outline

    if known == "answer":
        answer_profile(enrolment, "snus")
    elif known == "enrolment":
        enrolment.attributes = {"tobacco": "snus"}
        enrolment.save(update_fields=["attributes"])
    outline._load_outline.cache_clear()
    with django_assert_max_num_queries(OVERVIEW_QUERIES + 1):
        assert patient.get(url("overview", enrolment)).status_code == 200
    outline._load_outline.cache_clear()
    with django_assert_max_num_queries(PAGE_QUERIES + 1):
        assert patient.get(url("page", enrolment, "welcome")).status_code == 200


def test_the_value_on_the_enrolment_needs_no_query(enrolment: Enrolment) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from steg.programmes.progress import load_attribute_values

    enrolment.attributes = {"tobacco": "both"}
    with CaptureQueriesContext(connection) as queries:
        assert load_attribute_values(enrolment, [TOBACCO]) == {"tobacco": "both"}
    assert len(queries) == 0
    enrolment.attributes = {}
    answer_profile(enrolment, "snus")
    with CaptureQueriesContext(connection) as queries:
        assert load_attribute_values(enrolment, [TOBACCO]) == {"tobacco": "snus"}
    assert len(queries) == 1


def test_marking_a_page_read_reads_the_answers_once(patient: Client, snus_user: Enrolment) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = read(patient, snus_user, "how-it-works")
    assert response["Location"] == url("page", snus_user, "snus-facts")
    reads = [q for q in queries.captured_queries if "questionnaires_response" in q["sql"]]
    assert len(reads) == 1
