"""The manual: how to find and use the programme, for everyone, printable."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse

from steg.testing.personas import World


def test_the_manual_is_at_help() -> None:
    assert reverse("tobacco:manual") == "/help/"


@pytest.mark.parametrize("persona", ["anonymous", "patient", "therapist"])
def test_everyone_can_read_the_manual(
    world: World, client_as: Callable[[str], Client], persona: str
) -> None:
    client = client_as(persona)
    client.cookies["steg_language"] = "en"
    response = client.get(reverse("tobacco:manual"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>How to find and use the programme</h1>" in html
    assert "data-print hidden" in html


def test_the_manual_covers_each_part_and_links_to_its_sections(
    world: World, client_as: Callable[[str], Client]
) -> None:
    client = client_as("anonymous")
    client.cookies["steg_language"] = "en"
    html = client.get(reverse("tobacco:manual")).content.decode()
    for anchor in (
        "log-in",
        "find",
        "page",
        "exercises",
        "quit-date",
        "questionnaires",
        "measurements",
        "search",
        "print",
        "accessibility-help",
    ):
        assert f'href="#{anchor}"' in html and f'id="{anchor}"' in html
    assert "Send to my therapist" in html
    assert "call 1177" in html
    assert reverse("accessibility") in html
    assert reverse("account_login") in html  # for those not logged in yet
    assert "style=" not in html and "<script>" not in html.split("</head>")[1]


def test_a_logged_in_patient_gets_a_link_to_their_treatments(
    world: World, client_as: Callable[[str], Client]
) -> None:
    html = client_as("patient").get(reverse("tobacco:manual")).content.decode()
    assert reverse("care:patient_start") in html
    assert f'href="{reverse("account_login")}"' not in html


def test_the_manual_is_only_read(world: World, client_as: Callable[[str], Client]) -> None:
    assert client_as("anonymous").post(reverse("tobacco:manual")).status_code == 405
