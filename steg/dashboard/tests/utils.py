"""Helpers for the dashboard tests."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest
from django.test import RequestFactory, TestCase
from django.utils import timezone

from steg.accounts.models import User
from steg.care.models import Enrolment, Patient
from steg.dashboard.attention import recount, refresh_stale
from steg.dashboard.models import COUNTERS, Attention, FlagCounts
from steg.programmes.models import ProgrammeVersion
from steg.testing.personas import World, start_treatment

TOBACCO = Path(settings.BASE_DIR) / "programmes" / "tobacco-cessation"

Counts = dict[tuple[int, int | None], dict[str, int]]


def row(enrolment: Enrolment) -> Attention:
    """The enrolment's row as the dashboard reads it: the patient's changes only mark rows
    stale, and the dashboard recomputes those first."""
    refresh_stale()
    return Attention.objects.get(pk=enrolment.pk)


def flags(enrolment: Enrolment) -> set[str]:
    return {flag.key for flag in row(enrolment).flags}


def _counters() -> Counts:
    return {
        (c.unit_id, c.therapist_id): {name: getattr(c, name) for name in COUNTERS}
        for c in FlagCounts.objects.all()
    }


def assert_counters_match_rows() -> None:
    """The counters kept step by step say what counting the rows again says."""
    kept = {group: counts for group, counts in _counters().items() if any(counts.values())}
    recount()
    assert kept == _counters()


def make_patient(
    world: World,
    n: int,
    *,
    therapist: User | None = None,
    version: ProgrammeVersion | None = None,
    quit_date: datetime.date | None = None,
    started_at: datetime.datetime | None = None,
) -> Enrolment:
    """An active enrolment of a new patient at the world's unit (the example programme unless
    another version is given), with the world's therapist unless another is given."""
    patient = Patient.objects.create(
        personnummer=f"1990010{n:05d}", first_name=f"First{n:03d}", last_name=f"Last{n:03d}"
    )
    return start_treatment(
        patient,
        world.unit,
        version or world.enrolment.programme_version,
        therapist=therapist or world.therapist,
        quit_date=quit_date,
        started_at=started_at,
    )


def request_as(user: User) -> HttpRequest:
    request = RequestFactory().get("/")
    request.user = user
    return request


def days_ago(days: int) -> datetime.date:
    return timezone.localdate() - datetime.timedelta(days=days)


@contextmanager
def committed() -> Iterator[None]:
    """Run the after-commit hooks (the dashboard's recomputation) of what happens inside, as
    the commit of an action's transaction would: tests run inside a transaction that is rolled
    back, so nothing is ever committed."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        yield
