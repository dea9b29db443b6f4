"""The programme as a PDF, and full-text search over its pages (FTS5 on SQLite, text search on
PostgreSQL: run the suite on both)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation
from pytest_django.fixtures import Settings

from steg.audit.models import AuditEvent
from steg.care.models import Enrolment
from steg.programmes.actions import import_programme
from steg.testing.personas import EXAMPLE_PROGRAMME, World, start_treatment

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

ANSWER = "Jag vill orka leka med barnbarnen."
PDFTOTEXT = "/usr/bin/pdftotext"
PDFIMAGES = "/usr/bin/pdfimages"


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings: Settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def url(name: str, enrolment: Enrolment, *args: str) -> str:
    return reverse(f"programmes:{name}", args=[enrolment.pk, *args])


@pytest.fixture
def patient(client_as: Callable[[str], Client]) -> Client:
    return client_as("patient")


@pytest.fixture
def english(world: World) -> None:
    world.patient_user.language = "en"
    world.patient_user.save(update_fields=["language"])


@pytest.fixture
def try_it_open(world: World, patient: Client) -> None:
    """The patient has read the first step, so the exercise step is open."""
    for key in ("welcome", "how-it-works"):
        assert patient.post(url("mark_read", world.enrolment, key)).status_code == 302


@pytest.fixture
def submitted(world: World, patient: Client, try_it_open: None) -> None:
    response = patient.post(
        url("exercise", world.enrolment, "first-exercise", "why-try"),
        {"why-try-text": ANSWER, "why-try-token": "t", "why-try-action": "submit"},
    )
    assert response.status_code == 302


def swedish(message: str) -> str:
    with translation.override("sv"):
        return translation.gettext(message)


# --- PDF --------------------------------------------------------------------------------------


def pdf_text(data: bytes) -> str:
    """The text of a PDF, whitespace folded, by pdftotext (or pypdf)."""
    if Path(PDFTOTEXT).exists():
        result = subprocess.run(  # noqa: S603 - a fixed program, our own bytes on stdin
            [PDFTOTEXT, "-enc", "UTF-8", "-", "-"], input=data, capture_output=True, check=True
        )
        text = result.stdout.decode("utf-8")
    else:
        try:
            from io import BytesIO

            from pypdf import PdfReader
        except ImportError:
            if os.environ.get("CI"):
                pytest.fail("CI needs pdftotext (poppler-utils) or pypdf to read PDFs")
            pytest.skip("neither pdftotext nor pypdf is installed")
        text = "\n".join(page.extract_text() for page in PdfReader(BytesIO(data)).pages)
    return " ".join(text.split())


def get_pdf(client: Client, enrolment: Enrolment, query: str) -> Response:
    return client.get(f"{url('pdf', enrolment)}?{query}")


def assert_pdf(response: Response) -> str:
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    assert response["Content-Disposition"] == 'attachment; filename="example.pdf"'
    return pdf_text(response.content)


def test_the_whole_programme_as_pdf_holds_the_pages_title_name_and_answers(
    world: World, patient: Client, submitted: None
) -> None:
    text = assert_pdf(get_pdf(patient, world.enrolment, "everything=on&answers=on"))

    assert "Exempelprogram" in text
    assert "Pia Patient" in text
    assert "Välkommen till programmet" in text
    assert "Hej och välkommen!" in text
    assert "Lagom mycket åt gången" in text
    assert "Din första övning" in text
    assert ANSWER in text
    # The step that opens after a week is not open yet, so it is not in the PDF.
    assert "En vecka senare" not in text
    [event] = AuditEvent.objects.filter(action="programmes.pdf.downloaded")
    assert event.patient == world.patient
    assert event.detail == {
        "pages": ["welcome", "how-it-works", "first-exercise"],
        "answers": True,
    }


def test_a_pdf_without_answers_leaves_them_out(
    world: World, patient: Client, submitted: None
) -> None:
    text = assert_pdf(get_pdf(patient, world.enrolment, "everything=on"))

    assert "Din första övning" in text
    assert ANSWER not in text


def test_one_chosen_page_gives_only_that_page(world: World, patient: Client) -> None:
    text = assert_pdf(get_pdf(patient, world.enrolment, "pages=how-it-works"))

    assert "Så fungerar det" in text
    assert "Lagom mycket åt gången" in text
    assert "Hej och välkommen!" not in text
    assert "Välkommen till programmet" not in text


def test_a_chosen_step_gives_its_pages(world: World, patient: Client) -> None:
    text = assert_pdf(get_pdf(patient, world.enrolment, "steps=welcome"))

    assert "Hej och välkommen!" in text
    assert "Lagom mycket åt gången" in text


def test_the_pdf_embeds_the_programmes_images(
    world: World, patient: Client, try_it_open: None
) -> None:
    if not Path(PDFIMAGES).exists():
        if os.environ.get("CI"):
            pytest.fail("CI needs pdfimages (poppler-utils)")
        pytest.skip("pdfimages is not installed")
    response = get_pdf(patient, world.enrolment, "pages=first-exercise")
    assert response.status_code == 200

    listing = subprocess.run(  # noqa: S603 - a fixed program, our own bytes on stdin
        [PDFIMAGES, "-list", "-"], input=response.content, capture_output=True, check=True
    ).stdout.decode()

    # A header of two lines, then one line per image: the example's 12×12 PNG of steps.
    images = listing.splitlines()[2:]
    assert len(images) == 1, listing
    assert images[0].split()[3:5] == ["12", "12"]


def test_the_pdf_form_offers_only_open_steps_and_pages(world: World, patient: Client) -> None:
    response = patient.get(url("pdf", world.enrolment))

    assert response.status_code == 200
    html = response.content.decode()
    assert 'value="how-it-works"' in html
    assert 'value="first-exercise"' not in html
    assert 'value="looking-back"' not in html


def test_an_empty_selection_shows_the_form_again_with_an_error(
    world: World, patient: Client, english: None
) -> None:
    response = get_pdf(patient, world.enrolment, "answers=on")

    assert response.status_code == 422
    html = response.content.decode()
    assert "Choose at least one step or page to put in the PDF." in html
    assert 'name="pages"' in html
    assert not AuditEvent.objects.filter(action="programmes.pdf.downloaded").exists()


def test_pressing_make_with_nothing_ticked_shows_the_error(
    world: World, patient: Client, english: None
) -> None:
    # What the browser sends when the patient presses the button with no box ticked.
    response = get_pdf(patient, world.enrolment, "make=1")

    assert response.status_code == 422
    assert "Choose at least one step or page to put in the PDF." in response.content.decode()


def test_an_empty_selection_shows_the_form_again_with_an_error_in_swedish(
    world: World, patient: Client
) -> None:
    message = "Choose at least one step or page to put in the PDF."
    response = get_pdf(patient, world.enrolment, "answers=on")

    assert response.status_code == 422
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert swedish(message) != message, f"no Swedish translation for {message!r}"
    assert swedish(message) in html
    assert 'name="pages"' in html  # the form is shown again


def test_the_whole_programme_pdf_is_made_in_under_two_seconds(
    world: World, patient: Client, submitted: None
) -> None:
    # Loading WeasyPrint takes a few seconds once per process; the render itself is measured.
    import weasyprint  # noqa: F401

    started = time.perf_counter()
    response = get_pdf(patient, world.enrolment, "everything=on&answers=on")
    elapsed = time.perf_counter() - started

    assert response.status_code == 200
    assert elapsed < 2.0, f"the PDF took {elapsed:.2f} s"


@pytest.mark.parametrize(
    "query",
    [
        "pages=looking-back",  # a page of a locked step
        "pages=first-exercise",  # a page of a step not open yet
        "steps=looking-back",
        "pages=no-such-page",
        "steps=no-such-step",
        "pages=welcome&pages=../../etc/passwd",
        "pages=%3Cscript%3E",
        "pages=",
        "everything=maybe&pages=x",
    ],
)
def test_tampered_page_keys_are_refused_with_a_form_error(
    world: World, patient: Client, query: str
) -> None:
    response = get_pdf(patient, world.enrolment, query)

    assert response.status_code == 422
    assert response["Content-Type"].startswith("text/html")
    assert not AuditEvent.objects.filter(action="programmes.pdf.downloaded").exists()


def test_another_patients_pdf_answers_404(world: World, patient: Client) -> None:
    other = Enrolment.objects.get(patient=world.other_patient)
    assert get_pdf(patient, other, "everything=on").status_code == 404


# --- search -----------------------------------------------------------------------------------


def search(client: Client, enrolment: Enrolment, query: str) -> Response:
    return client.get(url("search", enrolment), {"q": query})


def hit_keys(response: Response) -> list[str]:
    assert response.status_code == 200
    return [info.key for info, _hit in response.context["hits"]]


def test_search_finds_a_page_by_a_swedish_word_with_a_highlighted_snippet(
    world: World, patient: Client, try_it_open: None
) -> None:
    response = search(patient, world.enrolment, "övning")

    assert hit_keys(response) == ["first-exercise"]
    html = response.content.decode()
    assert url("page", world.enrolment, "first-exercise") in html
    assert "Din första övning" in html
    [(_info, hit)] = response.context["hits"]
    assert "<mark>övning</mark>" in hit.snippet.lower()
    assert "<mark>" in html


def test_search_finds_a_page_by_an_english_word_for_an_english_patient(
    world: World, patient: Client, english: None, try_it_open: None
) -> None:
    response = search(patient, world.enrolment, "exercise")

    assert hit_keys(response) == ["first-exercise"]
    html = response.content.decode()
    assert "Your first exercise" in html
    [(_info, hit)] = response.context["hits"]
    assert "<mark>exercise</mark>" in hit.snippet.lower()


def test_search_finds_words_in_the_body_text_and_by_their_beginning(
    world: World, patient: Client
) -> None:
    assert hit_keys(search(patient, world.enrolment, "exempelprogram")) == ["welcome"]
    assert hit_keys(search(patient, world.enrolment, "exempelprog")) == ["welcome"]
    assert hit_keys(search(patient, world.enrolment, "Lagom")) == ["how-it-works"]


def test_search_results_are_in_the_patients_language(
    world: World, patient: Client, try_it_open: None
) -> None:
    assert hit_keys(search(patient, world.enrolment, "exercise")) == []
    world.patient_user.language = "en"
    world.patient_user.save(update_fields=["language"])
    assert hit_keys(search(patient, world.enrolment, "övning")) == []
    response = search(patient, world.enrolment, "welcome")
    assert "welcome" in hit_keys(response)
    assert "Welcome to the programme" in response.content.decode()
    assert "Välkommen till programmet" not in response.content.decode()


def test_pages_of_locked_steps_are_not_listed(
    world: World, patient: Client, client_as: Callable[[str], Client]
) -> None:
    # "vecka" is on the page of the step that opens after a week; "övning" on a step that
    # opens when the first one is read.
    assert hit_keys(search(patient, world.enrolment, "vecka")) == []
    assert hit_keys(search(patient, world.enrolment, "övning")) == []
    assert "En vecka senare" not in search(patient, world.enrolment, "vecka").content.decode()

    therapist = client_as("therapist")
    for step in ("try-it", "looking-back"):
        opened = therapist.post(reverse("programmes:open_step", args=[world.enrolment.pk, step]))
        assert opened.status_code == 302

    assert hit_keys(search(patient, world.enrolment, "vecka")) == ["looking-back"]
    assert hit_keys(search(patient, world.enrolment, "övning")) == ["first-exercise"]


@pytest.mark.parametrize(
    "query",
    [
        '"',
        '""',
        '"övning',
        'övning"',
        "*",
        "övn*",
        "OR",
        "övning OR steg",
        "AND NOT",
        "(",
        ")",
        "(övning",
        "NEAR",
        "NEAR(övning steg)",
        "NEAR/2",
        "title:övning",
        "text : steg",
        "-övning",
        "^övning",
        "+",
        "_",
        "__init__",
        "'",
        "övning's",
        "\\",
        "&",
        "|",
        "!",
        "<->",
        ":*",
        "övning & !steg",
        "{}[]",
        "%",
        "1177",
        "x" * 200,
        " ".join(["steg"] * 40),
        "ö" * 3,
        "\u00a0",
        "Ω≈ç√∫",
        "😀",
    ],
)
def test_queries_with_full_text_syntax_never_error(
    world: World, patient: Client, try_it_open: None, query: str
) -> None:
    response = search(patient, world.enrolment, query)
    assert response.status_code == 200


def test_the_query_is_shown_back_escaped(world: World, patient: Client) -> None:
    response = search(patient, world.enrolment, '<script>alert("steg")</script> välkommen')

    html = response.content.decode()
    assert '<script>alert("steg")' not in html
    assert "&lt;script&gt;alert(" in html
    assert hit_keys(response) == []  # every word must match: "script" and "alert" do not


def test_a_query_too_long_is_refused_with_a_message(world: World, patient: Client) -> None:
    response = search(patient, world.enrolment, "x" * 201)
    assert response.status_code == 200
    assert response.context["hits"] == []
    assert response.context["search_form"].errors


def test_a_query_with_a_null_character_does_not_error(world: World, patient: Client) -> None:
    response = search(patient, world.enrolment, "övning\x00")
    assert response.status_code == 200
    assert response.context["hits"] == []


def test_search_only_finds_pages_of_the_patients_version(
    world: World, patient: Client, tmp_path: Path
) -> None:
    copy = tmp_path / "example"
    shutil.copytree(EXAMPLE_PROGRAMME, copy)
    page = copy / "pages" / "sv" / "welcome.md"
    page.write_text(
        page.read_text(encoding="utf-8").replace("Hej och välkommen!", "Hej kantarellplockare!"),
        encoding="utf-8",
    )
    second = import_programme(copy).version
    assert hit_keys(search(patient, world.enrolment, "kantarellplockare")) == []
    assert hit_keys(search(patient, world.enrolment, "välkommen")) == ["welcome"]

    newer = start_treatment(world.patient, world.unit, second)
    assert hit_keys(search(patient, newer, "kantarellplockare")) == ["welcome"]


def test_snippets_escape_html_from_the_content(
    world: World, patient: Client, tmp_path: Path
) -> None:
    folder = tmp_path / "escaping"
    shutil.copytree(EXAMPLE_PROGRAMME, folder)
    manifest = folder / "programme.yaml"
    manifest.write_text(
        manifest.read_text(encoding="utf-8").replace("slug: example", "slug: escaping"),
        encoding="utf-8",
    )
    for language in ("sv", "en"):
        (folder / "pages" / language / "welcome.md").write_text(
            "---\ntitle: Kod\nminutes: 1\n---\n"
            "Skriv aldrig `<script>alert(1)</script>` eller `&lt;b&gt;` i en ruta.\n",
            encoding="utf-8",
        )
    version = import_programme(folder).version
    enrolment = start_treatment(world.patient, world.unit, version)

    response = search(patient, enrolment, "aldrig")

    assert hit_keys(response) == ["welcome"]
    html = response.content.decode()
    [(_info, hit)] = response.context["hits"]
    assert "<mark>aldrig</mark>" in hit.snippet.lower()
    assert "alert(1)" in hit.snippet
    # SQLite shows the tags as text; PostgreSQL's ts_headline leaves them out. Neither runs.
    assert "<script>alert(1)" not in html
    assert "<b>" not in html


def test_another_patients_search_answers_404(world: World, patient: Client) -> None:
    other = Enrolment.objects.get(patient=world.other_patient)
    assert search(patient, other, "övning").status_code == 404
