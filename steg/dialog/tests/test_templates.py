"""Message templates: unit admins write them with placeholders (unknown ones refused), therapists
start messages from them, filled in for the patient in the patient's language."""

from __future__ import annotations

import datetime
from collections.abc import Callable

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains
from pytest_django.fixtures import Settings

from steg.accounts.models import User
from steg.audit.models import AuditEvent
from steg.care.models import Enrolment
from steg.dialog.models import Message, MessageTemplate
from steg.dialog.placeholders import days_tobacco_free, render_template, validate_placeholders
from steg.programmes.models import Programme
from steg.testing.personas import World

pytestmark = pytest.mark.django_db

QUIT_DATE = datetime.date(2026, 3, 5)


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings: Settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def english(client_as: Callable[[str], Client]) -> Callable[[str], Client]:
    def make(persona: str) -> Client:
        client = client_as(persona)
        client.cookies["steg_language"] = "en"
        return client

    return make


def templates_url(world: World) -> str:
    return reverse("dialog:templates", args=[world.unit.pk])


def template_data(**overrides: str) -> dict[str, str]:
    return {"title": "Slutdagen", "body": "Hej {first_name}!", "is_active": "on", **overrides}


def make_template(world: World, body: str, **fields: object) -> MessageTemplate:
    values: dict[str, object] = {"unit": world.unit, "title": "Mall", "body": body, **fields}
    return MessageTemplate.objects.create(**values)


def with_quit_date(world: World, quit_date: datetime.date | None = QUIT_DATE) -> Enrolment:
    Enrolment.objects.filter(pk=world.enrolment.pk).update(quit_date=quit_date)
    world.enrolment.refresh_from_db()
    return world.enrolment


# Placeholders -------------------------------------------------------------------------------------


def test_known_placeholders_and_doubled_braces_pass_and_others_are_named() -> None:
    assert validate_placeholders("Hej {first_name}, {{inte}} {therapist_name}") == []
    assert validate_placeholders("Hej {name} och {förnamn}{name}") == ["{name}", "{förnamn}"]
    assert validate_placeholders("Hej {first_name.__class__}") == ["{first_name.__class__}"]
    assert validate_placeholders("Hej {first_name!r} {quit_date:%Y}") == [
        "{first_name!r}",
        "{quit_date:%Y}",
    ]
    assert validate_placeholders("en { för mycket") == ["{"]
    assert validate_placeholders("}") == ["}"]


def test_placeholders_are_filled_in_for_the_patient(world: World) -> None:
    enrolment = with_quit_date(world)
    with time_machine.travel(datetime.datetime(2026, 3, 19, 12, tzinfo=datetime.UTC)):
        text = render_template(
            "Hej {first_name}! Sedan {quit_date} har det gått {days_tobacco_free} dagar. "
            "{{Hälsningar}} {therapist_name}",
            enrolment,
        )
    assert text == ("Hej Pia! Sedan 5 mars 2026 har det gått 14 dagar. {Hälsningar} Tea Terapeut")


def test_the_quit_date_is_written_in_the_patients_language(world: World) -> None:
    enrolment = with_quit_date(world)
    assert render_template("{quit_date}", enrolment) == "5 mars 2026"
    User.objects.filter(pk=world.patient_user.pk).update(language="en")
    enrolment = Enrolment.objects.select_related("patient__user", "therapist").get(pk=enrolment.pk)
    assert render_template("{quit_date}", enrolment) == "5 March 2026"


def test_days_tobacco_free_count_from_the_quit_date_and_not_before_it() -> None:
    assert days_tobacco_free(QUIT_DATE, today=datetime.date(2026, 3, 1)) == 0
    assert days_tobacco_free(QUIT_DATE, today=QUIT_DATE) == 0
    assert days_tobacco_free(QUIT_DATE, today=datetime.date(2026, 3, 6)) == 1
    assert days_tobacco_free(QUIT_DATE, today=datetime.date(2026, 4, 5)) == 31
    assert days_tobacco_free(None) == 0


def test_without_a_quit_date_the_text_says_so_for_the_writer_to_see(world: World) -> None:
    User.objects.filter(pk=world.patient_user.pk).update(language="en")
    enrolment = with_quit_date(world, None)
    enrolment = Enrolment.objects.select_related("patient__user", "therapist").get(pk=enrolment.pk)
    text = render_template("{quit_date} / {days_tobacco_free}", enrolment)
    assert text == "[no quit date set] / [no quit date set]"


def test_unknown_placeholders_are_left_as_written_when_rendering(world: World) -> None:
    assert render_template("Hej {name}", world.enrolment) == "Hej {name}"


# Writing templates --------------------------------------------------------------------------------


def test_a_unit_admin_adds_a_template(world: World, english: Callable[[str], Client]) -> None:
    admin = english("admin")
    programme = world.enrolment.programme_version.programme
    response = admin.post(
        templates_url(world), template_data(programme=str(programme.pk), body="Hej {first_name}!")
    )
    assert response.status_code == 302
    template = MessageTemplate.objects.get()
    assert (template.unit, template.programme, template.created_by) == (
        world.unit,
        programme,
        world.unit_admin,
    )
    assert template.is_active
    event = AuditEvent.objects.get(action="dialog.template.created")
    assert event.actor == world.unit_admin
    page = admin.get(templates_url(world))
    assertContains(page, "Slutdagen")
    assertContains(page, reverse("dialog:template_edit", args=[template.pk]))


def test_an_unknown_placeholder_is_refused_and_nothing_is_stored(
    world: World, english: Callable[[str], Client]
) -> None:
    response = english("admin").post(
        templates_url(world), template_data(body="Hej {förnamn}, snart {quitdate}!")
    )
    assert response.status_code == 422
    assertContains(response, "There is no placeholder {förnamn}, {quitdate}.", status_code=422)
    assertContains(response, "{first_name}", status_code=422)
    assert not MessageTemplate.objects.exists()


@pytest.mark.parametrize(
    ("body", "error"),
    [("  ", "Write the text of the template."), ("x" * 5001, "The text is 5001 characters long")],
)
def test_empty_or_over_long_templates_are_refused(
    world: World, english: Callable[[str], Client], body: str, error: str
) -> None:
    response = english("admin").post(templates_url(world), template_data(body=body))
    assertContains(response, error, status_code=422)
    assert not MessageTemplate.objects.exists()


def test_a_unit_admin_changes_and_retires_a_template(
    world: World, english: Callable[[str], Client]
) -> None:
    template = make_template(world, "Hej {first_name}")
    url = reverse("dialog:template_edit", args=[template.pk])
    admin = english("admin")
    assertContains(admin.get(url), "Hej {first_name}")
    response = admin.post(
        url, {"title": "Välkommen", "body": "Hej {first_name}!!", "is_active": ""}
    )
    assert response.status_code == 302
    template.refresh_from_db()
    assert (template.title, template.body, template.is_active) == (
        "Välkommen",
        "Hej {first_name}!!",
        False,
    )
    assert AuditEvent.objects.filter(action="dialog.template.changed").count() == 1
    response = admin.post(url, {"title": "Välkommen", "body": "Hej {namn}"})
    assert response.status_code == 422
    template.refresh_from_db()
    assert template.body == "Hej {first_name}!!"


def test_therapists_read_the_templates_in_use_but_do_not_write_them(
    world: World, english: Callable[[str], Client]
) -> None:
    make_template(world, "I bruk")
    retired = make_template(world, "Pensionerad", is_active=False)
    therapist = english("therapist")
    page = therapist.get(templates_url(world))
    assertContains(page, "I bruk")
    assertNotContains(page, "Pensionerad")
    assertNotContains(page, "New template")
    assert therapist.post(templates_url(world), template_data()).status_code == 404
    edit = reverse("dialog:template_edit", args=[retired.pk])
    assert therapist.get(edit).status_code == 404
    assert MessageTemplate.objects.count() == 2


def test_another_units_admin_cannot_reach_the_templates(
    world: World, english: Callable[[str], Client]
) -> None:
    template = make_template(world, "Hej")
    other = english("other_therapist")
    assert other.get(templates_url(world)).status_code == 404
    assert other.get(reverse("dialog:template_edit", args=[template.pk])).status_code == 404


# Using templates ----------------------------------------------------------------------------------


def test_the_template_picker_offers_the_units_templates_for_this_programme(
    world: World, english: Callable[[str], Client]
) -> None:
    programme = world.enrolment.programme_version.programme
    other_programme = Programme.objects.create(slug="annat")
    make_template(world, "a", title="För alla")
    make_template(world, "b", title="För detta program", programme=programme)
    make_template(world, "c", title="För ett annat program", programme=other_programme)
    make_template(world, "d", title="Ur bruk", is_active=False)
    MessageTemplate.objects.create(unit=world.other_unit, title="Annan enhet", body="e")
    page = english("therapist").get(reverse("dialog:staff_messages", args=[world.enrolment.pk]))
    assertContains(page, "För alla")
    assertContains(page, "För detta program")
    for absent in ("För ett annat program", "Ur bruk", "Annan enhet"):
        assertNotContains(page, absent)
    assertContains(
        page, f'hx-get="{reverse("dialog:template_preview", args=[world.enrolment.pk])}"'
    )


def test_choosing_a_template_with_htmx_fills_the_message_box(
    world: World, english: Callable[[str], Client]
) -> None:
    template = make_template(world, "Hej {first_name}!\nDin slutdag är {quit_date}.")
    with_quit_date(world)
    url = reverse("dialog:template_preview", args=[world.enrolment.pk])
    response = english("therapist").get(
        url, {"template": str(template.pk), "body": "tidigare text"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    html = response.content.decode().strip()
    assert html.startswith("<textarea") and html.endswith("</textarea>")
    assert "Hej Pia!\nDin slutdag är 5 mars 2026.</textarea>" in html
    # No template chosen: what was typed stays.
    response = english("therapist").get(url, {"template": "", "body": "tidigare text"})
    assertContains(response, "tidigare text</textarea>")
    assert not Message.objects.exists()


def test_without_javascript_use_template_shows_the_form_filled_in(
    world: World, english: Callable[[str], Client]
) -> None:
    template = make_template(world, "Hej {first_name}!")
    response = english("therapist").post(
        reverse("dialog:staff_send", args=[world.enrolment.pk]),
        {"template": template.pk, "body": "", "token": "t1", "action": "use_template"},
    )
    assert response.status_code == 200
    assertContains(response, "Hej Pia!</textarea>")
    assertContains(response, 'value="t1"')
    assert not Message.objects.exists()


def test_another_units_template_cannot_be_used(
    world: World, english: Callable[[str], Client]
) -> None:
    foreign = MessageTemplate.objects.create(
        unit=world.other_unit, title="Annan", body="Hemligt {first_name}"
    )
    response = english("therapist").get(
        reverse("dialog:template_preview", args=[world.enrolment.pk]),
        {"template": str(foreign.pk), "body": ""},
    )
    assertNotContains(response, "Hemligt")


def test_the_demo_unit_gets_swedish_templates_once() -> None:
    from steg.accounts.demo import DEMO_MESSAGE_TEMPLATES, DEMO_UNIT, load_demo

    load_demo()
    load_demo()
    templates = MessageTemplate.objects.filter(unit__name=DEMO_UNIT)
    assert templates.count() == len(DEMO_MESSAGE_TEMPLATES)
    for template in templates:
        assert validate_placeholders(template.body) == []
        assert "{first_name}" in template.body
