"""The tobacco aids: their context from the patient's data, in a fixed number of queries, and
the programme pages that embed them."""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django import DjangoAssertNumQueries

from steg.care.models import Enrolment
from steg.programmes.aids import REGISTRY, AidContext
from steg.programmes.models import ExerciseAnswer, Page
from steg.programmes.outline import get_outline
from steg.programmes.progress import load_progress
from steg.testing.personas import World
from steg.tobacco import aids

from .conftest import submit_response

STOCKHOLM = ZoneInfo("Europe/Stockholm")
NOW = datetime.datetime(2026, 6, 10, 12, 0, tzinfo=STOCKHOLM)

SMOKER: dict[str, list[Any]] = {
    "product": ["smoking"],
    "cigarettes-per-day": [20],
    "cigarettes-per-pack": [20],
    "pack-price": ["70"],
}


def context(enrolment: Enrolment, language: str = "sv") -> AidContext:
    return AidContext(
        enrolment=enrolment,
        outline=get_outline(enrolment.programme_version, language),
        language=language,
    )


def page_url(enrolment: Enrolment, key: str) -> str:
    return reverse("programmes:page", args=[enrolment.pk, key])


def test_the_aids_are_registered_under_their_fixed_names() -> None:
    names = {"medication-list", "savings", "craving-first-aid", "my-plan", "quit-date"}
    assert names <= set(REGISTRY)
    for name in names:
        assert REGISTRY[name].template.startswith("tobacco/aids/")


# --------------------------------------------------------------------------- medication-list


def test_the_medication_list_is_in_the_patients_language(
    tobacco_enrolment: Enrolment, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    ctx_sv, ctx_en = context(tobacco_enrolment, "sv"), context(tobacco_enrolment, "en")
    with django_assert_num_queries(0):
        sv = aids.medication_list_context(ctx_sv)
        en = aids.medication_list_context(ctx_en)
    otc, prescription = sv["sections"]
    assert [m["key"] for m in prescription["medications"]] == [
        "varenicline",
        "cytisine",
        "bupropion",
    ]
    assert otc["medications"][0]["name"] == "Nikotinplåster"
    assert en["sections"][0]["medications"][0]["name"] == "Nicotine patch"
    numbers = {s["number"] for s in sv["sources"]}
    assert all(set(m["sources"]) <= numbers for m in otc["medications"])


# --------------------------------------------------------------------------- savings


@time_machine.travel(NOW, tick=False)
def test_savings_without_quit_date_or_profile(
    tobacco_enrolment: Enrolment, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    ctx = context(tobacco_enrolment)
    with django_assert_num_queries(1):
        data = aids.savings_context(ctx)
    assert not data["savings"].has_quit_date
    assert data["savings"].profile is None
    assert data["products"] == []
    assert data["profile_url"] == reverse(
        "questionnaires:fill", args=[tobacco_enrolment.pk, "tobacco-profile"]
    )


@time_machine.travel(NOW, tick=False)
def test_savings_from_the_latest_submitted_profile(
    tobacco_enrolment: Enrolment, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    tobacco_enrolment.quit_date = datetime.date(2026, 6, 1)
    submit_response(tobacco_enrolment, "tobacco-profile", SMOKER, day=datetime.date(2026, 5, 20))
    submit_response(
        tobacco_enrolment,
        "tobacco-profile",
        {**SMOKER, "cigarettes-per-day": [10]},
        day=datetime.date(2026, 5, 25),
    )
    ctx = context(tobacco_enrolment, "en")
    with django_assert_num_queries(1):
        data = aids.savings_context(ctx)
    result = data["savings"]
    assert result.days == 9
    assert result.money == 315  # the later answer: 10 a day at 3.50 kr, 9 days
    assert result.cigarettes == 90
    (smoking,) = data["products"]
    assert smoking["reached"][0]["when"] == "After 20 minutes"
    assert smoking["next"]["key"] == "2-weeks"


@time_machine.travel(NOW, tick=False)
def test_savings_name_the_questions_still_to_answer(tobacco_enrolment: Enrolment) -> None:
    tobacco_enrolment.quit_date = datetime.date(2026, 6, 1)
    submit_response(tobacco_enrolment, "tobacco-profile", {"product": ["both"]})
    data = aids.savings_context(context(tobacco_enrolment, "en"))
    assert data["savings"].money is None
    assert data["missing"] == [
        "Cigarettes per day",
        "Cigarettes per pack",
        "Price per pack",
        "Cans per week",
        "Price per can",
    ]
    assert [p["product"] for p in data["products"]] == ["smoking", "snus"]
    assert data["products"][1]["note"].startswith("For snus there is less research")


def test_a_draft_profile_does_not_count(tobacco_enrolment: Enrolment) -> None:
    response = submit_response(tobacco_enrolment, "tobacco-profile", SMOKER)
    response.status = response.Status.DRAFT
    response.save(update_fields=["status"])
    assert aids.savings_context(context(tobacco_enrolment))["savings"].profile is None


def test_savings_in_a_programme_without_the_profile_questionnaire(
    world: World, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    ctx = context(world.enrolment)
    with django_assert_num_queries(0):
        data = aids.savings_context(ctx)
    assert data["profile_url"] == ""
    assert data["savings"].profile is None


# --------------------------------------------------------------------------- my-plan


def answer(enrolment: Enrolment, key: str, *, submitted: str = "", draft: str = "") -> None:
    page = Page.objects.get(version=enrolment.programme_version, key="plan")
    ExerciseAnswer.objects.create(
        enrolment=enrolment,
        key=key,
        page=page,
        draft=draft,
        submitted_text=submitted,
        status=ExerciseAnswer.Status.SUBMITTED if submitted else ExerciseAnswer.Status.DRAFT,
        updated_at=timezone.now(),
        submitted_at=timezone.now() if submitted else None,
    )


def test_my_plan_collects_answers_and_says_what_is_missing(
    tobacco_enrolment: Enrolment, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    answer(tobacco_enrolment, "reasons", submitted="För min hälsa.")
    answer(tobacco_enrolment, "triggers", draft="Kaffet på morgonen.")
    submit_response(tobacco_enrolment, "motivation", {"importance": [9], "confidence": [6]})
    ctx = context(tobacco_enrolment, "en")
    with django_assert_num_queries(3):
        data = aids.my_plan_context(ctx)
    parts = {p["key"]: p for p in data["parts"]}
    assert parts["reasons"]["text"] == "För min hälsa." and not parts["reasons"]["draft"]
    assert parts["triggers"]["text"] == "Kaffet på morgonen." and parts["triggers"]["draft"]
    # On an open page: a link to it.
    assert parts["quit-day-plan"]["where"] == {
        "state": "open",
        "url": page_url(tobacco_enrolment, "plan") + "#exercise-quit-day-plan",
        "title": "Planen",
    }
    # In a step that is not open yet: no link, which would lead nowhere.
    assert parts["support-people"]["where"]["state"] == "later"
    assert parts["support-people"]["where"]["url"] == ""
    # Not in the programme at all.
    assert parts["medication-choice"]["where"]["state"] == "absent"
    assert data["motivation"] == [
        {
            "key": "importance",
            "question": "How important is quitting to you?",
            "answer": "9",
            "of": "10",
        },
        {
            "key": "confidence",
            "question": "How confident are you that you can?",
            "answer": "6",
            "of": "10",
        },
    ]
    assert data["quit_date"] is None


@pytest.mark.parametrize("history", [0, 20])
def test_my_plan_runs_a_fixed_number_of_queries_whatever_the_history(
    tobacco_enrolment: Enrolment,
    django_assert_max_num_queries: DjangoAssertNumQueries,
    history: int,
) -> None:
    for day in range(history):
        submit_response(
            tobacco_enrolment,
            "motivation",
            {"importance": [day % 10]},
            day=datetime.date(2026, 1, 1) + datetime.timedelta(days=day),
        )
    ctx = context(tobacco_enrolment)
    with django_assert_max_num_queries(5):
        aids.my_plan_context(ctx)


def test_my_plan_takes_the_progress_the_page_has_loaded(
    tobacco_enrolment: Enrolment, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    answer(tobacco_enrolment, "reasons", submitted="För min hälsa.")
    ctx = context(tobacco_enrolment, "en")
    on_its_own = aids.my_plan_context(ctx)
    progress = load_progress(tobacco_enrolment, ctx.outline)
    with django_assert_num_queries(1):  # only the latest motivation answers
        from_page = aids.my_plan_context(dataclasses.replace(ctx, progress=progress))
    assert from_page == on_its_own


# --------------------------------------------------------------------------- quit-date


@time_machine.travel(NOW, tick=False)
def test_the_quit_date_aid(
    tobacco_enrolment: Enrolment, django_assert_num_queries: DjangoAssertNumQueries
) -> None:
    tobacco_enrolment.quit_date = datetime.date(2026, 6, 13)
    ctx = context(tobacco_enrolment)
    with django_assert_num_queries(0):
        data = aids.quit_date_context(ctx)
    assert data["days_until"] == 3 and data["days_since"] is None
    assert data["active"]
    assert data["form"]["quit_date"].value() == datetime.date(2026, 6, 13)


# --------------------------------------------------------------------------- the pages


@time_machine.travel(NOW, tick=False)
def test_a_page_with_every_tool_renders_for_the_patient(
    tobacco_enrolment: Enrolment, patient_en: Client
) -> None:
    tobacco_enrolment.quit_date = datetime.date(2026, 6, 1)
    tobacco_enrolment.save(update_fields=["quit_date"])
    submit_response(tobacco_enrolment, "tobacco-profile", SMOKER)

    response = patient_en.get(page_url(tobacco_enrolment, "tools"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Nicotine patch" in html and "Cytisine (cytisinicline)" in html
    assert "<dt>Days tobacco-free</dt><dd>9</dd>" in html
    assert "630 kr" in html
    assert "Deep breathing" in html
    assert 'action="' + reverse("tobacco:quit_date", args=[tobacco_enrolment.pk]) + '"' in html
    assert 'name="next" value="' + page_url(tobacco_enrolment, "tools") + '"' in html
    assert "style=" not in html and "<script>" not in html


def test_the_plan_page_renders_with_kind_words_for_what_is_missing(
    tobacco_enrolment: Enrolment, patient_en: Client
) -> None:
    response = patient_en.get(page_url(tobacco_enrolment, "plan"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "You have not chosen a quit date yet." in html
    assert "You have not written this part yet." in html
    assert "You will write this part later in the programme" in html
    assert "You have not answered the questions about importance and confidence yet." in html


def test_a_closed_treatment_shows_the_quit_date_without_the_form(
    tobacco_enrolment: Enrolment, patient_en: Client
) -> None:
    tobacco_enrolment.status = Enrolment.Status.COMPLETED
    tobacco_enrolment.quit_date = timezone.localdate()
    tobacco_enrolment.save(update_fields=["status", "quit_date"])
    response = patient_en.get(page_url(tobacco_enrolment, "tools"))
    assert response.status_code == 200
    assert b"That is today." in response.content
    assert b'name="quit_date"' not in response.content


def test_the_pdf_with_the_tools_and_without_answers_leaves_the_plan_out(
    tobacco_enrolment: Enrolment, patient_en: Client
) -> None:
    pytest.importorskip("weasyprint")
    from steg.programmes.pdf import render_programme_pdf
    from steg.programmes.progress import load_progress

    outline = get_outline(tobacco_enrolment.programme_version, "en")
    progress = load_progress(tobacco_enrolment, outline)
    pdf = render_programme_pdf(
        enrolment=tobacco_enrolment,
        outline=outline,
        progress=progress,
        pages=list(outline.pages[:2]),
        answers=False,
    )
    assert pdf.startswith(b"%PDF")


def test_the_aid_templates_render_in_the_pdf_context(tobacco_enrolment: Enrolment) -> None:
    # The PDF renders without a request: no forms, no links back to the page.
    from django.template.loader import render_to_string

    ctx = context(tobacco_enrolment, "en")
    for name in ("quit-date", "my-plan", "savings", "craving-first-aid", "medication-list"):
        aid = REGISTRY[name]
        html = render_to_string(aid.template, {"data": aid.context(ctx), "answers": False})
        assert "csrfmiddlewaretoken" not in html
        if name in ("my-plan", "savings"):
            # Both are built from the patient's answers, which this PDF leaves out.
            assert "left out of this PDF" in html


@time_machine.travel(NOW, tick=False)
def test_before_the_quit_date_the_savings_count_down(
    tobacco_enrolment: Enrolment, patient_en: Client
) -> None:
    tobacco_enrolment.quit_date = datetime.date(2026, 6, 13)
    tobacco_enrolment.save(update_fields=["quit_date"])
    submit_response(tobacco_enrolment, "tobacco-profile", SMOKER)
    html = patient_en.get(page_url(tobacco_enrolment, "tools")).content.decode()
    assert "Your quit date is 13 June 2026: 3 days left." in html
    assert "That is in 3 days." in html
    assert "(on 13 June 2026 at 00:20)" in html  # the first milestone, with its time


def test_sources_are_numbered_with_their_years(tobacco_enrolment: Enrolment) -> None:
    sources = aids.medication_list_context(context(tobacco_enrolment))["sources"]
    by_key = {s["key"]: s for s in sources}
    assert by_key["fass"]["text"].endswith("Läkemedelsindustriföreningen, 2024.")
    assert by_key["cochrane-nrt-2018"]["text"].startswith("Hartmann-Boyce J")
    assert "2018, 2018" not in by_key["cochrane-nrt-2018"]["text"]
    assert [s["number"] for s in sources] == list(range(1, len(sources) + 1))
