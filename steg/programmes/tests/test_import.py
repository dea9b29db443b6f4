"""Importing a programme folder: immutable versions by content hash, all or nothing."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from io import StringIO
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from pytest_django.fixtures import Settings

from steg.programmes.actions import import_programme
from steg.programmes.models import (
    Page,
    PageContent,
    Programme,
    ProgrammeMedia,
    ProgrammeVersion,
    Step,
)
from steg.testing.personas import EXAMPLE_PROGRAMME, World, start_treatment

OLD_WELCOME = "Hej och välkommen!"
NEW_WELCOME = "Hallå och varmt välkomna till den nya versionen!"


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings: Settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def changed_copy(tmp_path: Path) -> Path:
    """A copy of the example programme whose Swedish welcome page says something new."""
    target = tmp_path / "example"
    shutil.copytree(EXAMPLE_PROGRAMME, target)
    page = target / "pages" / "sv" / "welcome.md"
    page.write_text(
        page.read_text(encoding="utf-8").replace(OLD_WELCOME, NEW_WELCOME), encoding="utf-8"
    )
    return target


def counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (Programme, ProgrammeVersion, Step, Page, PageContent, ProgrammeMedia)
    }


def run_import(path: Path | str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_programme", str(path), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_import_programme_command_imports_the_example_as_version_1(
    db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(settings.BASE_DIR)
    out, _ = run_import("programmes/example")
    version = ProgrammeVersion.objects.get()
    assert version.programme.slug == "example"
    assert version.number == 1
    assert version.languages == ["sv", "en"]
    assert version.titles == {"sv": "Exempelprogram", "en": "Example programme"}
    assert [s.key for s in version.steps.order_by("position")] == [
        "welcome",
        "try-it",
        "looking-back",
    ]
    assert [p.key for p in version.pages.order_by("position")] == [
        "welcome",
        "how-it-works",
        "first-exercise",
        "looking-back",
    ]
    assert PageContent.objects.filter(page__version=version).count() == 8
    assert ProgrammeMedia.objects.count() == 1
    assert "Imported example as version 1" in out


def test_importing_the_same_folder_again_creates_no_new_version(db: None) -> None:
    run_import(EXAMPLE_PROGRAMME)
    before = counts()
    out, _ = run_import(EXAMPLE_PROGRAMME)
    assert counts() == before
    assert ProgrammeVersion.objects.get().number == 1
    assert "unchanged" in out


def test_a_changed_copy_is_imported_as_version_2_with_another_content_hash(
    db: None, changed_copy: Path
) -> None:
    first = import_programme(EXAMPLE_PROGRAMME).version
    result = import_programme(changed_copy)
    assert result.created
    second = result.version
    assert second.programme == first.programme
    assert second.number == 2
    assert second.content_hash != first.content_hash
    new_text = PageContent.objects.get(
        page__version=second, page__key="welcome", language="sv"
    ).text
    assert NEW_WELCOME in new_text


def test_importing_a_new_version_leaves_the_old_versions_content_untouched(
    db: None, changed_copy: Path
) -> None:
    first = import_programme(EXAMPLE_PROGRAMME).version

    def snapshot() -> list[tuple[object, ...]]:
        return list(
            PageContent.objects.filter(page__version=first)
            .order_by("pk")
            .values_list("pk", "page_id", "language", "title", "blocks", "text")
        )

    before = snapshot()
    steps_before = list(Step.objects.filter(version=first).values())
    import_programme(changed_copy)
    assert snapshot() == before
    assert list(Step.objects.filter(version=first).values()) == steps_before
    first.refresh_from_db()
    assert first.number == 1
    assert any(OLD_WELCOME in str(row[5]) for row in before)


def test_an_enrolment_pinned_to_version_1_still_shows_version_1s_text(
    world: World, client_as: Callable[[str], Client], changed_copy: Path
) -> None:
    second = import_programme(changed_copy).version
    patient = client_as("patient")

    old = patient.get(reverse("programmes:page", args=[world.enrolment.pk, "welcome"]))
    assert old.status_code == 200
    assert OLD_WELCOME in old.content.decode()
    assert NEW_WELCOME not in old.content.decode()

    # The same patient in a new treatment on version 2 reads the new text.
    newer = start_treatment(world.patient, world.unit, second)
    new = patient.get(reverse("programmes:page", args=[newer.pk, "welcome"]))
    assert NEW_WELCOME in new.content.decode()
    assert OLD_WELCOME not in new.content.decode()


def test_a_broken_copy_lists_every_problem_with_file_and_line_and_imports_nothing(
    db: None, tmp_path: Path
) -> None:
    broken = tmp_path / "example"
    shutil.copytree(EXAMPLE_PROGRAMME, broken)
    manifest = broken / "programme.yaml"
    manifest.write_text(
        manifest.read_text(encoding="utf-8").replace("unlock: immediately", "unlock: sometimes"),
        encoding="utf-8",
    )
    page = broken / "pages" / "sv" / "first-exercise.md"
    page.write_text(
        page.read_text(encoding="utf-8").replace("::: exercise why-try", "::: exercize why-try"),
        encoding="utf-8",
    )
    welcome = broken / "pages" / "en" / "welcome.md"
    welcome.write_text(
        welcome.read_text(encoding="utf-8").replace("minutes: 2", "minutes: lots"),
        encoding="utf-8",
    )
    err = StringIO()

    with pytest.raises(CommandError, match="3 problem"):
        call_command("import_programme", str(broken), stdout=StringIO(), stderr=err)

    lines = err.getvalue().splitlines()
    assert len(lines) == 3, lines
    assert any(line.startswith(f"{broken}/programme.yaml:23: ") for line in lines), lines
    assert any(line.startswith(f"{broken}/pages/sv/first-exercise.md:10: ") for line in lines)
    assert any(line.startswith(f"{broken}/pages/en/welcome.md:3: ") for line in lines)
    assert "sometimes" in err.getvalue()
    assert "exercize" in err.getvalue()
    assert counts() == dict.fromkeys(counts(), 0)


def test_a_broken_copy_next_to_an_imported_version_adds_no_rows(db: None, tmp_path: Path) -> None:
    import_programme(EXAMPLE_PROGRAMME)
    before = counts()
    broken = tmp_path / "example"
    shutil.copytree(EXAMPLE_PROGRAMME, broken)
    (broken / "pages" / "en" / "how-it-works.md").unlink()

    with pytest.raises(CommandError):
        call_command("import_programme", str(broken), stdout=StringIO(), stderr=StringIO())

    assert counts() == before


def test_importing_a_path_that_is_not_a_folder_fails(db: None, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="not a folder"):
        call_command("import_programme", str(tmp_path / "missing"), stdout=StringIO())


def test_an_import_that_fails_half_way_writes_nothing(db: None) -> None:
    real_create = Page.objects.create
    created: list[Page] = []

    def create_then_fail(**kwargs: object) -> Page:
        if len(created) == 2:
            raise RuntimeError("the database went away half-way")
        page = real_create(**kwargs)
        created.append(page)
        return page

    with (
        mock.patch.object(Page.objects, "create", side_effect=create_then_fail),
        pytest.raises(RuntimeError, match="half-way"),
    ):
        import_programme(EXAMPLE_PROGRAMME)

    assert len(created) == 2  # the failure came after some rows were written
    assert counts() == dict.fromkeys(counts(), 0)


def test_an_import_that_fails_while_indexing_writes_nothing(db: None) -> None:
    with (
        mock.patch("steg.programmes.search.index_version", side_effect=RuntimeError("index full")),
        pytest.raises(RuntimeError, match="index full"),
    ):
        import_programme(EXAMPLE_PROGRAMME)

    assert counts() == dict.fromkeys(counts(), 0)
    # And a later import succeeds as version 1.
    assert import_programme(EXAMPLE_PROGRAMME).version.number == 1


def _with_ftnd(tmp_path: Path) -> Path:
    target = tmp_path / "with-ftnd"
    shutil.copytree(EXAMPLE_PROGRAMME, target)
    for language in ("sv", "en"):
        page = target / "pages" / language / "looking-back.md"
        page.write_text(
            page.read_text(encoding="utf-8") + "\n::: questionnaire ftnd\n:::\n", encoding="utf-8"
        )
    return target


def test_a_library_instrument_a_page_embeds_is_copied_into_the_version(
    db: None, tmp_path: Path
) -> None:
    from steg.questionnaires.library import library_text
    from steg.questionnaires.loader import get_questionnaire

    folder = _with_ftnd(tmp_path)
    version = import_programme(folder).version

    assert version.questionnaire_files["ftnd"] == library_text("ftnd")
    ftnd = get_questionnaire(version, "ftnd")
    assert ftnd is not None and ftnd.scoring is not None
    # Unchanged folder and library: no new version.
    assert import_programme(folder).created is False


def test_a_changed_library_instrument_makes_the_next_import_a_new_version(
    db: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from steg.questionnaires import library

    folder = _with_ftnd(tmp_path)
    first = import_programme(folder).version
    original = library.library_text("ftnd")
    monkeypatch.setattr(library, "library_text", lambda ident: original + "\n# revised\n")

    second = import_programme(folder)

    assert second.created is True
    assert second.version.content_hash != first.content_hash
    first.refresh_from_db()
    assert first.questionnaire_files["ftnd"] == original
