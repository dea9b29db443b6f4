"""Scale and fault benchmark of the automation engine (issue #8), on PostgreSQL.

    .venv/bin/python benchmarks/automation.py [--enrolments 100000] [--due 10000] [--rounds 5]
    make bench-automation BENCH_ARGS="--rounds 5"          # the same
    ... --enrolments 5000 --due 1000 --fault 500           # a quick run
    ... --database-url postgres://postgres@127.0.0.1:5432/postgres   # another server

Issue #8 asks: with 100,000 active enrolments a scheduler tick must select and enqueue the
due occasions in under 2 seconds, and its time must not grow with enrolments that have
nothing due; a worker drains 10,000 automatic messages and the rate is reported; a worker
killed in the middle of a batch and restarted leaves every due action done exactly once.
What it does, in one PostgreSQL database of its own (``steg_bench_automation``, dropped
afterwards unless ``--keep``):

1. migrates it, imports programmes/tobacco-cessation and picks its rule to fire: an ``after``
   rule counted from the quit date whose actions are all ``message`` (``check-in-day-3``); a
   version without one is given such a rule (``bench-check-in``), so that each due firing
   writes one automatic message;
2. seeds ``--small`` (1,000) active enrolments (users with e-mail addresses, patients,
   assessment talks, enrolments whose quit date was 3 days ago) in set-based SQL, each with
   ``--later`` (3) pending firings days ahead; times ``engine.tick()`` in-process (the
   database task backend, so the enqueued task rows are really written) with nothing due and
   with ``--due`` (10,000) firings due, ``--rounds`` (5) times each after an untimed one,
   putting the firings back and ``VACUUM ANALYZE`` between rounds; then removes those due
   firings;
3. grows the same database to ``--enrolments`` (100,000) and times the tick again, the same
   way: the budget is under 2 s, and within 1.5 times the tick at 1,000;
4. drains the tasks of the last tick with ``manage.py db_worker --batch`` (one worker), and
   then a second set of due firings (other enrolments) with two workers at once; reports
   messages per second and checks in SQL that every firing is done once, with one automatic
   message (``client_token`` "rule:<firing id>") and one audit event each; counts the SQL
   statements of one firing fired in-process;
5. fault test: ``--fault`` (2,000) due firings, the lease cut to ``--lease`` seconds; a
   worker is killed with SIGKILL half-way through a batch of 100; after the lease the tick
   hands out again what is still pending, two workers are started and drain the queue (the
   firings handed out twice are fired once); then every firing must be done exactly once;
6. prints the figures, writes its section of docs/performance.md (``--no-write`` to skip)
   and exits with status 1 when a budget or an exactly-once check fails.

Not part of the test suite: nothing here is collected by pytest.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import types
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

from benchmarks import programme_pages as pp  # noqa: E402
from benchmarks.common import replace_section  # noqa: E402

DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"
DATABASE = "steg_bench_automation"
ZONE = ZoneInfo("Europe/Stockholm")
START = "<!-- benchmarks/automation.py: start -->"
END = "<!-- benchmarks/automation.py: end -->"
FALLBACK_RULE = "bench-check-in"


def log(message: str) -> None:
    print(f"[bench-automation] {message}", file=sys.stderr, flush=True)


# --- seeding (in-process, Django set up on the benchmark's database) --------------------------

# Enrolments g = lo..hi, all active, with `later` pending firings each, days ahead. Parameters
# are always passed, so `%` is written `mod()`.
SEED_SQL = """
CREATE TABLE IF NOT EXISTS bench_map (g integer PRIMARY KEY, user_id bigint, patient_id bigint,
    assessment_id bigint, enrolment_id bigint);

INSERT INTO accounts_user (password, is_superuser, email, first_name, last_name, language,
    is_active, date_joined)
SELECT '!', false, 'patient' || g || '@bench.example',
       (ARRAY['Anna','Erik','Maria','Lars','Karin','Johan','Eva','Anders'])[1 + mod(g, 8)],
       'Bench' || g, 'sv', true, now() - interval '40 days'
FROM generate_series(%(lo)s::integer, %(hi)s::integer) AS g;

INSERT INTO bench_map (g, user_id)
SELECT g, u.id FROM generate_series(%(lo)s::integer, %(hi)s::integer) AS g
JOIN accounts_user u ON u.email = 'patient' || g || '@bench.example';

INSERT INTO care_patient (personnummer, first_name, last_name, phone, email, created_at,
    user_id, time_zone)
SELECT lpad(b.g::text, 12, '0'), u.first_name, u.last_name, '', u.email, u.date_joined, u.id,
       'Europe/Stockholm'
FROM bench_map b JOIN accounts_user u ON u.id = b.user_id
WHERE b.g BETWEEN %(lo)s AND %(hi)s;
UPDATE bench_map SET patient_id = p.id FROM care_patient p
WHERE p.user_id = bench_map.user_id AND bench_map.g BETWEEN %(lo)s AND %(hi)s;

INSERT INTO care_assessment (held_on, mode, tobacco_type, tobacco_use, dependence_test,
    dependence_answers, motivation, confidence, notes, choice, choice_reason, created_at,
    patient_id, programme_id, therapist_id, unit_id)
SELECT (now() - make_interval(days => 20 + mod(g * 37, 15)))::date, 'phone', 'cigarettes',
       '10 cigaretter om dagen', '', '{}', 7, 6, '', 'digital_guided', 'Vill sluta',
       now() - make_interval(days => 20 + mod(g * 37, 15)), patient_id, %(programme)s,
       %(therapist)s, %(unit)s
FROM bench_map WHERE g BETWEEN %(lo)s AND %(hi)s;
UPDATE bench_map SET assessment_id = a.id FROM care_assessment a
WHERE a.patient_id = bench_map.patient_id AND bench_map.g BETWEEN %(lo)s AND %(hi)s;

INSERT INTO care_enrolment (status, created_at, started_at, quit_date, programme_version_id,
    unit_id, patient_id, attributes, consented_at, ended_at, guided, terms_version,
    therapist_id, assessment_id)
SELECT 'active', now() - make_interval(days => 11 + mod(g * 37, 15)),
       now() - make_interval(days => 10 + mod(g * 37, 15)), %(quit_date)s::date,
       %(version)s, %(unit)s, patient_id, '{"tobacco": "smoking"}',
       now() - make_interval(days => 10 + mod(g * 37, 15)), NULL, true, '2026-11',
       %(therapist)s, assessment_id
FROM bench_map WHERE g BETWEEN %(lo)s AND %(hi)s;
UPDATE bench_map SET enrolment_id = e.id FROM care_enrolment e
WHERE e.patient_id = bench_map.patient_id AND bench_map.g BETWEEN %(lo)s AND %(hi)s;

INSERT INTO automation_firing (rule, occasion, trigger, status, scheduled_for, next_attempt_at,
    attempts, context, created_at, fired_at, result, last_error, enrolment_id)
SELECT (%(later_rules)s::text[])[1 + k], 'bench-later:' || k, 'after', 'pending', x.at, x.at, 0,
       '{}', now(), NULL, '{}', '', b.enrolment_id
FROM bench_map b, generate_series(0, %(later)s::integer - 1) AS k,
     LATERAL (SELECT now() + make_interval(days => 1 + mod(b.g * 7 + k * 13, 60),
                                           mins => mod(b.g, 1440)) AS at) AS x
WHERE b.g BETWEEN %(lo)s AND %(hi)s
"""

# `count` due firings on the enrolments g = lo .. lo + span - 1 (i-th on g = lo + i mod span),
# due between now and 30 minutes ago. `real`: the rule's true occasion (one per enrolment, so
# that firing it sends the message); else made-up occasions (for timing the tick only).
DUE_SQL = """
INSERT INTO automation_firing (rule, occasion, trigger, status, scheduled_for, next_attempt_at,
    attempts, context, created_at, fired_at, result, last_error, enrolment_id)
SELECT %(rule)s,
       CASE WHEN %(real)s THEN %(occasion)s ELSE 'bench-due:' || %(tag)s || ':' || i END,
       'after', 'pending', x.at, x.at, 0,
       jsonb_build_object('day', %(day)s::text, 'bench', %(tag)s::text), now(), NULL, '{}', '',
       b.enrolment_id
FROM generate_series(0, %(count)s::integer - 1) AS i
JOIN bench_map b ON b.g = %(lo)s + mod(i, %(span)s),
LATERAL (SELECT now() - make_interval(secs => mod(i * 7919, 1800000) / 1000.0 + 1) AS at) AS x
"""


def run_sql(script: str, params: dict[str, Any]) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for statement in script.split(";\n"):
            if statement.strip():
                used = {k: v for k, v in params.items() if f"%({k})s" in statement}
                cursor.execute(statement, used)


def scalar(sql: str, params: list[Any] | dict[str, Any] | None = None) -> Any:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        row = cursor.fetchone()
    return row[0] if row else None


def vacuum(*tables: str) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE " + ", ".join(tables) if tables else "VACUUM ANALYZE")


def task_table() -> str:
    from django_tasks_db.models import DBTaskResult

    return str(DBTaskResult._meta.db_table)


@dataclass
class Meta:
    version: int
    programme: int
    unit: int
    therapist: int
    rule: str
    days: int
    later_rules: list[str]
    fallback: bool
    rule_source: str
    quit_date: date = field(default_factory=date.today)


def set_up_programme(later: int) -> Meta:
    """Import the tobacco programme and choose the rule the due firings are for."""
    from steg.accounts.models import Organisation, Unit
    from steg.automation import engine
    from steg.automation.spec import Action, Automations, Rule, Trigger, from_json, to_json
    from steg.programmes.actions import import_programme
    from steg.testing.personas import make_staff

    region = Organisation.objects.create(name="Region Bench")
    unit = Unit.objects.create(organisation=region, name="Tobaksavvänjning Bench")
    therapist = make_staff("therapist0@bench.example", "Terapeut Nummer0", unit, "therapist")
    version = import_programme(BASE_DIR / "programmes" / "tobacco-cessation").version
    automations = from_json(version.automations)

    def fits(rule: Rule) -> bool:
        return (
            rule.trigger.kind == "after"
            and rule.trigger.anchor == "quit_date"
            and rule.trigger.days >= 0
            and all(c.kind == "quit_date" and c.is_set for c in rule.conditions)
            and bool(rule.actions)
            and all(a.kind == "message" for a in rule.actions)
        )

    chosen = next((r for r in automations.rules if fits(r) and r.trigger.days > 0), None)
    chosen = chosen or next((r for r in automations.rules if fits(r)), None)
    fallback = chosen is None
    if chosen is None:
        chosen = Rule(
            key=FALLBACK_RULE,
            trigger=Trigger(kind="after", anchor="quit_date", days=3),
            actions=(Action(kind="message", key=FALLBACK_RULE),),
        )
        automations = Automations(
            rules=(*automations.rules, chosen),
            messages={
                **automations.messages,
                FALLBACK_RULE: {
                    "sv": "Hej {first_name}! Nu har det gått tre dagar sedan ditt slutdatum.",
                    "en": "Hi {first_name}! It is three days since your quit date.",
                },
            },
        )
        version.automations = to_json(automations)
        version.save(update_fields=["automations"])
        engine.clear_rules_cache()
    source = (
        f"`{chosen.key}` from programmes/tobacco-cessation/automations.yaml"
        if not fallback
        else f"`{FALLBACK_RULE}`, added by the benchmark (the imported version has no "
        "`after` rule that only sends a message)"
    )
    others = [r.key for r in automations.rules if r.key != chosen.key] or [chosen.key]
    today = datetime.now(ZONE).date()
    return Meta(
        version=version.pk,
        programme=version.programme_id,
        unit=unit.pk,
        therapist=therapist.pk,
        rule=chosen.key,
        days=chosen.trigger.days,
        later_rules=[others[k % len(others)] for k in range(later)],
        fallback=fallback,
        rule_source=source,
        quit_date=today - timedelta(days=chosen.trigger.days),
    )


def seed(meta: Meta, lo: int, hi: int, later: int) -> float:
    started = time.monotonic()
    run_sql(
        SEED_SQL,
        {
            "lo": lo,
            "hi": hi,
            "later": later,
            "later_rules": meta.later_rules,
            "programme": meta.programme,
            "therapist": meta.therapist,
            "unit": meta.unit,
            "version": meta.version,
            "quit_date": meta.quit_date,
        },
    )
    return time.monotonic() - started


def add_due(meta: Meta, tag: str, *, lo: int, span: int, count: int, real: bool) -> int:
    day = meta.quit_date + timedelta(days=meta.days)
    run_sql(
        DUE_SQL,
        {
            "rule": meta.rule,
            "real": real,
            "occasion": f"quit_date:{day.isoformat()}",
            "day": day.isoformat(),
            "tag": tag,
            "count": count,
            "lo": lo,
            "span": span,
        },
    )
    return int(scalar("SELECT count(*) FROM automation_firing WHERE context->>'bench' = %s", [tag]))


def put_back_due() -> None:
    """Undo a tick: the due firings due again, no tasks queued."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE automation_firing SET next_attempt_at = scheduled_for "
            "WHERE status = 'pending' AND scheduled_for <= now()"
        )
        cursor.execute(f'DELETE FROM "{task_table()}"')  # noqa: S608 - the model's table


def counts() -> dict[str, int]:
    return {
        "enrolments": int(scalar("SELECT count(*) FROM care_enrolment WHERE status = 'active'")),
        "pending_later": int(
            scalar(
                "SELECT count(*) FROM automation_firing "
                "WHERE status = 'pending' AND next_attempt_at > now()"
            )
        ),
        "firings": int(scalar("SELECT count(*) FROM automation_firing")),
    }


# --- the tick --------------------------------------------------------------------------------


@dataclass
class TickRun:
    label: str
    enrolments: int
    pending_later: int
    due: int
    seconds: list[float] = field(default_factory=list)
    handed: list[int] = field(default_factory=list)
    statements: int = 0
    tasks: int = 0
    plan: list[str] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def time_tick(run: TickRun, rounds: int, *, put_back: bool, explain: bool) -> TickRun:
    """Time `rounds` ticks; between rounds (and after the last unless `put_back` is False) the
    firings are made due again and the queue emptied. VACUUM ANALYZE before each round; an
    untimed tick before the first (whose SELECT is explained with `explain`)."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext
    from django_tasks_db.models import DBTaskResult

    from steg.automation import engine

    # An untimed tick first: modules imported, the SQL seen (and explained).
    vacuum("automation_firing", task_table())
    with CaptureQueriesContext(connection) as captured:
        engine.tick()
    put_back_due()
    select = next(
        (
            q["sql"]
            for q in captured.captured_queries
            if 'FROM "automation_firing"' in q["sql"] and "FOR UPDATE" in q["sql"]
        ),
        None,
    )
    if explain and select:
        vacuum("automation_firing", task_table())
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + select)
            run.plan = [row[0] for row in cursor.fetchall()]
            transaction.set_rollback(True)
    for number in range(rounds):
        vacuum("automation_firing", task_table())
        # The connection open and the statistics VACUUM ANALYZE just renewed read (by planning
        # the tick's SELECT, not running it), as in a scheduler that ticks every minute.
        scalar("SELECT 1")
        if select:
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN " + select)
                cursor.fetchall()
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            handed = engine.tick()
            elapsed = time.perf_counter() - started
        run.seconds.append(elapsed)
        run.handed.append(handed)
        run.statements = len(captured.captured_queries)
        run.tasks = DBTaskResult.objects.count()
        log(
            f"tick ({run.label}), round {number + 1}: {handed:,} handed in "
            f"{elapsed * 1000:.0f} ms, {run.statements} SQL statements, {run.tasks} tasks queued"
        )
        if put_back or number < rounds - 1:
            put_back_due()
    return run


# --- the workers -----------------------------------------------------------------------------


def worker_command() -> list[str]:
    return [sys.executable, "manage.py", "db_worker", "--batch", "--no-startup-delay"]


def start_worker(env: dict[str, str], logfile: Path) -> subprocess.Popen[bytes]:
    out = logfile.open("ab")
    # A session of its own, so that stopping it stops nothing else.
    return subprocess.Popen(
        worker_command(),
        cwd=BASE_DIR,
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


@dataclass
class Drain:
    workers: int
    firings: int
    wall_s: float = 0.0  # from starting the workers to the last one exiting
    workers_cpu_s: float = 0.0
    machine_busy: float = 0.0
    to_last_message_s: float = 0.0  # from starting the workers to the last message
    spread_s: float = 0.0  # from the first message to the last
    check: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.check.get("messages", 0) / max(self.to_last_message_s, 1e-9)

    @property
    def steady_rate(self) -> float:
        return max(self.check.get("messages", 0) - 1, 0) / max(self.spread_s, 1e-9)


@dataclass
class Ran:
    wall_s: float
    started_at: datetime
    workers_cpu_s: float  # user + system time of the worker processes
    machine_busy: float  # share of all the machine's CPU time that was busy meanwhile


def drain(
    env: dict[str, str], workers: int, tag: str, tmp: Path, running: list[subprocess.Popen[bytes]]
) -> Ran:
    """Start `workers` batch workers and wait for all of them."""
    started_at = datetime.now(UTC)
    started = time.monotonic()
    machine0, busy0 = pp._machine_jiffies()
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    procs = [start_worker(env, tmp / f"worker-{tag}-{i}.log") for i in range(workers)]
    running.extend(procs)
    for proc in procs:
        proc.wait()
        running.remove(proc)
        if proc.returncode:
            log(f"a worker exited with status {proc.returncode} (see {tmp})")
    wall = time.monotonic() - started
    machine1, busy1 = pp._machine_jiffies()
    children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (children1.ru_utime + children1.ru_stime) - (children0.ru_utime + children0.ru_stime)
    return Ran(wall, started_at, cpu, (busy1 - busy0) / max(machine1 - machine0, 1))


def check_set(tag: str) -> dict[str, Any]:
    """What happened to the firings of one set, in SQL."""
    sql = {
        "firings": "SELECT count(*) FROM automation_firing WHERE context->>'bench' = %(t)s",
        "done": "SELECT count(*) FROM automation_firing WHERE context->>'bench' = %(t)s "
        "AND status = 'done'",
        "pending": "SELECT count(*) FROM automation_firing WHERE context->>'bench' = %(t)s "
        "AND status = 'pending'",
        "other": "SELECT count(*) FROM automation_firing WHERE context->>'bench' = %(t)s "
        "AND status NOT IN ('done', 'pending')",
        "with_error": "SELECT count(*) FROM automation_firing WHERE context->>'bench' = %(t)s "
        "AND (last_error <> '' OR attempts <> 1)",
        # Automatic messages carrying the token of one of the set's firings.
        "messages": "SELECT count(*) FROM dialog_message m JOIN automation_firing f "
        "ON m.enrolment_id = f.enrolment_id AND m.client_token = 'rule:' || f.id "
        "WHERE f.context->>'bench' = %(t)s AND m.sender_role = 'system'",
        "firings_with_one_message": "SELECT count(*) FROM automation_firing f "
        "WHERE f.context->>'bench' = %(t)s AND (SELECT count(*) FROM dialog_message m "
        "WHERE m.enrolment_id = f.enrolment_id AND m.client_token = 'rule:' || f.id "
        "AND m.sender_role = 'system') = 1",
        "audit_fired": "SELECT count(*) FROM audit_auditevent a JOIN automation_firing f "
        "ON a.object_id = f.id::text WHERE a.object_type = 'automation.firing' "
        "AND a.action = 'automation.rule.fired' AND f.context->>'bench' = %(t)s",
        "audit_distinct": "SELECT count(DISTINCT a.object_id) FROM audit_auditevent a "
        "JOIN automation_firing f ON a.object_id = f.id::text "
        "WHERE a.object_type = 'automation.firing' AND a.action = 'automation.rule.fired' "
        "AND f.context->>'bench' = %(t)s",
        "emails_sent": "SELECT count(*) FROM dialog_notification n JOIN care_enrolment e "
        "ON n.patient_id = e.patient_id JOIN automation_firing f ON f.enrolment_id = e.id "
        "WHERE f.context->>'bench' = %(t)s AND n.kind = 'new_message' AND n.status = 'sent'",
        "emails_queued": "SELECT count(*) FROM dialog_notification n JOIN care_enrolment e "
        "ON n.patient_id = e.patient_id JOIN automation_firing f ON f.enrolment_id = e.id "
        "WHERE f.context->>'bench' = %(t)s AND n.kind = 'new_message' AND n.status <> 'sent'",
    }
    result: dict[str, Any] = {k: int(scalar(q, {"t": tag})) for k, q in sql.items()}
    result["first_message"], result["last_message"] = _row(
        "SELECT min(m.created_at), max(m.created_at) FROM dialog_message m "
        "JOIN automation_firing f ON m.enrolment_id = f.enrolment_id "
        "AND m.client_token = 'rule:' || f.id WHERE f.context->>'bench' = %(t)s",
        {"t": tag},
    ) or (None, None)
    return result


def _row(sql: str, params: dict[str, Any]) -> tuple[Any, ...] | None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return tuple(row) if row else None


def global_duplicates() -> dict[str, int]:
    return {
        "system_messages": int(
            scalar("SELECT count(*) FROM dialog_message WHERE sender_role = 'system'")
        ),
        "duplicate_tokens": int(
            scalar(
                "SELECT count(*) FROM (SELECT enrolment_id, client_token FROM dialog_message "
                "WHERE sender_role = 'system' GROUP BY 1, 2 HAVING count(*) > 1) AS d"
            )
        ),
        "duplicate_firings": int(
            scalar(
                "SELECT count(*) FROM (SELECT enrolment_id, rule, occasion FROM "
                "automation_firing GROUP BY 1, 2, 3 HAVING count(*) > 1) AS d"
            )
        ),
        "done_firings": int(scalar("SELECT count(*) FROM automation_firing WHERE status='done'")),
    }


def exactly_once_problems(name: str, check: dict[str, Any], expected: int) -> list[str]:
    problems = []
    for key, want in (
        ("firings", expected),
        ("done", expected),
        ("pending", 0),
        ("other", 0),
        ("messages", expected),
        ("firings_with_one_message", expected),
        ("audit_fired", expected),
        ("audit_distinct", expected),
    ):
        if check[key] != want:
            problems.append(f"{name}: {key} = {check[key]:,}, expected {want:,}")
    return problems


def run_drain(
    env: dict[str, str],
    workers: int,
    tag: str,
    expected: int,
    tmp: Path,
    running: list[subprocess.Popen[bytes]],
) -> Drain:
    log(f"draining {expected:,} firings with {workers} worker(s): {' '.join(worker_command()[1:])}")
    result = Drain(workers=workers, firings=expected)
    ran = drain(env, workers, tag, tmp, running)
    result.wall_s, started_at = ran.wall_s, ran.started_at
    result.workers_cpu_s, result.machine_busy = ran.workers_cpu_s, ran.machine_busy
    result.check = check_set(tag)
    first, last = result.check["first_message"], result.check["last_message"]
    if first and last:
        result.to_last_message_s = (last - started_at).total_seconds()
        result.spread_s = (last - first).total_seconds()
    log(
        f"{workers} worker(s): {result.check['messages']:,} messages in "
        f"{result.to_last_message_s:.1f} s ({result.rate:.0f}/s; {result.steady_rate:.0f}/s from "
        f"the first to the last); queue empty after {result.wall_s:.1f} s, "
        f"{result.check['emails_sent']:,} e-mails sent; the workers used "
        f"{result.workers_cpu_s:.0f} CPU s, the machine's CPUs were {result.machine_busy:.0%} busy"
    )
    return result


def one_firing(meta: Meta, g: int) -> dict[str, Any]:
    """The SQL statements of firing one due firing in-process (with what runs on commit), after
    an untimed one (the modules and templates loaded) on the enrolment before it."""
    from collections import Counter

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from steg.automation import engine

    add_due(meta, "S", lo=g, span=2, count=2, real=True)
    first, firing = (
        int(pk)
        for pk in scalar(
            "SELECT array_agg(id ORDER BY id) FROM automation_firing WHERE context->>'bench' = 'S'"
        )
    )
    engine.fire(first)
    with CaptureQueriesContext(connection) as captured:
        started = time.perf_counter()
        outcome = engine.fire(firing)
        elapsed = time.perf_counter() - started
    kinds = Counter(q["sql"].split(None, 1)[0].upper() for q in captured.captured_queries)
    return {
        "outcome": outcome,
        "statements": len(captured.captured_queries),
        "kinds": dict(kinds.most_common()),
        "seconds": elapsed,
    }


# --- the fault test --------------------------------------------------------------------------


@dataclass
class Fault:
    firings: int
    lease: int
    handed_first: int = 0
    done_at_kill: int = 0
    killed_mid_batch: bool = False
    killed: bool = False
    running_tasks_left: int = 0
    pending_after_restart: int = 0
    handed_again: list[int] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)
    check: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


def fault_test(
    meta: Meta,
    env: dict[str, str],
    tag: str,
    lo: int,
    count: int,
    lease: int,
    tmp: Path,
    running: list[subprocess.Popen[bytes]],
) -> Fault:
    from django.conf import settings
    from django_tasks_db.models import DBTaskResult

    from steg.automation import engine

    result = Fault(firings=count, lease=lease)
    began = time.monotonic()
    test_started = datetime.now(UTC)
    add_due(meta, tag, lo=lo, span=count, count=count, real=True)
    vacuum("automation_firing", task_table())
    DBTaskResult.objects.all().delete()
    previous = settings.STEG_AUTOMATION_LEASE_SECONDS
    settings.STEG_AUTOMATION_LEASE_SECONDS = lease
    fault_env = {**env, "STEG_AUTOMATION_LEASE_SECONDS": str(lease)}
    try:
        result.handed_first = engine.tick()
        ticked = time.monotonic()
        log(f"fault test: {result.handed_first:,} firings handed out, lease {lease} s")
        proc = start_worker(fault_env, tmp / "worker-fault-killed.log")
        running.append(proc)
        batch = engine.BATCH
        while proc.poll() is None:
            done = int(
                scalar(
                    "SELECT count(*) FROM automation_firing WHERE context->>'bench' = %s "
                    "AND status = 'done'",
                    [tag],
                )
            )
            mid = batch // 5 <= done % batch <= batch - batch // 5
            if (done >= count // 4 and mid) or done >= (count * 3) // 5:
                proc.kill()  # SIGKILL: no clean-up of any kind
                proc.wait()
                result.killed = True
                result.killed_mid_batch = mid
                break
            time.sleep(0.01)
        running.remove(proc)
        result.done_at_kill = int(
            scalar(
                "SELECT count(*) FROM automation_firing WHERE context->>'bench' = %s "
                "AND status = 'done'",
                [tag],
            )
        )
        result.running_tasks_left = DBTaskResult.objects.running().count()
        log(
            f"fault test: worker killed={result.killed} with {result.done_at_kill:,} of "
            f"{count:,} done; {result.running_tasks_left} task(s) left 'running'"
        )
        # The scheduler's next tick after the lease hands out again what is still pending:
        # the rest of the killed batch, and those still waiting in the queue.
        time.sleep(max(0.0, ticked + lease + 1 - time.monotonic()))
        result.handed_again.append(engine.tick())
        log(f"fault test: the tick after the lease handed out {result.handed_again[-1]:,}")
        drain(fault_env, 2, "fault-restart", tmp, running)
        result.pending_after_restart = int(
            scalar(
                "SELECT count(*) FROM automation_firing WHERE context->>'bench' = %s "
                "AND status = 'pending'",
                [tag],
            )
        )
        # Anything still pending now is picked up by later ticks (at most three more).
        for _ in range(3):
            pending = int(
                scalar(
                    "SELECT count(*) FROM automation_firing WHERE context->>'bench' = %s "
                    "AND status = 'pending'",
                    [tag],
                )
            )
            if not pending:
                break
            time.sleep(lease + 1)
            result.handed_again.append(engine.tick())
            drain(fault_env, 1, "fault-extra", tmp, running)
    finally:
        settings.STEG_AUTOMATION_LEASE_SECONDS = previous
    for value in (
        DBTaskResult.objects.successful()
        .filter(enqueued_at__gte=test_started, task_path__endswith="fire_firings")
        .values_list("return_value", flat=True)
    ):
        for outcome, number in (value or {}).items():
            result.outcomes[outcome] = result.outcomes.get(outcome, 0) + int(number)
    result.check = check_set(tag)
    result.seconds = time.monotonic() - began
    return result


# --- the run ---------------------------------------------------------------------------------


@contextmanager
def database(server_url: str, name: str, *, keep: bool) -> Iterator[str]:
    import psycopg

    parts = urllib.parse.urlsplit(server_url)
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    log(f"created PostgreSQL database {name}")
    try:
        yield parts._replace(path=f"/{name}").geturl()
    finally:
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: S110 - Django may not be set up yet
            pass
        if keep:
            log(f"kept PostgreSQL database {name}")
        else:
            with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            log(f"dropped PostgreSQL database {name}")


def set_up_django(env: dict[str, str]) -> None:
    for key in list(os.environ):
        if key not in env:
            del os.environ[key]
    os.environ.update(env)
    import django

    django.setup()


def server_facts() -> dict[str, str]:
    facts = {}
    for name in ("server_version", "shared_buffers", "synchronous_commit", "fsync"):
        facts[name] = str(scalar(f"SHOW {name}"))
    return facts


def measure(args: argparse.Namespace, env: dict[str, str], tmp: Path) -> int:
    from steg.automation import engine
    from steg.dashboard.attention import rebuild_all

    running: list[subprocess.Popen[bytes]] = []
    ctx: dict[str, Any] = {"args": args, "failed": [], "ticks": [], "drains": []}
    try:
        meta = set_up_programme(args.later)
        ctx["meta"] = meta
        log(f"the due firings are for rule {meta.rule} ({meta.rule_source})")

        # 1. The small database.
        ctx["seed_small_s"] = seed(meta, 1, args.small, args.later)
        vacuum()
        log(f"seeded {args.small:,} enrolments in {ctx['seed_small_s']:.1f} s")
        small = counts()
        ctx["busy"] = pp.wait_for_idle(args.wait_idle)
        ctx["loadavg_before"] = pp.load_average()
        idle_small = time_tick(
            TickRun("nothing due", small["enrolments"], small["pending_later"], 0),
            args.rounds,
            put_back=True,
            explain=False,
        )
        add_due(meta, "small", lo=1, span=args.small, count=args.due, real=False)
        due_small = time_tick(
            TickRun("due", small["enrolments"], small["pending_later"], args.due),
            args.rounds,
            put_back=True,
            explain=True,
        )
        run_sql("DELETE FROM automation_firing WHERE context->>'bench' = 'small'", {})

        # 2. Grown to the full size.
        ctx["seed_large_s"] = seed(meta, args.small + 1, args.enrolments, args.later)
        log(f"seeded up to {args.enrolments:,} enrolments in {ctx['seed_large_s']:.1f} s")
        started = time.monotonic()
        ctx["attention_rows"] = rebuild_all()
        ctx["rebuild_s"] = time.monotonic() - started
        vacuum()
        large = counts()
        ctx["counts"] = large
        idle_large = time_tick(
            TickRun("nothing due", large["enrolments"], large["pending_later"], 0),
            args.rounds,
            put_back=True,
            explain=True,
        )
        add_due(meta, "A", lo=1, span=args.due, count=args.due, real=True)
        due_large = time_tick(
            TickRun("due", large["enrolments"], large["pending_later"], args.due),
            args.rounds,
            put_back=False,
            explain=True,
        )
        ctx["ticks"] = [idle_small, due_small, idle_large, due_large]

        # 3. Draining: one worker, then two.
        one = run_drain(env, 1, "A", args.due, tmp, running)
        ctx["drains"].append(one)
        ctx["failed"] += exactly_once_problems("1 worker", one.check, args.due)
        if args.parallel:
            add_due(meta, "B", lo=args.due + 1, span=args.due, count=args.due, real=True)
            after = counts()
            again = time_tick(
                TickRun(
                    f"due, {args.due:,} fired before",
                    after["enrolments"],
                    after["pending_later"],
                    args.due,
                ),
                1,
                put_back=False,
                explain=False,
            )
            ctx["ticks"].append(again)
            two = run_drain(env, 2, "B", args.due, tmp, running)
            ctx["drains"].append(two)
            ctx["failed"] += exactly_once_problems("2 workers", two.check, args.due)

        ctx["one"] = one_firing(meta, (2 if args.parallel else 1) * args.due + args.fault + 1)
        if ctx["one"]["outcome"] != "done":
            ctx["failed"].append(f"one firing in-process: {ctx['one']['outcome']}")

        # 4. The fault test.
        lo = (2 if args.parallel else 1) * args.due + 1
        fault = fault_test(meta, env, "C", lo, args.fault, args.lease, tmp, running)
        ctx["fault"] = fault
        ctx["failed"] += exactly_once_problems("fault test", fault.check, args.fault)
        if not fault.killed:
            ctx["failed"].append("fault test: the worker finished before it could be killed")
        elif not (fault.running_tasks_left and fault.done_at_kill < args.fault):
            ctx["failed"].append(
                "fault test: the worker was not killed in the middle of a batch "
                f"({fault.done_at_kill:,} done, {fault.running_tasks_left} task running)"
            )
        ctx["global"] = global_duplicates()
        if ctx["global"]["duplicate_tokens"] or ctx["global"]["duplicate_firings"]:
            ctx["failed"].append(f"duplicates in the database: {ctx['global']}")
        ctx["loadavg_after"] = pp.load_average()

        # 5. Budgets.
        if due_large.median >= args.max_tick:
            ctx["failed"].append(
                f"tick with {args.due:,} due at {large['enrolments']:,} enrolments: "
                f"{due_large.median:.2f} s, budget < {args.max_tick} s"
            )
        ctx["ratio"] = due_large.median / due_small.median
        if ctx["ratio"] > args.max_ratio:
            ctx["failed"].append(
                f"tick at {large['enrolments']:,} enrolments is {ctx['ratio']:.2f} times the "
                f"tick at {small['enrolments']:,} (budget {args.max_ratio})"
            )
        ctx["server"] = server_facts()
        ctx["batch"] = engine.BATCH
        ctx["date"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    finally:
        for proc in running:
            pp.stop_process_group(proc)

    print(table(ctx))
    for line in verdict_lines(ctx):
        print(line)
    if not args.no_write:
        replace_section(Path(args.output), render(ctx), START, END)
        log(f"wrote its section of {args.output}")
    return 1 if ctx["failed"] else 0


# --- the report ------------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.1f} ms"


def table(ctx: dict[str, Any]) -> str:
    args = ctx["args"]
    due_large = ctx["ticks"][3]
    lines = [
        "| tick | active enrolments | pending firings not due | due | median | rounds "
        "| SQL statements | tasks queued | budget | result |",
        "|---|---:|---:|---:|---:|---|---:|---:|---|---|",
    ]
    for run in ctx["ticks"]:
        budget, verdict = "", ""
        if run is due_large:
            budget = f"< {args.max_tick} s"
            verdict = "PASS" if run.median < args.max_tick else "**FAIL**"
        lines.append(
            f"| {run.label} | {run.enrolments:,} | {run.pending_later:,} | {run.due:,} "
            f"| {_ms(run.median)} | {', '.join(_ms(s) for s in run.seconds)} "
            f"| {run.statements} | {run.tasks} | {budget} | {verdict} |"
        )
    small, large = ctx["ticks"][1], ctx["ticks"][3]
    lines.append(
        f"| ratio {large.enrolments:,} ÷ {small.enrolments:,} (due) | | | | "
        f"**{ctx['ratio']:.2f}** | | | | ≤ {args.max_ratio} | "
        f"{'PASS' if ctx['ratio'] <= args.max_ratio else '**FAIL**'} |"
    )
    lines += [
        "",
        "| workers | firings | done | automatic messages | to the last message | messages/s "
        "| first → last message | queue empty (with the e-mails) | e-mails sent "
        "| workers' CPU time | machine's CPUs busy | exactly once |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for d in ctx["drains"]:
        ok = not exactly_once_problems("", d.check, d.firings)
        lines.append(
            f"| {d.workers} | {d.firings:,} | {d.check['done']:,} | {d.check['messages']:,} "
            f"| {d.to_last_message_s:.1f} s | **{d.rate:.0f}** | {d.steady_rate:.0f}/s "
            f"| {d.wall_s:.1f} s | {d.check['emails_sent']:,} | {d.workers_cpu_s:.0f} s "
            f"| {d.machine_busy:.0%} | {'PASS' if ok else '**FAIL**'} |"
        )
    return "\n".join(lines)


def verdict_lines(ctx: dict[str, Any]) -> list[str]:
    args = ctx["args"]
    large, small = ctx["ticks"][3], ctx["ticks"][1]
    fault: Fault = ctx["fault"]
    fault_ok = not any(p.startswith("fault test") for p in ctx["failed"])
    lines = [
        f"{'PASS' if large.median < args.max_tick else 'FAIL'}: tick with {large.due:,} due at "
        f"{large.enrolments:,} enrolments {large.median:.3f} s (budget < {args.max_tick} s)",
        f"{'PASS' if ctx['ratio'] <= args.max_ratio else 'FAIL'}: tick at {large.enrolments:,} / "
        f"tick at {small.enrolments:,} = {ctx['ratio']:.2f} (budget ≤ {args.max_ratio})",
    ]
    for d in ctx["drains"]:
        ok = not exactly_once_problems("", d.check, d.firings)
        lines.append(
            f"{'PASS' if ok else 'FAIL'}: {d.workers} worker(s) drained {d.firings:,} firings "
            f"into {d.check['messages']:,} automatic messages, {d.rate:.0f} messages/s"
        )
    lines.append(
        f"{'PASS' if fault_ok else 'FAIL'}: fault test, {fault.firings:,} firings, worker killed "
        f"with {fault.done_at_kill:,} done; {fault.check.get('done', 0):,} done, "
        f"{fault.check.get('messages', 0):,} messages, "
        f"{fault.check.get('pending', 0):,} pending"
    )
    lines += [f"FAILED: {problem}" for problem in ctx["failed"]]
    return lines


def _plan_lines(plan: list[str]) -> str:
    return "\n".join(plan)


def render(ctx: dict[str, Any]) -> str:
    import django

    args = ctx["args"]
    meta: Meta = ctx["meta"]
    fault: Fault = ctx["fault"]
    small, large = ctx["ticks"][1], ctx["ticks"][3]
    python = Path(sys.executable)
    if python.is_relative_to(BASE_DIR):
        python = python.relative_to(BASE_DIR)
    command = f"{python} benchmarks/automation.py"
    if sys.argv[1:]:
        command += " " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    server = ctx["server"]
    host = args.database_url.rsplit("@", 1)[-1].split("/")[0]
    verdict = (
        "Every budget is met and every due action happened exactly once."
        if not ctx["failed"]
        else "Not within the budget in this run:\n\n" + "\n".join(f"- {f}" for f in ctx["failed"])
    )
    outcomes = ", ".join(f"{k} {v:,}" for k, v in sorted(fault.outcomes.items())) or "none"
    g = ctx["global"]
    one = ctx["one"]
    one_kinds = ", ".join(f"{n} {kind}" for kind, n in one["kinds"].items())
    per_small = small.due // max(small.enrolments, 1)
    where_killed = "in the middle of a batch" if fault.killed_mid_batch else "between batches"
    handed_again = fault.handed_again[0] if fault.handed_again else 0
    more_ticks = (
        f", and {len(fault.handed_again) - 1} more tick(s) were needed"
        if len(fault.handed_again) > 1
        else ""
    )
    return f"""{START}
## Automation: the scheduler's tick at 100,000 enrolments, the workers, a killed worker

Issue #8: with 100,000 active enrolments a scheduler tick must select and enqueue the due
occasions in under 2 seconds, and its time must not grow with enrolments that have nothing due
(here: within 1.5 times the same tick at 1,000 enrolments); a worker drains 10,000 automatic
messages and the rate is reported; a worker killed in the middle of a batch and restarted
leaves every due action done exactly once. How the engine does it (a pending `Firing` per
occasion, the partial index `firing_due`, a lease on what a tick hands out, a conditional
UPDATE that claims each firing) is described in [automation.md](automation.md). The numbers
below were produced by `benchmarks/automation.py`; run it again with `make bench-automation`
(it is not part of `make test`).

```
{command}
```

- **Machine**: {os.cpu_count()} CPUs ({pp.cpu_model()}), {platform.platform(terse=True)};
  Python {platform.python_version()}, Django {django.get_version()}, PostgreSQL
  {server["server_version"]} on loopback ({host}; shared_buffers {server["shared_buffers"]},
  synchronous_commit {server["synchronous_commit"]}, fsync {server["fsync"]}); the workers,
  PostgreSQL and this script share the CPUs. CPUs busy with other work just before the
  measuring: {ctx["busy"]}; load average before and after: {ctx["loadavg_before"]} /
  {ctx["loadavg_after"]}.
- **Data**: one database (`{DATABASE}`), one unit, one therapist; every enrolment active,
  its patient with an account and an e-mail address (e-mail through Django's `locmem`
  backend: nothing leaves the machine), quit date {meta.days} days ago, and {args.later}
  pending firings days to weeks ahead (not due). First {args.small:,} enrolments, then grown
  to {large.enrolments:,} ({ctx["counts"]["firings"]:,} firings); seeded with set-based SQL in
  {ctx["seed_small_s"]:.1f} s and {ctx["seed_large_s"]:.1f} s, `rebuild_attention`
  ({ctx["attention_rows"]:,} rows) in {ctx["rebuild_s"]:.1f} s, then `VACUUM ANALYZE`. The
  due firings are for the rule {meta.rule_source}: `after` the quit date, actions
  `message` only, so each fired firing is one automatic message, one notification e-mail and
  one audit event.
- **Tick**: `engine.tick()` called in-process with `STEG_ENV=production` settings and the
  database task backend (`django_tasks_db`), so the time includes selecting the due firings
  (`SELECT … FOR UPDATE SKIP LOCKED`, 1,000 at a time), moving them on by the lease and
  inserting one task row per batch of {ctx["batch"]}. {args.rounds} rounds per line after an
  untimed one; before each, `VACUUM ANALYZE` of the firings and the task table (and the
  SELECT planned once, so that reading the new statistics is not timed), and after it
  the firings are made due again and the queue emptied (the last tick at
  {large.enrolments:,} is left queued for the worker). The {small.due:,} due at
  {small.enrolments:,} enrolments are {per_small:,} per enrolment (made-up occasions, removed
  before the database grows); at {large.enrolments:,}, one each on {large.due:,} enrolments.
- **Workers**: `{" ".join(worker_command()[1:])}` in subprocesses (the same
  settings), one worker, then two at once on another {args.due:,} due firings; "to the last
  message" is counted from starting the worker(s) (Python and Django start-up included);
  "queue empty" includes the {args.due:,} notification e-mails, which queue behind the
  firings. Checked in SQL afterwards: every firing done, one automatic message with its
  `client_token` ("rule:<firing id>") and one `automation.rule.fired` audit event per firing.
  The workers' CPU time against the machine's busy share shows where the time went: what the
  workers did not use went to PostgreSQL and to other work on the machine. One firing fired
  in-process (with what runs after its commit: the dashboard row, the e-mail's task) ran
  {one["statements"]} SQL statements ({one_kinds}) in {one["seconds"] * 1000:.0f} ms.

Run on {ctx["date"]}.

{table(ctx)}

**Fault test** ({fault.firings:,} due firings, `STEG_AUTOMATION_LEASE_SECONDS={fault.lease}`
for the tick and the workers): the tick handed out {fault.handed_first:,}; one worker was
killed with SIGKILL when {fault.done_at_kill:,} were done ({where_killed}), leaving
{fault.running_tasks_left} task "running" that no worker will take again. After the lease the
tick handed out again {handed_again:,} (the rest of the killed batch and those still queued,
which are then queued twice); two workers were started and drained the
queue{more_ticks}. Outcomes reported by the fire tasks: {outcomes}. Afterwards:
{fault.check["done"]:,} done, {fault.check["pending"]:,} pending, {fault.check["other"]:,}
skipped or failed; {fault.check["messages"]:,} automatic messages for them
({fault.check["firings_with_one_message"]:,} firings with exactly one) and
{fault.check["audit_fired"]:,} audit events; {fault.check["emails_sent"]:,} e-mails sent and
{fault.check["emails_queued"]:,} still queued (a notification whose delivery task was cut off
waits for `send_notifications`). The test took {fault.seconds:.0f} s.
In the whole database: {g["system_messages"]:,} automatic messages for
{g["done_firings"]:,} done firings, {g["duplicate_tokens"]} `client_token` twice,
{g["duplicate_firings"]} occasion twice.

{verdict}

Plans of the tick's `SELECT` at {large.enrolments:,} enrolments (`EXPLAIN (ANALYZE, BUFFERS)`),
with {large.due:,} due (the first batch of 1,000):

```
{_plan_lines(large.plan)}
```

and with nothing due:

```
{_plan_lines(ctx["ticks"][2].plan)}
```
{END}
"""  # noqa: S608 - a report, not SQL


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL") or DEFAULT_SERVER,
        help="PostgreSQL server to create the database on (default: DATABASE_URL or "
        f"{DEFAULT_SERVER})",
    )
    parser.add_argument("--enrolments", type=int, default=100_000, help="default 100000")
    parser.add_argument(
        "--small", type=int, default=1000, help="enrolments to compare with (default 1000)"
    )
    parser.add_argument(
        "--due", type=int, default=10_000, help="due firings per tick and drain (default 10000)"
    )
    parser.add_argument(
        "--later", type=int, default=3, help="pending firings not due per enrolment (default 3)"
    )
    parser.add_argument("--fault", type=int, default=2000, help="firings in the fault test")
    parser.add_argument("--lease", type=int, default=5, help="lease in the fault test (s)")
    parser.add_argument("--rounds", type=int, default=5, help="ticks timed per line")
    parser.add_argument(
        "--no-parallel",
        dest="parallel",
        action="store_false",
        help="skip the drain with two workers",
    )
    parser.add_argument("--max-tick", type=float, default=2.0, help="budget of the tick (s)")
    parser.add_argument("--max-ratio", type=float, default=1.5)
    parser.add_argument("--wait-idle", type=float, default=60, help="seconds to wait for idle")
    parser.add_argument("--time-limit", type=int, default=3600)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--no-write", action="store_true", help="do not write the report")
    parser.add_argument("--output", default=str(BASE_DIR / "docs" / "performance.md"))
    args = parser.parse_args(argv)
    needed = (2 if args.parallel else 1) * args.due + args.fault + 2
    if args.enrolments < needed:
        parser.error(
            f"--enrolments must be at least {needed:,} (the due firings of each drain and of "
            "the fault test are on enrolments of their own)"
        )
    if not 0 < args.small < args.enrolments:
        parser.error("--small must be between 0 and --enrolments")
    if args.rounds < 1 or args.due < 1 or args.fault < 1:
        parser.error("--rounds, --due and --fault must be positive")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    limit = args.time_limit

    def on_alarm(signum: int, frame: types.FrameType | None) -> None:
        raise pp.Timeout(f"the benchmark took longer than {limit} s")

    def on_term(signum: int, frame: types.FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, on_term)
    signal.alarm(limit)
    tmp = Path(tempfile.mkdtemp(prefix="steg-bench-automation-"))
    try:
        with database(args.database_url, DATABASE, keep=args.keep) as url:
            env = pp.bench_environment(tmp, url, None)
            pp.run_manage(env, "migrate", "--noinput", timeout=600)
            set_up_django(env)
            return measure(args, env, tmp)
    except Exception:
        logs = sorted(tmp.glob("worker-*.log"))
        for logfile in logs[-2:]:
            tail = logfile.read_text(errors="replace").splitlines()[-20:]
            log(f"{logfile.name}:\n" + "\n".join(tail))
        raise
    finally:
        signal.alarm(0)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
