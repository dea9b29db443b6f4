"""The patient's start page (My treatments) costs a fixed number of queries."""

from __future__ import annotations

import datetime
from collections.abc import Callable

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django import DjangoAssertNumQueries

from steg.care.models import Meeting
from steg.testing.personas import World, start_treatment

# The user, the patient (and the audit event of the read: a savepoint, the previous hash and
# the insert, in a transaction in production; on PostgreSQL also the audit chain's lock), the
# treatments with their units (the programme versions come from the process cache), the
# questionnaires due (two: responses and requests), the meetings booked and the header's inbox.
START_QUERIES = 11 + (connection.vendor == "postgresql")


def book(world: World, days: int) -> None:
    starts_at = timezone.now() + datetime.timedelta(days=days)
    Meeting.objects.create(
        patient=world.patient,
        unit=world.unit,
        therapist=world.therapist,
        kind=Meeting.Kind.FOLLOW_UP,
        mode="phone",
        starts_at=starts_at,
        ends_at=starts_at + datetime.timedelta(minutes=30),
        created_by=world.therapist,
    )


@pytest.mark.parametrize("more", [0, 3])
def test_the_start_page_runs_a_fixed_number_of_queries_whatever_the_treatments(
    world: World,
    client_as: Callable[[str], Client],
    django_assert_max_num_queries: DjangoAssertNumQueries,
    more: int,
) -> None:
    for days in range(more):
        start_treatment(world.patient, world.unit, world.enrolment.programme_version)
        book(world, days + 1)
    patient = client_as("patient")
    assert patient.get(reverse("care:patient_start")).status_code == 200
    with django_assert_max_num_queries(START_QUERIES):
        response = patient.get(reverse("care:patient_start"))
    assert response.status_code == 200
    assert len(response.context["enrolments"]) == 1 + more
    assert len(response.context["upcoming_meetings"]) == min(more, 3)
    title = world.enrolment.programme_version.title("sv")
    assert response.content.decode().count(title) >= 1 + more
