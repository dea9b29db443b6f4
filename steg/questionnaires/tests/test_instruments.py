"""The library instruments are the published tests: items, options and points as published."""

from __future__ import annotations

from decimal import Decimal

import pytest

from steg.questionnaires.definition import Questionnaire
from steg.questionnaires.library import (
    LIBRARY_DIR,
    library_ids,
    library_questionnaire,
    library_text,
)
from steg.questionnaires.parse import load_questionnaire_text
from steg.questionnaires.tests.instrument_vectors import VECTORS, Vector

YES_NO = [("yes", 1), ("no", 0)]
FIRST_OR_OTHER = [("first-in-morning", 1), ("any-other", 0)]
TIME_TO_FIRST = [("within-5", 3), ("6-30", 2), ("31-60", 1), ("after-60", 0)]

# Heatherton et al. 1991, Br J Addict 86:1119-27.
FTND = [
    ("first-cigarette", TIME_TO_FIRST),
    ("forbidden-places", YES_NO),
    ("hate-most", FIRST_OR_OTHER),
    ("per-day", [("10-or-less", 0), ("11-20", 1), ("21-30", 2), ("31-or-more", 3)]),
    ("first-hours", YES_NO),
    ("when-ill", YES_NO),
]
# Ebbert, Patten & Schroeder 2006, Addict Behav 31:1716-21.
FTND_ST = [
    ("first-dip", TIME_TO_FIRST),
    ("swallow-juice", [("always", 2), ("sometimes", 1), ("never", 0)]),
    ("hate-most", FIRST_OR_OTHER),
    ("per-week", [("more-than-3", 2), ("2-3", 1), ("1", 0)]),
    ("first-hours", YES_NO),
    ("when-ill", YES_NO),
]
PUBLISHED = {"ftnd": FTND, "ftnd-st": FTND_ST}


def points(q: Questionnaire) -> list[tuple[str, list[tuple[str, Decimal | None]]]]:
    return [(i.link_id, [(o.code, o.score) for o in i.options]) for i in q.items]


def test_the_library_is_the_two_fagerstrom_tests() -> None:
    assert library_ids() == frozenset({"ftnd", "ftnd-st"})
    assert {p.stem for p in LIBRARY_DIR.glob("*.yaml")} == library_ids()


@pytest.mark.parametrize("ident", sorted(PUBLISHED))
def test_items_options_and_points_are_as_published(ident: str) -> None:
    q = library_questionnaire(ident)

    assert q.id == ident
    assert points(q) == [
        (link_id, [(code, Decimal(score)) for code, score in options])
        for link_id, options in PUBLISHED[ident]
    ]
    assert all(i.type == "choice" and i.required and not i.repeats for i in q.items)
    assert all(not i.enable_when and not i.items for i in q.items)


@pytest.mark.parametrize("ident", sorted(PUBLISHED))
def test_the_score_is_the_plain_sum_from_0_to_10_of_every_item(ident: str) -> None:
    q = library_questionnaire(ident)
    scoring = q.scoring

    assert scoring is not None
    assert scoring.items == tuple(i.link_id for i in q.items)
    assert (scoring.reversed, scoring.subscales) == ((), ())
    assert (scoring.missing, scoring.decimals) == ("refuse", 0)
    lowest = sum(min(o.score or 0 for o in i.options) for i in q.items)
    highest = sum(max(o.score or 0 for o in i.options) for i in q.items)
    assert (lowest, highest) == (0, 10)


def test_ftnd_bands_are_the_five_common_levels_and_the_flag_starts_at_7() -> None:
    scoring = library_questionnaire("ftnd").scoring
    assert scoring is not None

    assert [(b.key, b.min, b.max) for b in scoring.bands] == [
        ("very-low", 0, 2),
        ("low", 3, 4),
        ("medium", 5, 5),
        ("high", 6, 7),
        ("very-high", 8, 10),
    ]
    assert all(b.title and b.feedback for b in scoring.bands)
    assert [(f.key, f.scale, f.min, f.max) for f in scoring.flags] == [
        ("medication", "total", 7, None)
    ]


def test_ftnd_st_has_no_bands_nor_flags_since_none_are_published() -> None:
    scoring = library_questionnaire("ftnd-st").scoring
    assert scoring is not None

    assert (scoring.bands, scoring.flags) == ((), ())
    assert "No bands and no flag" in library_text("ftnd-st")


@pytest.mark.parametrize(
    ("ident", "citation"),
    [
        ("ftnd", "Heatherton TF, Kozlowski LT, Frecker RC, Fagerström KO."),
        ("ftnd-st", "Ebbert JO, Patten CA, Schroeder DR."),
    ],
)
def test_each_file_cites_its_source(ident: str, citation: str) -> None:
    q = library_questionnaire(ident)
    comments = "\n".join(line for line in library_text(ident).splitlines() if line.startswith("#"))

    assert q.source is not None and q.source.startswith(citation)
    assert citation in comments


def test_the_ftnd_bands_cite_where_they_come_from() -> None:
    assert "Ear Nose Throat J." in library_text("ftnd")


@pytest.mark.parametrize("ident", sorted(PUBLISHED))
def test_every_text_is_in_swedish_and_english(ident: str) -> None:
    q = library_questionnaire(ident)

    assert q.languages == ("sv", "en")
    texts = [q.title, q.description] + [i.text for i in q.items]
    texts += [o.text for i in q.items for o in i.options]
    assert all(set(t) == {"sv", "en"} for t in texts)


def test_the_snus_version_speaks_of_prillor_and_dosor_in_swedish() -> None:
    q = library_questionnaire("ftnd-st")

    assert "prilla" in q.items[0].text["sv"]
    assert "dosor" in q.items[3].text["sv"]
    assert "Snusar" in q.items[4].text["sv"]


def test_a_programme_in_swedish_only_gets_the_swedish_texts() -> None:
    q = load_questionnaire_text(library_text("ftnd"), "ftnd.yaml", ("sv",), expected_id="ftnd")

    assert q.languages == ("sv",)
    assert q.items[0].text == {
        "sv": "Hur snart efter att du har vaknat röker du din första cigarett?"
    }


def test_an_unknown_library_id() -> None:
    with pytest.raises(KeyError):
        library_text("../programmes/example/programme")


# --------------------------------------------------------------------------- test vectors


@pytest.mark.parametrize("ident", sorted(VECTORS))
def test_there_are_vectors_for_the_lowest_and_the_highest_total(ident: str) -> None:
    totals = [v.total for v in VECTORS[ident]]

    assert len(totals) >= 6
    assert {Decimal(0), Decimal(10)} <= set(totals)


@pytest.mark.parametrize(
    ("ident", "vector"),
    [(ident, vector) for ident, vectors in sorted(VECTORS.items()) for vector in vectors],
)
def test_each_vector_agrees_with_the_points_and_bands_in_the_file(
    ident: str, vector: Vector
) -> None:
    q = library_questionnaire(ident)
    assert q.scoring is not None

    assert set(vector.answers) == {i.link_id for i in q.items}
    total = Decimal(0)
    for item in q.items:
        (code,) = vector.answers[item.link_id]
        option = item.option(str(code))
        assert option is not None and option.score is not None, (item.link_id, code)
        total += option.score
    assert total == vector.total
    bands = [
        b.key
        for b in q.scoring.bands
        if (b.min is None or b.min <= total) and (b.max is None or total <= b.max)
    ]
    assert bands == ([vector.band] if vector.band else [])
    flags = [
        f.key
        for f in q.scoring.flags
        if (f.min is None or f.min <= total) and (f.max is None or total <= f.max)
    ]
    assert tuple(flags) == vector.flags
