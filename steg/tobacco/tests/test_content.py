"""The data files of the tobacco aids: the shipped ones are complete, broken ones are reported."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.core import checks

from steg.tobacco import content
from steg.tobacco.checks import data_files_are_valid
from steg.tobacco.content import (
    TobaccoDataError,
    parse_craving,
    parse_medications,
    parse_milestones,
)

REQUIRED_MEDICATIONS = {
    "nicotine-patch",
    "nicotine-gum",
    "nicotine-lozenge",
    "nicotine-inhaler",
    "nicotine-mouth-spray",
    "nicotine-pouch",
    "varenicline",
    "cytisine",
    "bupropion",
}


@pytest.fixture(autouse=True)
def _fresh_data() -> None:
    for load in (content.medications, content.milestones, content.craving):
        load.cache_clear()


def test_the_shipped_medication_list_is_complete_in_both_languages() -> None:
    data = content.medications()
    assert {m.key for m in data.medications} == REQUIRED_MEDICATIONS
    for m in data.medications:
        for texts in (m.name, m.what, m.helps, m.use, m.side_effects, m.availability, m.advice):
            assert set(texts) == {"sv", "en"}, m.key
        assert m.sources, m.key
    assert set(data.intro) == {"sv", "en"}


def test_prescription_status_is_as_in_sweden() -> None:
    by_key = {m.key: m for m in content.medications().medications}
    assert not any(by_key[k].prescription for k in REQUIRED_MEDICATIONS if k.startswith("nicotine"))
    assert by_key["varenicline"].prescription
    assert by_key["bupropion"].prescription
    assert by_key["cytisine"].prescription
    assert "Asmoken" in by_key["cytisine"].availability["sv"]


def test_every_medication_says_to_talk_to_someone() -> None:
    for m in content.medications().medications:
        assert any(word in m.advice["sv"] for word in ("terapeut", "läkare", "apoteket")), m.key
        assert any(word in m.advice["en"] for word in ("therapist", "doctor", "pharmacist")), m.key


def test_the_sources_have_years_and_cover_the_kinds_asked_for() -> None:
    citations = " ".join(s.citation for s in content.medications().sources)
    for name in ("FASS", "Läkemedelsverket", "Socialstyrelsen", "Cochrane"):
        assert name in citations
    assert all(1900 <= s.year <= 2100 for s in content.medications().sources)
    assert content.medications().reviewed_on.year >= 2026


def test_the_shipped_milestones_and_craving_aid_are_valid() -> None:
    milestones = content.milestones()
    assert set(milestones.by_product) == {"smoking", "snus"}
    keys = [m.key for m in milestones.by_product["smoking"]]
    for key in ("20-minutes", "8-hours", "24-hours", "48-hours", "2-weeks", "1-year"):
        assert key in keys
    for key in ("5-years", "10-years", "15-years"):
        assert key in keys
    assert all(m.sources for ms in milestones.by_product.values() for m in ms)
    craving = content.craving()
    assert [s.key for s in craving.strategies][:4] == [
        "delay",
        "deep-breathing",
        "drink-water",
        "do-something-else",
    ]


def test_the_system_check_passes_for_the_shipped_files() -> None:
    assert data_files_are_valid() == []


MEDICATIONS = """\
reviewed_on: 2026-11-26
intro: {sv: Hej, en: Hello}
sources:
  - {key: fass, citation: FASS, year: 2024}
medications:
  - key: patch
    group: nrt
    name: {sv: Plåster, en: Patch}
    what: {sv: a, en: a}
    helps: {sv: a, en: a}
    use: {sv: a, en: a}
    side_effects: {sv: a, en: a}
    prescription: false
    availability: {sv: a, en: a}
    suits: both
    advice: {sv: a, en: a}
    sources: [fass]
"""


def problems(error: pytest.ExceptionInfo[TobaccoDataError]) -> list[str]:
    return [str(p) for p in error.value.problems]


def test_a_valid_small_medication_list_parses() -> None:
    data = parse_medications(MEDICATIONS)
    assert data.medications[0].name == {"sv": "Plåster", "en": "Patch"}


def test_a_yaml_syntax_error_is_reported_with_its_line() -> None:
    broken = MEDICATIONS.replace("what: {sv: a, en: a}", "what: {sv: a: b, en: a}")
    with pytest.raises(TobaccoDataError) as error:
        parse_medications(broken, "steg/tobacco/data/medications.yaml")
    (problem,) = problems(error)
    assert problem.startswith("steg/tobacco/data/medications.yaml:9: YAML syntax error")
    assert "medications.yaml:9" in str(error.value)


def test_every_problem_is_listed_at_once() -> None:
    broken = (
        MEDICATIONS.replace("what: {sv: a, en: a}", "what: {sv: a}")
        .replace("prescription: false", "prescription: maybe")
        .replace("suits: both", "suits: pipes")
        .replace("sources: [fass]", "sources: [fass, cochrane]")
        .replace("year: 2024", "year: 24")
    )
    with pytest.raises(TobaccoDataError) as error:
        parse_medications(broken)
    found = problems(error)
    assert found == [
        "medications.yaml:4: source 'fass': year 24 is not a year",
        "medications.yaml:9: medication 'patch': what: missing translation for 'en'",
        "medications.yaml:13: medication 'patch': prescription must be true or false, not text",
        "medications.yaml:15: medication 'patch': suits must be one of smoking, snus, both, "
        "not 'pipes'",
        "medications.yaml:17: medication 'patch': unknown source 'cochrane'",
    ]


def test_unknown_and_missing_keys_are_reported() -> None:
    broken = MEDICATIONS.replace("    advice: {sv: a, en: a}\n", "    dose: {sv: a, en: a}\n")
    with pytest.raises(TobaccoDataError) as error:
        parse_medications(broken)
    found = problems(error)
    assert any("unknown key 'dose'" in p for p in found)
    assert any("missing required key 'advice'" in p for p in found)


def test_an_empty_file_is_reported() -> None:
    with pytest.raises(TobaccoDataError, match="the file is empty"):
        parse_medications("")


def test_milestones_out_of_time_order_are_refused() -> None:
    entry = "when: {sv: a, en: a}, text: {sv: a, en: a}, sources: [who]"
    text = f"""\
reviewed_on: 2026-11-26
intro: {{sv: a, en: a}}
sources: [{{key: who, citation: WHO, year: 2020}}]
products:
  smoking:
    milestones:
      - {{key: one-day, after: {{days: 1}}, {entry}}}
      - {{key: an-hour, after: {{hours: 1}}, {entry}}}
      - {{key: soon, after: {{fortnights: 1}}, {entry}}}
  pipe:
    milestones: []
"""
    with pytest.raises(TobaccoDataError) as error:
        parse_milestones(text)
    found = problems(error)
    assert (
        "milestones.yaml:8: smoking: milestone 'an-hour': milestones must be in time order"
        in (found[1])
    )
    assert any("milestone 'soon': after must be one of minutes" in p for p in found)
    assert any("unknown key 'pipe'" in p for p in found)


def test_a_craving_aid_without_strategies_is_refused() -> None:
    text = """\
reviewed_on: 2026-11-26
title: {sv: a, en: a}
intro: {sv: a, en: a}
strategies: []
closing: {sv: a, en: a}
"""
    with pytest.raises(TobaccoDataError, match="strategies: list at least one"):
        parse_craving(text)


def test_a_broken_shipped_file_fails_the_system_check_and_the_aid_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("medications.yaml", "milestones.yaml", "craving.yaml"):
        shutil.copy(content.DATA_DIR / name, tmp_path / name)
    (tmp_path / "craving.yaml").write_text("title: [unclosed\n", encoding="utf-8")
    monkeypatch.setattr(content, "DATA_DIR", tmp_path)

    errors = data_files_are_valid()

    assert [e.id for e in errors] == ["tobacco.E001"]
    assert isinstance(errors[0], checks.Error)
    assert errors[0].msg.startswith("steg/tobacco/data/craving.yaml:")
    with pytest.raises(TobaccoDataError, match="craving.yaml"):
        content.craving()
    # The other files are unaffected.
    assert content.medications().medications
