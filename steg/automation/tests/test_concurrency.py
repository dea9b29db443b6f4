"""Two schedulers and two workers over the same due firings on PostgreSQL: every firing is
handed out once per lease and fires once; every automatic message exists once."""

from __future__ import annotations

import datetime
import random
import threading
from collections import Counter
from typing import Any

import pytest
from django.db import connection, connections
from django.utils import timezone

from steg.automation import engine
from steg.automation.models import Firing
from steg.automation.spec import Action, Automations, Rule, Trigger, to_json
from steg.care.models import Patient
from steg.dialog.models import Message
from steg.testing.personas import World, start_treatment

ENROLMENTS = 8
PER_ENROLMENT = 25

RULES = Automations(
    messages={"hello": {"sv": "Hej {first_name}!", "en": "Hello {first_name}!"}},
    rules=(Rule("hello", Trigger("page_read"), actions=(Action("message", key="hello"),)),),
)


def _in_threads(work: Any, count: int = 2) -> list[Any]:
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = work(index)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_schedulers_and_two_workers_fire_each_occasion_once(world: World) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")
    version = world.enrolment.programme_version
    version.automations = to_json(RULES)
    version.save(update_fields=["automations"])
    engine.clear_rules_cache()
    now = timezone.now()
    rows = []
    for n in range(ENROLMENTS):
        patient = Patient.objects.create(
            personnummer=f"1990020{n:05d}",
            first_name=f"Namn{n}",
            last_name="Samtidig",
            email=f"p{n}@test.example",
        )
        enrolment = start_treatment(patient, world.unit, version, therapist=world.therapist)
        rows += [
            Firing(
                enrolment=enrolment,
                rule="hello",
                occasion=f"page:{i}",
                trigger="page_read",
                scheduled_for=now - datetime.timedelta(minutes=1),
                next_attempt_at=now - datetime.timedelta(minutes=1),
                created_at=now,
            )
            for i in range(PER_ENROLMENT)
        ]
    Firing.objects.bulk_create(rows)
    total = ENROLMENTS * PER_ENROLMENT
    ids = list(Firing.objects.values_list("pk", flat=True))

    # Two schedulers tick at the same moment, a few rows at a time: together they hand out
    # every due firing once (each skips the rows the other has locked).
    handed = _in_threads(lambda i: engine.tick(limit=7))
    assert sum(handed) == total
    assert engine.tick() == 0  # all leased

    # Two workers are both given every firing, in different orders.
    def work(index: int) -> Counter[str]:
        order = ids[:]
        random.Random(index).shuffle(order)
        return Counter(engine.fire(pk) for pk in order)

    outcomes = _in_threads(work)
    assert outcomes[0]["done"] + outcomes[1]["done"] == total
    assert Firing.objects.filter(status=Firing.Status.DONE).count() == total
    messages = Message.objects.filter(sender_role=Message.SenderRole.SYSTEM)
    assert messages.count() == total
    tokens = list(messages.values_list("client_token", flat=True))
    assert len(set(tokens)) == total
