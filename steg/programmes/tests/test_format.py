"""The programme folder format: loading the example, and every problem the loader reports."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from steg.programmes.format import (
    Block,
    Problem,
    ProgrammeFormatError,
    ProgrammeSpec,
    UnlockRule,
    plain_text,
    sanitise_html,
)
from steg.programmes.format import load_programme as _load_programme

# The aids the example programme uses (the web layer registers them in steg.programmes.aids).
EXAMPLE_AIDS = frozenset({"my-answers"})


def load_programme(path: Path, **kwargs: Any) -> ProgrammeSpec:
    kwargs.setdefault("known_aids", EXAMPLE_AIDS)
    return _load_programme(path, **kwargs)


EXAMPLE = Path(__file__).resolve().parents[3] / "programmes" / "example"
# A page written by `set_page` has four lines of front matter: its body starts on line 5.
BODY = 5


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A copy of the example programme that a test may break."""
    target = tmp_path / "example"
    shutil.copytree(EXAMPLE, target)
    return target


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def set_page(
    root: Path,
    key: str,
    body: str,
    *,
    languages: tuple[str, ...] = ("sv", "en"),
    title: str = "Titel",
    minutes: object = 3,
) -> None:
    for language in languages:
        write(
            root,
            f"pages/{language}/{key}.md",
            f"---\ntitle: {title}\nminutes: {minutes}\n---\n{body}",
        )


def edit(root: Path, relative: str, old: str, new: str) -> None:
    path = root / relative
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {relative}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def problems(root: Path, **kwargs: set[str]) -> list[Problem]:
    with pytest.raises(ProgrammeFormatError) as caught:
        load_programme(root, **kwargs)
    return caught.value.problems


def only_problem(root: Path, **kwargs: set[str]) -> Problem:
    found = problems(root, **kwargs)
    assert len(found) == 1, "\n".join(str(p) for p in found)
    return found[0]


def in_both(root: Path, key: str, **kwargs: set[str]) -> tuple[int | None, str]:
    """The one problem that the page ``key`` has in both languages: its line and message."""
    found = problems(root, **kwargs)
    assert sorted(p.file for p in found) == [f"pages/en/{key}.md", f"pages/sv/{key}.md"], found
    assert found[0].line == found[1].line and found[0].message == found[1].message, found
    return found[0].line, found[0].message


def page_blocks(spec: ProgrammeSpec, key: str, language: str) -> tuple[Block, ...]:
    for step in spec.steps:
        for page in step.pages:
            if page.key == key:
                return page.contents[language].blocks
    raise KeyError(key)


# --------------------------------------------------------------------------- the example


def test_example_loads_with_its_steps_and_pages() -> None:
    spec = load_programme(EXAMPLE)

    assert spec.slug == "example"
    assert spec.languages == ("sv", "en")
    assert spec.titles == {"sv": "Exempelprogram", "en": "Example programme"}
    assert spec.guidance == "self-help"
    assert set(spec.descriptions) == set(spec.audiences) == {"sv", "en"}
    assert [(s.key, s.unlock) for s in spec.steps] == [
        ("welcome", UnlockRule("immediately")),
        ("try-it", UnlockRule("after_previous")),
        ("looking-back", UnlockRule("days_after_start", 7)),
    ]
    assert [[p.key for p in s.pages] for s in spec.steps] == [
        ["welcome", "how-it-works"],
        ["first-exercise"],
        ["looking-back"],
    ]
    assert spec.steps[0].summaries["en"] == "What the programme is and how to use it."
    assert spec.steps[2].summaries == {}
    for step in spec.steps:
        for page in step.pages:
            assert set(page.contents) == {"sv", "en"}
            assert all(1 <= c.minutes <= 120 and c.title for c in page.contents.values())


@pytest.mark.parametrize("language", ["sv", "en"])
def test_example_exercise_page_has_the_same_blocks_in_both_languages(language: str) -> None:
    blocks = page_blocks(load_programme(EXAMPLE), "first-exercise", language)

    assert [b.type for b in blocks] == ["markdown", "exercise", "checklist", "callout"]
    markdown, exercise, checklist, callout = blocks
    assert '<img src="/programme-media/' in markdown.html
    assert exercise.key == "why-try"
    assert exercise.max_length == 5000
    assert exercise.html.startswith("<p>")
    assert checklist.key == "getting-started"
    assert [key for key, _ in checklist.items] == [
        "getting-started-1",
        "getting-started-2",
        "getting-started-3",
    ]
    assert '<a href="../welcome/"' in checklist.items[0][1]
    assert "<em>" in checklist.items[2][1]
    assert callout.variant == "tip"


def test_example_image_points_at_its_media_file_by_hash() -> None:
    spec = load_programme(EXAMPLE)

    (image,) = spec.media
    assert image.path == "media/steps.png"
    assert image.content_type == "image/png"
    assert image.data == (EXAMPLE / "media" / "steps.png").read_bytes()
    assert image.data.startswith(b"\x89PNG\r\n\x1a\n")
    html = page_blocks(spec, "first-exercise", "en")[0].html
    assert f'src="/programme-media/{image.sha256}"' in html
    assert 'alt="Three steps leading upwards"' in html


def test_example_questionnaire_is_embedded_and_its_file_passed_through() -> None:
    spec = load_programme(EXAMPLE)

    assert spec.questionnaire_files == {
        "diary": (EXAMPLE / "questionnaires" / "diary.yaml").read_bytes(),
        "mood": (EXAMPLE / "questionnaires" / "mood.yaml").read_bytes(),
    }
    blocks = page_blocks(spec, "looking-back", "sv")
    assert [(b.type, b.key) for b in blocks if b.type == "questionnaire"] == [
        ("questionnaire", "mood")
    ]


def test_page_text_is_title_and_readable_text_without_markup() -> None:
    spec = load_programme(EXAMPLE)
    content = spec.steps[1].pages[0].contents["en"]

    assert content.text.startswith("Your first exercise Now it is your turn.")
    assert "Three steps leading upwards" in content.text  # alt text is readable text
    assert "What do you hope to get out of the programme?" in content.text
    assert "I have read the welcome page" in content.text
    assert "<" not in content.text
    assert "*" not in content.text


def test_table_renders_without_inline_styles(folder: Path) -> None:
    set_page(folder, "how-it-works", "| a | b |\n|--:|---|\n| 1 | 2 |\n")

    html = page_blocks(load_programme(folder), "how-it-works", "sv")[0].html

    assert "<table>" in html
    assert "<td>1</td>" in html
    assert "style" not in html


# --------------------------------------------------------------------------- the hash


def test_content_hash_is_stable_across_loads(folder: Path) -> None:
    assert load_programme(EXAMPLE).content_hash == load_programme(folder).content_hash
    assert len(load_programme(folder).content_hash) == 64


def test_content_hash_changes_when_a_file_changes(folder: Path) -> None:
    before = load_programme(folder).content_hash
    edit(folder, "pages/en/welcome.md", "Hello and welcome!", "Hi and welcome!")

    assert load_programme(folder).content_hash != before


def test_content_hash_changes_when_a_file_is_added_or_renamed(folder: Path) -> None:
    before = load_programme(folder).content_hash
    (folder / "README.md").write_text("Notes for authors.\n", encoding="utf-8")
    added = load_programme(folder).content_hash
    (folder / "README.md").rename(folder / "NOTES.md")

    assert len({before, added, load_programme(folder).content_hash}) == 3


def test_content_hash_ignores_dotfiles(folder: Path) -> None:
    before = load_programme(folder).content_hash
    (folder / ".DS_Store").write_bytes(b"\0\1")
    write(folder, ".git/HEAD", "ref: refs/heads/main\n")
    write(folder, "pages/sv/.welcome.md.swp", "junk")

    assert load_programme(folder).content_hash == before


# --------------------------------------------------------------------------- many at once


def test_broken_copy_reports_every_problem_with_file_and_line(folder: Path) -> None:
    edit(folder, "programme.yaml", "guidance: self-help", "guidance: self-help\ncolour: blue")
    edit(
        folder, "programme.yaml", "unlock: {days_after_start: 7}", "unlock: {days_after_start: -2}"
    )
    edit(folder, "pages/sv/welcome.md", "minutes: 2", "minutes: 0")
    edit(folder, "pages/en/first-exercise.md", "(media/steps.png)", "(media/stairs.png)")
    edit(folder, "pages/en/first-exercise.md", "(page:welcome)", "(page:hello)")
    edit(folder, "pages/sv/looking-back.md", "questionnaire mood", "questionnaire sleep")
    edit(folder, "pages/sv/how-it-works.md", "## Lagom", "::: poem\nRosor\n:::\n\n## Lagom")
    write(folder, "pages/en/extra.md", "---\ntitle: Extra\nminutes: 1\n---\nHello\n")

    found = {(p.file, p.line) for p in problems(folder)}

    assert found == {
        ("programme.yaml", 15),  # unknown key colour
        ("programme.yaml", 42),  # negative days
        ("pages/sv/welcome.md", 3),  # minutes out of range
        ("pages/en/first-exercise.md", 8),  # missing image file
        ("pages/en/first-exercise.md", 15),  # broken page link
        ("pages/sv/looking-back.md", 10),  # unknown questionnaire
        ("pages/en/looking-back.md", 10),  # so the two languages now differ
        ("pages/sv/how-it-works.md", 5),  # unknown directive
        ("pages/en/extra.md", None),  # orphan
    }


def test_error_message_lists_each_problem_on_its_own_line(folder: Path) -> None:
    edit(folder, "pages/sv/welcome.md", "minutes: 2", "minutes: 0")
    write(folder, "pages/en/extra.md", "---\ntitle: Extra\nminutes: 1\n---\nHello\n")

    with pytest.raises(ProgrammeFormatError) as caught:
        load_programme(folder)

    assert str(caught.value).splitlines() == [
        "pages/en/extra.md: no step lists this page (add it or remove it)",
        "pages/sv/welcome.md:3: minutes must be between 1 and 120, not 0",
    ]


# --------------------------------------------------------------------------- programme.yaml


def test_yaml_syntax_error_in_programme_yaml_has_its_line(folder: Path) -> None:
    edit(folder, "programme.yaml", "languages: [sv, en]", "languages: [sv, en")

    problem = problems(folder)[0]

    assert problem.file == "programme.yaml"
    assert problem.line is not None and problem.line >= 10
    assert problem.message.startswith("YAML syntax error")


def test_missing_programme_yaml(folder: Path) -> None:
    (folder / "programme.yaml").unlink()

    assert only_problem(folder).message.startswith("missing")


def test_folder_that_does_not_exist(tmp_path: Path) -> None:
    assert "not a folder" in only_problem(tmp_path / "nope").message


def test_missing_required_key(folder: Path) -> None:
    edit(folder, "programme.yaml", "guidance: self-help\n", "")

    problem = only_problem(folder)
    assert (problem.file, problem.line) == ("programme.yaml", 3)
    assert "missing required key 'guidance'" in problem.message


def test_unknown_key_in_a_step(folder: Path) -> None:
    edit(
        folder,
        "programme.yaml",
        "    unlock: immediately",
        "    unlock: immediately\n    colour: red",
    )

    problem = only_problem(folder)
    assert problem.line == 24
    assert "step 'welcome': unknown key 'colour'" in problem.message


def test_duplicate_yaml_key(folder: Path) -> None:
    edit(folder, "programme.yaml", "guidance: self-help", "guidance: self-help\nguidance: guided")

    problem = only_problem(folder)
    assert (problem.line, problem.message) == (15, "programme: 'guidance' is given twice")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("slug: example", "slug: Example Programme", "lower-case letters"),
        ("guidance: self-help", "guidance: sometimes", "guidance must be one of"),
        ("languages: [sv, en]", "languages: sv", "languages must be a list"),
        ("  en: Example programme", "  en: 42", "title (en) must be non-empty text, not a number"),
        ("  en: Example programme", "  en: Yes", "not true/false (put text in quotes)"),
        ("    pages:\n      - looking-back", "    pages: looking-back", "pages must be a list"),
    ],
)
def test_wrong_types_are_refused(folder: Path, old: str, new: str, message: str) -> None:
    edit(folder, "programme.yaml", old, new)

    assert message in only_problem(folder).message


def test_a_broken_language_list_is_reported_once(folder: Path) -> None:
    edit(folder, "programme.yaml", "languages: [sv, en]", "languages: []")

    assert only_problem(folder) == Problem(
        "programme.yaml", 10, "languages: list at least one language"
    )


def test_a_broken_page_list_does_not_make_orphans_or_broken_links(folder: Path) -> None:
    edit(
        folder,
        "programme.yaml",
        "    pages:\n      - welcome\n      - how-it-works\n",
        "    pages: {welcome: 1}\n",
    )

    problem = only_problem(folder)
    assert (problem.line, problem.message) == (24, "step 'welcome': pages must be a list")


def test_language_not_supported(folder: Path) -> None:
    edit(folder, "programme.yaml", "languages: [sv, en]", "languages: [sv, en, de]")

    problem = only_problem(folder)
    assert problem.message == "language 'de' is not supported (sv, en)"
    assert problem.line == 10


def test_missing_title_translation(folder: Path) -> None:
    edit(folder, "programme.yaml", "      en: Try it yourself\n", "")

    problem = only_problem(folder)
    assert problem.message == "step 'try-it': title: missing translation for 'en'"
    assert problem.line == 29


def test_translation_for_a_language_not_in_languages(folder: Path) -> None:
    edit(
        folder,
        "programme.yaml",
        "  en: Example programme",
        "  en: Example programme\n  fi: Esimerkki",
    )

    assert "'fi' is not one of the programme's languages" in only_problem(folder).message


def test_missing_page_file_for_a_language(folder: Path) -> None:
    (folder / "pages/en/how-it-works.md").unlink()

    problem = only_problem(folder)
    assert (problem.file, problem.line) == ("programme.yaml", 26)
    assert problem.message == (
        "page 'how-it-works' has no 'en' version: pages/en/how-it-works.md is missing"
    )


def test_orphan_page_file(folder: Path) -> None:
    write(folder, "pages/sv/extra.md", "---\ntitle: Extra\nminutes: 1\n---\nHej\n")

    assert only_problem(folder) == Problem(
        "pages/sv/extra.md", None, "no step lists this page (add it or remove it)"
    )


def test_page_folder_for_a_language_not_in_languages(folder: Path) -> None:
    write(folder, "pages/de/welcome.md", "---\ntitle: Willkommen\nminutes: 1\n---\nHallo\n")

    assert "'de' is not one of the programme's languages" in only_problem(folder).message


def test_duplicate_page_key(folder: Path) -> None:
    edit(
        folder,
        "programme.yaml",
        "      - first-exercise",
        "      - first-exercise\n      - welcome",
    )

    problem = only_problem(folder)
    assert problem.line == 37
    assert problem.message == "page 'welcome' is already listed on line 25"


@pytest.mark.parametrize(
    ("unlock", "message"),
    [
        ("sometime", "unknown unlock rule 'sometime'"),
        ("{days_after_dinner: 3}", "unknown unlock rule 'days_after_dinner'"),
        ("{days_after_start: -1}", "days must be 0 or more, not -1"),
        ("{days_after_start: }", "needs a number of days"),
        ("days_after_quit_date", "needs a number of days"),
        ("{days_after_start: soon}", "days must be a whole number"),
        ("[therapist]", "unlock must be one of"),
    ],
)
def test_bad_unlock_rule(folder: Path, unlock: str, message: str) -> None:
    edit(folder, "programme.yaml", "unlock: {days_after_start: 7}", f"unlock: {unlock}")

    problem = only_problem(folder)
    assert problem.line == 41
    assert message in problem.message


def test_first_step_cannot_unlock_after_previous(folder: Path) -> None:
    edit(folder, "programme.yaml", "unlock: immediately", "unlock: after_previous")

    problem = only_problem(folder)
    assert problem.line == 23
    assert "the first step cannot unlock after_previous" in problem.message


@pytest.mark.parametrize("unlock", ["therapist", "{days_after_quit_date: 0}", "immediately"])
def test_other_unlock_rules_load(folder: Path, unlock: str) -> None:
    edit(folder, "programme.yaml", "unlock: {days_after_start: 7}", f"unlock: {unlock}")

    assert load_programme(folder).steps[2].unlock.kind in unlock


# --------------------------------------------------------------------------- pages


def test_yaml_syntax_error_in_front_matter_has_its_file_line(folder: Path) -> None:
    write(folder, "pages/sv/welcome.md", "---\ntitle: Hej\nminutes: [3\n---\nText\n")

    problem = only_problem(folder)
    assert problem.file == "pages/sv/welcome.md"
    assert problem.line in (3, 4)
    assert problem.message.startswith("YAML syntax error")


def test_page_without_front_matter(folder: Path) -> None:
    write(folder, "pages/sv/welcome.md", "Hej\n")

    assert only_problem(folder).message.startswith("a page starts with front matter")


def test_front_matter_not_closed(folder: Path) -> None:
    write(folder, "pages/sv/welcome.md", "---\ntitle: Hej\nminutes: 3\nHej\n")

    assert "front matter is not closed" in only_problem(folder).message


@pytest.mark.parametrize("minutes", [0, 121, -5])
def test_minutes_out_of_range(folder: Path, minutes: int) -> None:
    set_page(folder, "how-it-works", "Text\n", minutes=minutes)

    found = problems(folder)
    assert {(p.file, p.line) for p in found} == {
        ("pages/sv/how-it-works.md", 3),
        ("pages/en/how-it-works.md", 3),
    }
    assert found[0].message == f"minutes must be between 1 and 120, not {minutes}"


def test_minutes_must_be_a_number(folder: Path) -> None:
    set_page(folder, "how-it-works", "Text\n", minutes="'five'", languages=("sv",))

    assert only_problem(folder).message == "minutes must be a whole number, not text"


def test_unknown_front_matter_key_and_missing_title(folder: Path) -> None:
    write(folder, "pages/sv/welcome.md", "---\nminutes: 3\nauthor: Eva\n---\nText\n")

    messages = {p.message for p in problems(folder)}
    assert "front matter: missing required key 'title'" in messages
    assert any("unknown key 'author'" in m for m in messages)


def test_top_level_heading_is_refused(folder: Path) -> None:
    set_page(folder, "how-it-works", "Intro\n\n# Big title\n", languages=("sv",))

    problem = only_problem(folder)
    assert (problem.file, problem.line) == ("pages/sv/how-it-works.md", BODY + 2)
    assert "the page title is the only top heading" in problem.message


def test_headings_and_links_render(folder: Path) -> None:
    set_page(
        folder,
        "how-it-works",
        "## Part\n\n### Sub\n\nSee [1177](https://www.1177.se/) and [welcome](page:welcome).\n",
    )

    html = page_blocks(load_programme(folder), "how-it-works", "en")[0].html

    assert "<h2>Part</h2>" in html
    assert "<h3>Sub</h3>" in html
    assert '<a href="https://www.1177.se/" rel="noopener noreferrer">1177</a>' in html
    assert '<a href="../welcome/" rel="noopener noreferrer">welcome</a>' in html


def test_broken_page_link(folder: Path) -> None:
    set_page(folder, "how-it-works", "Text\n\nGo [there](page:nowhere).\n", languages=("en",))

    problem = only_problem(folder)
    assert problem == Problem(
        "pages/en/how-it-works.md", BODY + 2, "link to unknown page 'nowhere'"
    )


def test_relative_link_is_refused(folder: Path) -> None:
    set_page(folder, "how-it-works", "Go [there](welcome.md).\n", languages=("en",))

    assert "must be page:<page-key>" in only_problem(folder).message


def test_link_to_a_media_file(folder: Path) -> None:
    set_page(folder, "how-it-works", "[The picture](media/steps.png)\n")

    spec = load_programme(folder)

    html = page_blocks(spec, "how-it-works", "sv")[0].html
    assert f'href="/programme-media/{spec.media[0].sha256}"' in html


def test_image_without_alt_text(folder: Path) -> None:
    set_page(folder, "how-it-works", "Text\n\n![](media/steps.png)\n", languages=("sv",))

    problem = only_problem(folder)
    assert problem.line == BODY + 2
    assert "needs alt text" in problem.message


def test_image_whose_file_does_not_exist(folder: Path) -> None:
    set_page(folder, "how-it-works", "![A cat](media/cat.png)\n", languages=("sv",))

    problem = only_problem(folder)
    assert problem == Problem(
        "pages/sv/how-it-works.md", BODY, "image file 'media/cat.png' does not exist"
    )


def test_image_from_outside_media_is_refused(folder: Path) -> None:
    set_page(folder, "how-it-works", "![A cat](https://example.com/cat.png)\n", languages=("sv",))

    assert "must be a file in media/" in only_problem(folder).message


def test_image_path_may_not_climb_out_of_media(folder: Path) -> None:
    set_page(folder, "how-it-works", "![Notes](media/../programme.yaml)\n", languages=("sv",))

    assert "does not exist" in only_problem(folder).message


def test_unsupported_media_file_type(folder: Path) -> None:
    write(folder, "media/logo.svg", "<svg xmlns='http://www.w3.org/2000/svg'/>")

    problem = only_problem(folder)
    assert problem.file == "media/logo.svg"
    assert problem.message.startswith("media files must be one of")


# --------------------------------------------------------------------------- directives


def test_unknown_directive(folder: Path) -> None:
    set_page(folder, "how-it-works", "Text\n\n::: poem\nRoses\n:::\n")

    found = problems(folder)
    assert {(p.file, p.line) for p in found} == {
        ("pages/sv/how-it-works.md", BODY + 2),
        ("pages/en/how-it-works.md", BODY + 2),
    }
    assert found[0].message.startswith("unknown block directive 'poem'")


def test_unclosed_directive(folder: Path) -> None:
    set_page(folder, "how-it-works", "::: callout info\nText\n\nMore\n", languages=("sv",))

    problem = only_problem(folder)
    assert problem.line == BODY
    assert problem.message == "'::: callout' is never closed: add a line with only ':::'"


def test_closing_marker_with_nothing_open(folder: Path) -> None:
    set_page(folder, "how-it-works", "Text\n:::\n", languages=("sv",))

    assert only_problem(folder).line == BODY + 1


def test_nested_directive(folder: Path) -> None:
    body = "::: callout info\nText\n::: callout tip\nInner\n:::\n:::\n"
    set_page(folder, "how-it-works", body, languages=("sv",))

    problem = only_problem(folder)
    assert problem.line == BODY + 2
    assert "cannot be nested" in problem.message


def test_directive_marker_inside_a_code_block_is_text(folder: Path) -> None:
    set_page(folder, "how-it-works", "```\n::: callout info\n```\n")

    (block,) = page_blocks(load_programme(folder), "how-it-works", "sv")
    assert block.type == "markdown"
    assert "::: callout info" in block.html


def test_callout_variant_must_be_known(folder: Path) -> None:
    set_page(folder, "how-it-works", "::: callout danger\nText\n:::\n")

    assert "callout must be one of info, tip, warning" in problems(folder)[0].message


def test_empty_callout(folder: Path) -> None:
    set_page(folder, "how-it-works", "::: callout info\n:::\n")

    assert in_both(folder, "how-it-works") == (
        BODY,
        "'::: callout' needs content before its closing ':::'",
    )


def test_exercise_max_length(folder: Path) -> None:
    set_page(folder, "how-it-works", "::: exercise plans max_length=300\nYour plans?\n:::\n")

    (block,) = page_blocks(load_programme(folder), "how-it-works", "en")
    assert (block.type, block.key, block.max_length) == ("exercise", "plans", 300)


@pytest.mark.parametrize(
    "opening",
    ["::: exercise", "::: exercise a b", "::: exercise a max_length=x", "::: exercise a x=1"],
)
def test_exercise_arguments_are_checked(folder: Path, opening: str) -> None:
    set_page(folder, "how-it-works", f"{opening}\nPrompt\n:::\n", languages=("sv",))

    assert only_problem(folder).line == BODY


def test_checklist_must_be_a_bullet_list(folder: Path) -> None:
    set_page(folder, "how-it-works", "::: checklist todo\nJust text\n:::\n", languages=("sv",))

    assert "one bullet list" in only_problem(folder).message


def test_checklist_may_be_a_loose_list(folder: Path) -> None:
    set_page(folder, "how-it-works", "::: checklist todo\n- one\n\n- **two**\n:::\n")

    (block,) = page_blocks(load_programme(folder), "how-it-works", "sv")
    assert block.items == (("todo-1", "one"), ("todo-2", "<strong>two</strong>"))


@pytest.mark.parametrize(
    "inner",
    ["- one\n  - nested\n", "- one\n\n  more\n", "1. one\n", "- one\n\nAfter\n", ""],
)
def test_checklist_items_are_single_paragraphs_of_one_list(folder: Path, inner: str) -> None:
    set_page(folder, "how-it-works", f"::: checklist todo\n{inner}:::\n")

    line, message = in_both(folder, "how-it-works")
    assert line == BODY
    assert message.startswith("a checklist holds one bullet list")


def test_unknown_questionnaire(folder: Path) -> None:
    set_page(folder, "how-it-works", "::: questionnaire ftnd\n:::\n")

    found = problems(folder)
    assert len(found) == 2
    assert found[0].message == "unknown questionnaire 'ftnd' (known: diary, mood)"
    assert found[0].line == BODY


def test_questionnaire_known_to_the_caller(folder: Path) -> None:
    set_page(folder, "how-it-works", "::: questionnaire ftnd\n:::\n")

    spec = load_programme(folder, known_questionnaires={"ftnd"})

    assert page_blocks(spec, "how-it-works", "sv") == (Block(type="questionnaire", key="ftnd"),)


def test_questionnaire_directive_takes_no_content(folder: Path) -> None:
    set_page(folder, "how-it-works", "::: questionnaire mood\nHello\n:::\n")

    assert "takes no content" in in_both(folder, "how-it-works")[1]


def test_unknown_aid(folder: Path) -> None:
    set_page(folder, "how-it-works", "::: aid savings\n:::\n")

    assert in_both(folder, "how-it-works") == (
        BODY,
        "unknown aid 'savings' (known: my-answers)",
    )


def test_aid_known_to_the_caller(folder: Path) -> None:
    set_page(folder, "how-it-works", "::: aid savings\n:::\n")

    spec = load_programme(folder, known_aids={"savings", "my-answers"})

    assert page_blocks(spec, "how-it-works", "en") == (Block(type="aid", key="savings"),)


def test_video_and_audio_with_transcripts(folder: Path) -> None:
    write(folder, "media/intro.mp4", "not really a video")
    write(folder, "media/intro.vtt", "WEBVTT\n")
    write(folder, "media/calm.mp3", "not really audio")
    body = (
        "::: video intro.mp4 captions=intro.vtt\nTranscript of the film.\n:::\n\n"
        "::: audio calm.mp3\nBreathe in, breathe out.\n:::\n"
    )
    set_page(folder, "how-it-works", body)

    spec = load_programme(folder)

    video, audio = page_blocks(spec, "how-it-works", "sv")
    urls = {m.path: f"/programme-media/{m.sha256}" for m in spec.media}
    assert (video.type, video.src, video.captions) == (
        "video",
        urls["media/intro.mp4"],
        urls["media/intro.vtt"],
    )
    assert "Transcript of the film." in video.html
    assert (audio.type, audio.src) == ("audio", urls["media/calm.mp3"])
    assert "Breathe in" in spec.steps[0].pages[1].contents["sv"].text


def test_video_needs_captions_and_a_transcript(folder: Path) -> None:
    write(folder, "media/intro.mp4", "not really a video")
    set_page(folder, "how-it-works", "::: video intro.mp4\n:::\n", languages=("sv",))

    messages = [p.message for p in problems(folder)]
    assert "'::: video' needs captions=<...>" in messages


def test_video_without_transcript(folder: Path) -> None:
    write(folder, "media/intro.mp4", "x")
    write(folder, "media/intro.vtt", "WEBVTT\n")
    set_page(folder, "how-it-works", "::: video intro.mp4 captions=intro.vtt\n:::\n")

    assert in_both(folder, "how-it-works") == (
        BODY,
        "'::: video' needs a transcript before its closing ':::'",
    )


def test_missing_media_file_for_audio(folder: Path) -> None:
    set_page(folder, "how-it-works", "::: audio calm.mp3\nBreathe.\n:::\n")

    assert in_both(folder, "how-it-works") == (BODY, "audio file 'media/calm.mp3' does not exist")


# --------------------------------------------------------------------------- keys and languages


def test_duplicate_exercise_key_across_pages(folder: Path) -> None:
    set_page(folder, "how-it-works", "Text\n\n::: exercise why-try\nAgain?\n:::\n")

    # how-it-works comes first in the programme, so the example's own page is the repeat.
    assert problems(folder) == [
        Problem(
            f"pages/{language}/first-exercise.md",
            10,
            f"key 'why-try' is already used in pages/{language}/how-it-works.md:7: "
            "exercise and checklist keys are unique in a programme",
        )
        for language in ("en", "sv")
    ]


def test_duplicate_checklist_key_on_one_page(folder: Path) -> None:
    body = "::: checklist todo\n- a\n:::\n\n::: checklist todo\n- b\n:::\n"
    set_page(folder, "how-it-works", body, languages=("sv", "en"))

    found = problems(folder)
    assert {p.line for p in found} == {BODY + 4}


def test_structure_must_match_between_languages(folder: Path) -> None:
    edit(folder, "pages/en/first-exercise.md", "::: exercise why-try", "::: exercise why-this")

    problem = only_problem(folder)
    assert problem.file == "pages/en/first-exercise.md"
    assert problem.line == 10
    assert "expected exercise 'why-try'" in problem.message
    assert "found exercise 'why-this'" in problem.message


def test_checklist_item_count_must_match_between_languages(folder: Path) -> None:
    edit(folder, "pages/sv/first-exercise.md", "- Jag vet var", "- Jag har en penna\n- Jag vet var")

    problem = only_problem(folder)
    assert problem.file == "pages/en/first-exercise.md"
    assert "checklist 'getting-started' with 4 items" in problem.message


def test_block_missing_in_one_language(folder: Path) -> None:
    edit(folder, "pages/en/looking-back.md", "::: questionnaire mood\n:::\n", "")

    problem = only_problem(folder)
    assert problem.file == "pages/en/looking-back.md"
    assert "found aid 'my-answers'" in problem.message


def test_page_file_must_be_utf8(folder: Path) -> None:
    (folder / "pages/sv/welcome.md").write_bytes("---\ntitle: Hej\n".encode("latin-1") + b"\xe5\n")

    assert "not UTF-8" in only_problem(folder).message


# --------------------------------------------------------------------------- sanitising


def test_sanitising_drops_scripts_handlers_and_javascript_links() -> None:
    dirty = (
        '<p onclick="evil()">Hi<script>alert(1)</script><style>p{}</style>'
        '<a href="javascript:alert(1)">x</a><img src="x" onerror="evil()"></p>'
    )

    clean = sanitise_html(dirty)

    assert "<script" not in clean
    assert "alert" not in clean
    assert "onclick" not in clean
    assert "onerror" not in clean
    assert "javascript:" not in clean
    assert "<style" not in clean
    assert clean.startswith("<p>Hi")


def test_markdown_cannot_smuggle_html_or_script_links(folder: Path) -> None:
    body = '<script>alert(1)</script>\n\n[click](javascript:alert(1)) <b onclick="x">b</b>\n'
    set_page(folder, "how-it-works", body)

    html = page_blocks(load_programme(folder), "how-it-works", "sv")[0].html

    assert "<script" not in html
    assert "<b" not in html
    assert 'href="javascript' not in html
    assert "&lt;script&gt;" in html  # shown as text, harmlessly


def test_plain_text_joins_blocks_with_spaces() -> None:
    assert plain_text("<h2>A</h2><p>b <em>c</em>d</p><img alt='pic'>") == "A b cd pic"


# --------------------------------------------------------------------------- property


def test_any_page_body_loads_or_reports_problems() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "example"
        shutil.copytree(EXAMPLE, root)

        markdownish = st.text(
            alphabet=st.sampled_from(list(":#*_[]()!`~-|<>=\n abc0123"))
            | st.characters(codec="utf-8"),
            max_size=300,
        )
        prefixes = st.sampled_from(
            ["", "::: callout info\n", "::: checklist x\n", "::: exercise e\n", "```\n", "# "]
        )

        @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
        @given(prefix=prefixes, body=markdownish, whole_file=st.booleans())
        def check(prefix: str, body: str, whole_file: bool) -> None:
            text = prefix + body
            content = text if whole_file else f"---\ntitle: T\nminutes: 3\n---\n{text}"
            (root / "pages/sv/how-it-works.md").write_text(content, encoding="utf-8")
            try:
                load_programme(root)
            except ProgrammeFormatError as error:
                assert error.problems
                assert all(p.file and p.message for p in error.problems)

        check()


# --------------------------------------------------------------------------- questionnaires


def test_a_broken_questionnaire_is_reported_with_its_file_and_line(folder: Path) -> None:
    edit(folder, "questionnaires/mood.yaml", "    maxValue: 10\n", "    maxValue: ten\n")

    problem = only_problem(folder)

    assert problem.file == "questionnaires/mood.yaml"
    assert problem.line == 52
    assert problem.message == "item 'stress': maxValue must be a whole number, not text"


def test_every_problem_of_a_questionnaire_is_reported_with_the_rest(folder: Path) -> None:
    edit(folder, "questionnaires/diary.yaml", "answer: true", "answer: 3")
    edit(folder, "questionnaires/mood.yaml", "  items: [feeling, stress]", "  items: [feelings]")
    edit(folder, "programme.yaml", "guidance: self-help", "guidance: self-help\ncolour: blue")

    found = [(p.file, p.line) for p in problems(folder)]

    assert found == [
        ("programme.yaml", 15),
        ("questionnaires/diary.yaml", 30),
        ("questionnaires/mood.yaml", 67),
    ]


def test_a_questionnaire_needs_every_language_of_the_programme(folder: Path) -> None:
    edit(folder, "questionnaires/diary.yaml", "      en: Did you use tobacco today?\n", "")

    problem = only_problem(folder)

    assert (problem.file, problem.line) == ("questionnaires/diary.yaml", 21)
    assert problem.message == "item 'used': text: missing translation for 'en'"


def test_a_questionnaire_id_must_be_its_file_name(folder: Path) -> None:
    edit(folder, "questionnaires/diary.yaml", "id: diary", "id: mood")

    problem = only_problem(folder)

    assert (problem.file, problem.line) == ("questionnaires/diary.yaml", 3)
    assert "must be the file name without .yaml: 'diary'" in problem.message


def test_a_broken_questionnaire_can_still_be_embedded_without_more_noise(folder: Path) -> None:
    write(folder, "questionnaires/mood.yaml", "id: mood\ntitle: [\n")

    problem = only_problem(folder)

    assert problem.file == "questionnaires/mood.yaml"
    assert problem.message.startswith("YAML syntax error")


def test_with_a_broken_programme_file_questionnaires_are_checked_for_syntax(folder: Path) -> None:
    edit(folder, "programme.yaml", "languages: [sv, en]", "languages: [sv, en")
    write(folder, "questionnaires/extra.yaml", "id: extra\n  title: x\n")

    found = sorted(p.file for p in problems(folder))

    assert found == ["programme.yaml", "questionnaires/extra.yaml"]


def test_library_questionnaires_passed_by_the_caller_may_be_embedded(folder: Path) -> None:
    set_page(folder, "how-it-works", "::: questionnaire ftnd-st\n:::\n")

    spec = load_programme(folder, known_questionnaires={"ftnd", "ftnd-st"})

    assert page_blocks(spec, "how-it-works", "en") == (Block(type="questionnaire", key="ftnd-st"),)
    assert set(spec.questionnaire_files) == {"diary", "mood"}


# --------------------------------------------------------------------------- attributes, `when`

MOOD_ATTRIBUTE = (
    "attributes:\n"
    "  mood:\n"
    "    values: [good, bad]\n"
    "    from: {questionnaire: mood, item: feeling}\n"
    "  goal:\n"
    "    values: [quit, reduce]\n"
)


def declare(root: Path, text: str = MOOD_ATTRIBUTE) -> int:
    """Append ``text`` to programme.yaml; returns the line it starts on."""
    path = root / "programme.yaml"
    before = path.read_text(encoding="utf-8")
    path.write_text(before + text, encoding="utf-8")
    return before.count("\n") + 1


def line_of(root: Path, relative: str, needle: str) -> int:
    lines = (root / relative).read_text(encoding="utf-8").split("\n")
    return next(number for number, line in enumerate(lines, start=1) if needle in line)


def test_attributes_conditional_pages_and_blocks_load(folder: Path) -> None:
    from steg.programmes.format import Attribute

    declare(folder)
    edit(
        folder,
        "programme.yaml",
        "      - how-it-works\n",
        "      - {key: how-it-works, when: mood:bad}\n",
    )
    set_page(
        folder,
        "how-it-works",
        "Alla.\n\n"
        "::: when mood:bad|good\nBara **några**.\n:::\n\n"
        "::: callout tip when=goal:reduce\nMindre.\n:::\n\n"
        "::: exercise worries max_length=100 when=mood:bad\nSkriv.\n:::\n\n"
        "::: checklist small-steps when=goal:quit\n- Ett\n:::\n\n"
        "::: questionnaire mood when=mood:good\n:::\n\n"
        "::: aid my-answers when=goal:quit|reduce\n:::\n",
    )

    spec = load_programme(folder)

    assert spec.attributes == (
        Attribute("mood", ("good", "bad"), "mood", "feeling"),
        Attribute("goal", ("quit", "reduce")),
    )
    welcome, how = spec.steps[0].pages
    assert (welcome.when, how.when) == ("", "mood:bad")
    blocks = page_blocks(spec, "how-it-works", "sv")
    assert [(b.type, b.when) for b in blocks] == [
        ("markdown", ""),
        ("markdown", "mood:bad|good"),
        ("callout", "goal:reduce"),
        ("exercise", "mood:bad"),
        ("checklist", "goal:quit"),
        ("questionnaire", "mood:good"),
        ("aid", "goal:quit|reduce"),
    ]
    assert blocks[1].html == "<p>Bara <strong>några</strong>.</p>\n"
    assert blocks[3].max_length == 100
    assert "några" in how.contents["sv"].text  # conditional text is searchable text too


def test_a_page_may_be_listed_as_a_mapping_without_a_condition(folder: Path) -> None:
    edit(folder, "programme.yaml", "      - how-it-works\n", "      - key: how-it-works\n")

    assert load_programme(folder).steps[0].pages[1].when == ""


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ("mood", "condition 'mood' must be written <attribute>:<value>[|<value>...]"),
        ("mood:bad|", "condition 'mood:bad|' must be written"),
        ("mood:bad|bad", "condition 'mood:bad|bad' lists the value 'bad' twice"),
        (
            "weather:sunny",
            "condition 'weather:sunny': unknown attribute 'weather' (declared: goal, mood)",
        ),
        ("mood:fine", "condition 'mood:fine': 'mood' has no value 'fine' (its values: good, bad)"),
    ],
)
def test_a_broken_block_condition_is_reported_with_file_and_line(
    folder: Path, condition: str, message: str
) -> None:
    declare(folder)
    set_page(folder, "how-it-works", f"Text.\n\n::: callout info when={condition}\nMer.\n:::\n")

    line, found = in_both(folder, "how-it-works")

    assert line == BODY + 2
    assert found.startswith(message), found


def test_a_broken_when_directive_is_reported_with_file_and_line(folder: Path) -> None:
    declare(folder)
    set_page(folder, "how-it-works", "::: when mood:awful\nText.\n:::\n")

    line, found = in_both(folder, "how-it-works")

    assert (line, found) == (
        BODY,
        "condition 'mood:awful': 'mood' has no value 'awful' (its values: good, bad)",
    )


def test_a_condition_without_declared_attributes_says_how_to_declare_them(folder: Path) -> None:
    set_page(folder, "how-it-works", "::: callout info when=tobacco:snus\nText.\n:::\n")

    _, found = in_both(folder, "how-it-works")

    assert "unknown attribute 'tobacco'" in found
    assert "add it under 'attributes' in programme.yaml" in found


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("::: when mood:bad\n:::\n", "'::: when' needs content before its closing ':::'"),
        ("::: when\nText.\n:::\n", "write '::: when <condition>' (got '')"),
        ("::: when mood:bad when=goal:quit\nText.\n:::\n", "'::: when' has no option 'when'"),
        (
            "::: when mood:bad\n::: callout info\nText.\n:::\n:::\n",
            "directives cannot be nested: '::: when' from line 5 is still open: '::: when' "
            "holds Markdown only; give the block its own when=<condition> instead",
        ),
    ],
)
def test_when_holds_markdown_only(folder: Path, body: str, message: str) -> None:
    declare(folder)
    set_page(folder, "how-it-works", body)

    _, found = in_both(folder, "how-it-works")

    assert found == message


def test_the_languages_must_agree_on_the_conditions(folder: Path) -> None:
    declare(folder)
    set_page(
        folder, "how-it-works", "::: callout info when=mood:bad\nText.\n:::\n", languages=("sv",)
    )
    set_page(folder, "how-it-works", "::: callout info\nText.\n:::\n", languages=("en",))

    problem = only_problem(folder)

    assert problem.file == "pages/en/how-it-works.md"
    assert problem.line == BODY
    assert "expected callout 'info' when=mood:bad (line 5), found callout 'info'" in problem.message


def test_the_languages_must_agree_on_the_when_directives(folder: Path) -> None:
    declare(folder)
    set_page(folder, "how-it-works", "Alla.\n\n::: when mood:bad\nNågra.\n:::\n", languages=("sv",))
    set_page(folder, "how-it-works", "All.\n\n::: when mood:good\nSome.\n:::\n", languages=("en",))

    problem = only_problem(folder)

    assert problem.file == "pages/en/how-it-works.md"
    assert "expected '::: when mood:bad'" in problem.message
    assert "found '::: when mood:good'" in problem.message


def test_a_broken_page_condition_is_reported_on_its_line_in_programme_yaml(folder: Path) -> None:
    declare(folder)
    edit(
        folder,
        "programme.yaml",
        "      - how-it-works\n",
        "      - key: how-it-works\n        when: mood:awful\n",
    )

    problem = only_problem(folder)

    assert problem.file == "programme.yaml"
    assert problem.line == line_of(folder, "programme.yaml", "when: mood:awful")
    assert problem.message == (
        "step 'welcome': page 'how-it-works': condition 'mood:awful': 'mood' has no value "
        "'awful' (its values: good, bad)"
    )


def test_a_page_mapping_needs_a_key_and_nothing_else(folder: Path) -> None:
    declare(folder)
    edit(
        folder,
        "programme.yaml",
        "      - how-it-works\n",
        "      - {key: how-it-works, if: mood:bad}\n      - {when: mood:bad}\n",
    )

    messages = sorted(p.message for p in problems(folder))

    assert "step 'welcome': page: unknown key 'if' (allowed: key, when)" in messages
    assert "step 'welcome': page: missing required key 'key'" in messages


@pytest.mark.parametrize(
    ("declaration", "needle", "message"),
    [
        ("attributes: [mood]\n", "attributes:", "attributes must be a mapping of keys to values"),
        (
            "attributes:\n  Mood:\n    values: [good]\n",
            "values: [good]",
            "attribute name 'Mood' must be lower-case letters, digits and single hyphens",
        ),
        (
            "attributes:\n  mood:\n    values: []\n",
            "values: []",
            "attribute 'mood': list at least one value",
        ),
        (
            "attributes:\n  mood:\n    values: [good, Bad]\n",
            "values: [good, Bad]",
            "attribute 'mood': value 'Bad' must be lower-case letters, digits and single hyphens",
        ),
        (
            "attributes:\n  mood:\n    values: [good, good]\n",
            "values: [good, good]",
            "attribute 'mood': value 'good' is listed twice",
        ),
        (
            "attributes:\n  mood:\n    values: [good]\n    source: x\n",
            "source: x",
            "attribute 'mood': unknown key 'source' (allowed: from, values)",
        ),
        (
            "attributes:\n  mood:\n    from: {questionnaire: mood, item: feeling}\n",
            "from:",  # a mapping's problems are on its first line
            "attribute 'mood': missing required key 'values'",
        ),
        (
            "attributes:\n  mood:\n    values: [good]\n    from: {questionnaire: mood}\n",
            "from:",
            "attribute 'mood': from: missing required key 'item'",
        ),
    ],
)
def test_a_broken_attribute_declaration_is_reported_on_its_line(
    folder: Path, declaration: str, needle: str, message: str
) -> None:
    declare(folder, declaration)

    problem = only_problem(folder)

    assert (problem.file, problem.message) == ("programme.yaml", message)
    assert problem.line == line_of(folder, "programme.yaml", needle)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "{questionnaire: habits, item: feeling}",
            "attribute 'mood': from: questionnaire 'habits' is not one of the programme's "
            "questionnaires (questionnaires/habits.yaml does not exist)",
        ),
        (
            "{questionnaire: mood, item: sleep}",
            "attribute 'mood': from: questionnaires/mood.yaml has no item 'sleep'",
        ),
        (
            "{questionnaire: mood, item: stress}",
            "attribute 'mood': from: item 'stress' of questionnaires/mood.yaml is of type "
            "integer; an attribute needs a choice item",
        ),
        (
            "{questionnaire: mood, item: hardest}",
            "attribute 'mood': from: item 'hardest' of questionnaires/mood.yaml takes several "
            "answers (repeats): an attribute has one value",
        ),
    ],
)
def test_an_attribute_must_come_from_a_choice_item_of_the_programmes_questionnaire(
    folder: Path, source: str, message: str
) -> None:
    declare(folder, f"attributes:\n  mood:\n    values: [good, bad]\n    from: {source}\n")

    problem = only_problem(folder)

    assert (problem.file, problem.line, problem.message) == (
        "programme.yaml",
        line_of(folder, "programme.yaml", "from:"),
        message,
    )


def test_every_attribute_value_must_be_an_option_of_its_item(folder: Path) -> None:
    declare(
        folder,
        "attributes:\n  mood:\n    values: [good, so-so, awful]\n"
        "    from: {questionnaire: mood, item: feeling}\n",
    )

    problem = only_problem(folder)

    assert problem.message == (
        "attribute 'mood': from: item 'feeling' of questionnaires/mood.yaml has no option for "
        "'so-so', 'awful' (its codes: good, mixed, bad)"
    )


def test_a_library_questionnaire_cannot_give_an_attribute(folder: Path) -> None:
    declare(
        folder, "attributes:\n  ftnd:\n    values: [a]\n    from: {questionnaire: ftnd, item: q1}\n"
    )

    problem = only_problem(folder, known_questionnaires={"ftnd"})

    assert "questionnaire 'ftnd' is not one of the programme's questionnaires" in problem.message


def test_a_broken_declaration_reports_no_more_about_the_conditions_on_it(folder: Path) -> None:
    declare(folder, "attributes:\n  mood:\n    values: [good, good]\n")
    set_page(folder, "how-it-works", "::: callout info when=mood:good\nText.\n:::\n")

    problem = only_problem(folder)

    assert problem.message == "attribute 'mood': value 'good' is listed twice"


def test_blocks_without_conditions_keep_their_json_and_the_example_its_hash() -> None:
    from steg.programmes.format import content_hash

    spec = load_programme(EXAMPLE)

    assert spec.attributes == ()
    assert all(
        page.when == "" and all(b.when == "" for c in page.contents.values() for b in c.blocks)
        for step in spec.steps
        for page in step.pages
    )
    assert spec.content_hash == content_hash(EXAMPLE)
