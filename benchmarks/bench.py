"""`make bench`: Steg's key requests under load against the framework's limit, with budgets.

    .venv/bin/python benchmarks/bench.py                    # --scale small: SQLite, 1,000 patients
    .venv/bin/python benchmarks/bench.py --scale large      # PostgreSQL, 100,000 patients
    make bench BENCH_ARGS="--scale large"                   # the same through make

Issue #9. What it does, in a throwaway folder removed afterwards:

1. creates the database (SQLite in the folder; with ``--scale large`` two PostgreSQL databases,
   ``steg_bench_<patients>``, dropped afterwards unless ``--keep``), migrates it and seeds it in
   bulk with set-based SQL (``INSERT ... SELECT`` over ``generate_series`` on PostgreSQL, a
   recursive CTE on SQLite; ``seed_statements`` below): one unit with all the patients, 21
   therapists, and for each patient a referral, an assessment talk, an enrolment in the
   tobacco programme and a history of 10 progress events, 6 pages viewed, 2 exercises,
   10-11 messages, 11 questionnaire responses, a login in the audit log, meetings for some;
   then ``rebuild_attention`` and ANALYZE;
2. serves each database with gunicorn (2 sync workers, ``STEG_ENV=production``: DEBUG off,
   whitenoise with the manifest storage, ``DJANGO_SETTINGS_MODULE=benchmarks.settings``, which
   is Steg's settings plus the minimal page ``/bench/minimal/`` and the same inside Steg's
   layout, ``/bench/layout/``);
3. logs the benchmark patient in (a real login POST) and the benchmark therapist (password,
   then TOTP); gives each of up to ``--writers`` other patients a session of their own for the
   writes, and takes a CSRF cookie and token from a real GET of the login form;
4. counts each request's SQL statements in-process (Django test client and
   CaptureQueriesContext, the third request in a row) and times it there (``--timed``
   requests: executing SQL, rendering templates, the rest; ``--profile`` prints cProfile
   output), and checks every page answers 200 and every write 302 (storing one row) over HTTP;
5. loads each request with wrk from a second process on loopback (``-t 2 -c 4`` by default):
   the reads with the patient's or the therapist's session cookie, the writes with
   ``benchmarks/lua/post.lua``, which POSTs a form with the CSRF token, a writer's session
   cookie and a unique one-time token per request (a diary day of one patient per request for
   the questionnaire), so that every request stores a row: the script checks that the rows
   stored match wrk's request count. The minimal page (the framework's limit: a five-line
   template through the same middleware, server and session) is measured first and after
   every round; with two datasets each request is measured on both in turn;
6. reads the gunicorn workers' peak memory (``VmHWM`` in ``/proc/<pid>/status``) after each
   run, and the CPU share other processes took during each run (PostgreSQL's backends for the
   dataset count as the server's);
7. prints the table and the budgets as PASS/FAIL lines, writes its section of
   docs/performance.md (``--no-write`` to skip), and exits with status 1 when a budget or a
   check fails.

The budgets (issue #9): read pages at least 0.5 times the limit's requests/s, writes at least
0.25 times; p99 at most 50 ms at 4 connections on the small dataset; every figure on the large
dataset within 1.5 times the small one's (``--scale large`` measures the small dataset on
PostgreSQL too, in the same run, so that the comparison is between sizes, not engines); peak
memory per worker at most 200 MB.

Not part of the test suite: nothing here is collected by pytest.
"""

# ruff: noqa: S608 - the SQL is built from this file's own constants and integers
from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import secrets
import shlex
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import types
import urllib.parse
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

from benchmarks import dashboard as dash  # noqa: E402
from benchmarks import programme_pages as pp  # noqa: E402
from benchmarks.common import postgres_database  # noqa: E402

DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"
LUA_POST = BASE_DIR / "benchmarks" / "lua" / "post.lua"
THERAPISTS = 21
LOCAL_TZ = ZoneInfo("Europe/Stockholm")
DIARY_OPEN_DAYS = 4  # today and the three days the diary can be filled in afterwards
START = "<!-- benchmarks/bench.py {scale}: start -->"
END = "<!-- benchmarks/bench.py {scale}: end -->"

# Budgets (issue #9).
READ_RATIO = 0.5
WRITE_RATIO = 0.25
P99_MS = 50.0
SCALE_FACTOR = 1.5
MEMORY_MB = 200.0


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --- seeding (in a subprocess with Django set up on the dataset's database) -------------------


class Dialect:
    """The few SQL expressions that differ between PostgreSQL and SQLite."""

    def __init__(self, vendor: str, now: datetime, today: date) -> None:
        self.pg = vendor == "postgresql"
        self.now = now.astimezone(UTC)
        self.today = today

    def at(self, moment: datetime) -> str:
        moment = moment.astimezone(UTC)
        if self.pg:
            return f"TIMESTAMPTZ '{moment.isoformat()}'"
        return f"'{moment:%Y-%m-%d %H:%M:%S}'"

    def ago(self, days: str, minutes: str = "0") -> str:
        """The time `days` days and `minutes` minutes before now (SQL expressions)."""
        if self.pg:
            return (
                f"({self.at(self.now)} - make_interval(days => ({days})::int, "
                f"mins => ({minutes})::int))"
            )
        return (
            f"datetime('{self.now:%Y-%m-%d %H:%M:%S}', printf('%+d days', -({days})), "
            f"printf('%+d minutes', -({minutes})))"
        )

    def days_ago(self, days: str) -> str:
        """The local date `days` days before today."""
        if self.pg:
            return f"(DATE '{self.today.isoformat()}' - ({days})::int)"
        return f"date('{self.today.isoformat()}', printf('%+d days', -({days})))"

    def json(self, expression: str) -> str:
        return f"({expression})::jsonb" if self.pg else f"({expression})"

    def pad(self, expression: str, width: int) -> str:
        if self.pg:
            return f"lpad(({expression})::text, {width}, '0')"
        return f"printf('%0{width}d', {expression})"

    def series(self, first: int, last: int, column: str) -> str:
        """A FROM item: the integers first..last as `column`."""
        if self.pg:
            return f"generate_series({first}, {last}) AS {column}_s({column})"
        return (
            f"(WITH RECURSIVE {column}_r(v) AS (SELECT {first} UNION ALL SELECT v + 1 "
            f"FROM {column}_r WHERE v < {last}) SELECT v AS {column} FROM {column}_r) "
            f"AS {column}_s"
        )


def _rows(rows: list[tuple[Any, ...]], names: tuple[str, ...]) -> str:
    """A constant table as a subquery (SQLite has no column names for VALUES in FROM)."""

    def literal(value: Any) -> str:
        if isinstance(value, str):
            return "'" + value.replace("'", "''") + "'"
        return str(int(value))

    selects = []
    for index, row in enumerate(rows):
        cells = [
            f"{literal(v)} AS {n}" if index == 0 else literal(v)
            for v, n in zip(row, names, strict=True)
        ]
        selects.append("SELECT " + ", ".join(cells))
    return "(" + " UNION ALL ".join(selects) + ")"


# The conversation of every patient who has started: (sender, days before their last activity,
# what it is feedback on, text). The feedback on "triggers" is missing for 1 in 10 (waiting for
# it); the patient's last message is unread for 2 in 25; the therapist's latest is unread by
# the patient for 1 in 5.
CONVERSATION = [
    ("patient", 30, "", "", "Hej! Jag har börjat med programmet och har en fråga om plåster."),
    ("staff", 29, "", "", "Välkommen! Plåster går bra att kombinera med tuggummi, vi tar det."),
    ("patient", 25, "", "", "Tack. Jag har fyllt i dagboken i några dagar nu."),
    ("staff", 24, "", "", "Vad bra. Titta gärna på när suget är som starkast."),
    ("patient", 20, "", "", "Det är mest på kvällarna och efter maten."),
    ("staff", 19, "exercise", "reasons", "Tack för ditt svar, det låter som bra skäl att sluta."),
    ("staff", 19, "exercise", "triggers", "Bra att du känner igen dina situationer."),
    ("patient", 12, "", "", "Nu har jag bestämt ett slutdatum."),
    ("staff", 11, "", "", "Utmärkt! Planera gärna vad du gör de första dagarna."),
    ("staff", 3, "", "", "Hur har det gått den här veckan?"),
    ("patient", 0, "", "", "Det går bättre nu, men kvällarna är svåra."),
]


def seed_statements(d: Dialect, n: int, ids: dict[str, Any]) -> list[str]:
    """The set-based SQL that seeds `n` patients and their history at one unit."""
    therapist = (
        "CASE t "
        + " ".join(f"WHEN {i} THEN {pk}" for i, pk in enumerate(ids["therapists"]))
        + " END"
    )
    pages = _rows([(i, pk) for i, pk in enumerate(ids["viewed_pages"])], ("i", "page_id"))
    conversation = _rows(CONVERSATION, ("role", "ago", "kind", "lkey", "body"))
    today_23 = datetime.combine(d.today, datetime.min.time(), LOCAL_TZ) + timedelta(hours=23)
    diary = d.json(
        "'{\"used\": [' || CASE WHEN g % 50 = 9 AND k = 0 THEN 'true' ELSE 'false' END || "
        '\'], "craving": [\' || (3 + g % 5) || \'], "mood": ["good"]}\''
    )
    attributes = d.json("""'{"tobacco": "smoking"}'""")
    motivation = d.json("""'{"importance": [8], "confidence": [6]}'""")
    mnws_score = d.json(
        '\'{"status": "scored", "total": "20", "subscales": {}, "band": null, '
        "\"flags\": [' || CASE WHEN g % 100 = 11 THEN '\"severe-low-mood\"' ELSE '' END || "
        "'], \"missing\": []}'"
    )
    return [
        f"""CREATE TEMP TABLE bench AS
        SELECT g,
               -- Therapist 0, who logs in, has a quarter of the patients; 20 others the rest.
               CASE WHEN (g / 3) % 4 = 0 THEN 0 ELSE 1 + g % 20 END AS t,
               CASE g % 20 WHEN 0 THEN 'completed' WHEN 1 THEN 'paused' WHEN 2 THEN 'invited'
                    ELSE 'active' END AS status,
               (g * 37) % 400 + 10 AS started_days,
               CASE WHEN g % 10 < 7 THEN (g * 7919) % 7 ELSE 8 + (g * 7919) % 30 END
                   AS quiet_days
        FROM {d.series(1, n, "g")}""",
        f"""INSERT INTO accounts_user (password, is_superuser, email, first_name, last_name,
            language, is_active, date_joined)
        SELECT '!', false, 'patient' || g || '@bench.example',
               CASE g % 8 WHEN 0 THEN 'Anna' WHEN 1 THEN 'Erik' WHEN 2 THEN 'Maria'
                    WHEN 3 THEN 'Lars' WHEN 4 THEN 'Karin' WHEN 5 THEN 'Johan'
                    WHEN 6 THEN 'Eva' ELSE 'Anders' END,
               'Bench' || g, 'sv', true, {d.ago("450")}
        FROM bench""",
        f"""INSERT INTO care_patient (personnummer, first_name, last_name, phone, email,
            created_at, user_id, time_zone)
        SELECT {d.pad("g", 12)}, u.first_name, u.last_name, '', u.email, u.date_joined, u.id,
               'Europe/Stockholm'
        FROM bench JOIN accounts_user u ON u.email = 'patient' || g || '@bench.example'""",
        "ALTER TABLE bench ADD COLUMN patient_id bigint",
        "ALTER TABLE bench ADD COLUMN user_id bigint",
        "ALTER TABLE bench ADD COLUMN therapist_id bigint",
        "ALTER TABLE bench ADD COLUMN referral_id bigint",
        "ALTER TABLE bench ADD COLUMN assessment_id bigint",
        "ALTER TABLE bench ADD COLUMN enrolment_id bigint",
        f"""UPDATE bench SET patient_id = p.id, user_id = p.user_id FROM care_patient p
        WHERE p.personnummer = {d.pad("bench.g", 12)}""",
        f"UPDATE bench SET therapist_id = {therapist}",
        "CREATE INDEX bench_patient ON bench (patient_id)",
        # The referral each patient came through: closed when they were enrolled.
        f"""INSERT INTO care_referral (status, phone, email, tobacco_type, tobacco_amount, reason,
            contact_consent, created_at, updated_at, closed_at, close_reason, close_note,
            assigned_to_id, patient_id, receiving_unit_id, referrer_id, referring_unit_id)
        SELECT 'closed', '070-123 45 67', '', 'cigarettes', '10 cigaretter om dagen',
               'Vill sluta röka inför en operation.', true, {d.ago("started_days + 14")},
               {d.ago("started_days")}, {d.ago("started_days")}, 'enrolled', '', therapist_id,
               patient_id, {ids["unit"]}, {ids["referrer"]}, {ids["referring_unit"]}
        FROM bench""",
        """UPDATE bench SET referral_id = r.id FROM care_referral r
        WHERE r.patient_id = bench.patient_id""",
        f"""INSERT INTO care_assessment (held_on, mode, tobacco_type, tobacco_use,
            dependence_test, dependence_answers, motivation, confidence, notes, choice,
            choice_reason, created_at, patient_id, programme_id, therapist_id, unit_id,
            referral_id)
        SELECT {d.days_ago("started_days + 7")}, 'phone', 'cigarettes', '10 cigaretter om dagen',
               '', {d.json("'{}'")}, 7, 6, '', 'digital_guided', 'Vill sluta',
               {d.ago("started_days + 7")}, patient_id, {ids["programme"]}, therapist_id,
               {ids["unit"]}, referral_id
        FROM bench""",
        """UPDATE bench SET assessment_id = a.id FROM care_assessment a
        WHERE a.patient_id = bench.patient_id""",
        f"""INSERT INTO care_enrolment (status, created_at, started_at, quit_date,
            programme_version_id, unit_id, patient_id, attributes, consented_at, ended_at, guided,
            terms_version, therapist_id, assessment_id)
        SELECT status, {d.ago("started_days + 1")},
               CASE WHEN status = 'invited' THEN NULL ELSE {d.ago("started_days")} END,
               CASE WHEN status = 'invited' THEN NULL
                    ELSE {d.days_ago("started_days - 7")} END,
               {ids["version"]}, {ids["unit"]}, patient_id,
               {attributes},
               CASE WHEN status = 'invited' THEN NULL ELSE {d.ago("started_days")} END,
               CASE WHEN status = 'completed' THEN {d.ago("1")} ELSE NULL END,
               true, '2026-11', therapist_id, assessment_id
        FROM bench""",
        """UPDATE bench SET enrolment_id = e.id FROM care_enrolment e
        WHERE e.patient_id = bench.patient_id""",
        "CREATE INDEX bench_enrolment ON bench (enrolment_id)",
        # 1 in 20 (those who completed) was referred again: the inbox's open referrals.
        f"""INSERT INTO care_referral (status, phone, email, tobacco_type, tobacco_amount, reason,
            contact_consent, created_at, updated_at, closed_at, close_reason, close_note,
            assigned_to_id, patient_id, receiving_unit_id, referrer_id, referring_unit_id)
        SELECT CASE WHEN g % 40 = 0 THEN 'new' ELSE 'in_progress' END, '070-123 45 67', '',
               'snus', '1 dosa i veckan', 'Har börjat snusa igen.', true, {d.ago("g % 30")},
               {d.ago("g % 30")}, NULL, '', '',
               CASE WHEN g % 40 = 0 THEN NULL ELSE therapist_id END, patient_id, {ids["unit"]},
               {ids["referrer"]}, {ids["referring_unit"]}
        FROM bench WHERE status = 'completed'""",
        "DELETE FROM bench WHERE status = 'invited'",  # no history before the patient starts
        # Ten things the patient did, the latest `quiet_days` ago.
        f"""INSERT INTO programmes_progressevent (kind, subject, created_at, enrolment_id)
        SELECT CASE k % 5 WHEN 0 THEN 'page_viewed' WHEN 1 THEN 'page_read'
                    WHEN 2 THEN 'exercise_saved' WHEN 3 THEN 'page_viewed'
                    ELSE 'checklist_ticked' END,
               'welcome', {d.ago("quiet_days + k", "g % 600")}, enrolment_id
        FROM bench CROSS JOIN {d.series(0, 9, "k")}""",
        # The first pages of the programme viewed, the first four of them read.
        f"""INSERT INTO programmes_pageprogress (first_viewed_at, last_viewed_at, read_at,
            enrolment_id, page_id)
        SELECT {d.ago("started_days - p.i")}, {d.ago("started_days - p.i")},
               CASE WHEN p.i < 4 THEN {d.ago("started_days - p.i")} ELSE NULL END,
               enrolment_id, p.page_id
        FROM bench CROSS JOIN {pages} AS p""",
        # Two exercises submitted.
        f"""INSERT INTO programmes_exerciseanswer (key, draft, submitted_text, status, updated_at,
            submitted_at, last_submission_token, enrolment_id, page_id)
        SELECT x.key, 'Mitt svar', 'Mitt svar', 'submitted', {d.ago("quiet_days + 20")},
               {d.ago("quiet_days + 20")}, '', enrolment_id, {ids["exercise_page"]}
        FROM bench CROSS JOIN (SELECT 'reasons' AS key UNION ALL SELECT 'triggers') AS x""",
        # The conversation: 10-11 messages each.
        f"""INSERT INTO dialog_message (sender_role, body, created_at, client_token, link_kind,
            link_key, read_at, rule, enrolment_id, read_by_id, sender_id)
        SELECT m.role, m.body, {d.ago("quiet_days + m.ago", "g % 600")}, '', m.kind, m.lkey,
               CASE WHEN m.role = 'patient' AND m.ago = 0 AND g % 25 IN (3, 4) THEN NULL
                    WHEN m.role = 'staff' AND m.ago = 3 AND g % 5 = 0 THEN NULL
                    ELSE {d.ago("quiet_days + m.ago", "g % 600 - 30")} END,
               '', enrolment_id,
               CASE WHEN m.role = 'patient' AND m.ago = 0 AND g % 25 IN (3, 4) THEN NULL
                    WHEN m.role = 'staff' AND m.ago = 3 AND g % 5 = 0 THEN NULL
                    WHEN m.role = 'patient' THEN therapist_id ELSE user_id END,
               CASE WHEN m.role = 'staff' THEN therapist_id ELSE user_id END
        FROM bench CROSS JOIN {conversation} AS m
        WHERE NOT (m.lkey = 'triggers' AND g % 10 = 7)""",
        # Questionnaires: nine diary days (none in the last five days, which the writes fill
        # in), 1 in 50 with tobacco used after the quit date; a withdrawal score (MNWS),
        # flagged for 1 in 100; the motivation rulers.
        f"""INSERT INTO questionnaires_response (questionnaire_id, day, status, answers, score,
            language, created_at, updated_at, submitted_at, submission_token, enrolment_id)
        SELECT 'diary', {d.days_ago("5 + quiet_days + k")}, 'submitted', {diary}, NULL, 'sv',
               {d.ago("5 + quiet_days + k")}, {d.ago("5 + quiet_days + k")},
               {d.ago("5 + quiet_days + k")}, '', enrolment_id
        FROM bench CROSS JOIN {d.series(0, 8, "k")}""",
        f"""INSERT INTO questionnaires_response (questionnaire_id, day, status, answers, score,
            language, created_at, updated_at, submitted_at, submission_token, enrolment_id)
        SELECT 'mnws', {d.days_ago("quiet_days + 5")}, 'submitted', {d.json("'{}'")},
               {mnws_score}, 'sv', {d.ago("quiet_days + 5")}, {d.ago("quiet_days + 5")},
               {d.ago("quiet_days + 5")}, '', enrolment_id
        FROM bench""",
        f"""INSERT INTO questionnaires_response (questionnaire_id, day, status, answers, score,
            language, created_at, updated_at, submitted_at, submission_token, enrolment_id)
        SELECT 'motivation', {d.days_ago("started_days")}, 'submitted',
               {motivation}, NULL, 'sv',
               {d.ago("started_days")}, {d.ago("started_days")}, {d.ago("started_days")}, '',
               enrolment_id
        FROM bench""",
        # Meetings: one today for 1 in 100, one next week for 1 in 20.
        f"""INSERT INTO care_meeting (kind, mode, starts_at, ends_at, place, video_url, status,
            created_at, reschedule_message, sequence, created_by_id, enrolment_id, patient_id,
            therapist_id, unit_id)
        SELECT 'follow_up', 'phone',
               CASE WHEN g % 100 = 13 THEN {d.at(today_23)}
                    ELSE {d.ago("-7", "-(g % 480)")} END,
               CASE WHEN g % 100 = 13 THEN {d.at(today_23 + timedelta(minutes=30))}
                    ELSE {d.ago("-7", "-(g % 480) - 30")} END,
               '', '', 'booked', {d.ago("7")}, '', 0, therapist_id, enrolment_id, patient_id,
               therapist_id, {ids["unit"]}
        FROM bench WHERE g % 100 = 13 OR g % 20 = 14""",
        # The patient's latest login, in the audit log (the overview's timeline shows it).
        f"""INSERT INTO audit_auditevent (actor_role, action, object_type, object_id, purpose,
            request_id, ip, created_at, detail, prev_hash, hash, actor_id, patient_id, unit_id)
        SELECT 'patient', 'accounts.login', 'accounts.user', CAST(user_id AS TEXT),
               'self-service', '', '127.0.0.1', {d.ago("quiet_days", "g % 600")},
               {d.json("'{}'")}, {d.pad("g - 1", 64)}, {d.pad("g", 64)}, user_id, patient_id,
               NULL
        FROM bench""",
    ]


def _seed(n: int, writers: int) -> dict[str, Any]:
    """Seed one unit with `n` patients; return what the measuring needs."""
    import django

    django.setup()
    from django.db import connection, transaction
    from django.utils import timezone

    from steg.accounts.models import Organisation, Unit, User
    from steg.dashboard.attention import rebuild_all
    from steg.programmes.actions import import_programme
    from steg.programmes.models import Page
    from steg.testing.personas import PASSWORD, TOTP_SECRET, make_staff

    started = time.monotonic()
    with transaction.atomic():
        region = Organisation.objects.create(name="Region Bench")
        unit = Unit.objects.create(organisation=region, name="Tobaksavvänjning Bench")
        referring_unit = Unit.objects.create(organisation=region, name="Vårdcentralen Bench")
        referrer = make_staff(
            "referrer@bench.example", "Remiss Skrivare", referring_unit, "referrer"
        )
        therapists = [
            make_staff(f"therapist{i}@bench.example", f"Terapeut Nummer{i}", unit, "therapist")
            for i in range(THERAPISTS)
        ]
        version = import_programme(BASE_DIR / "programmes" / "tobacco-cessation").version
    pages = list(Page.objects.filter(version=version).order_by("pk").values_list("pk", flat=True))
    ids = {
        "therapists": [t.pk for t in therapists],
        "unit": unit.pk,
        "referring_unit": referring_unit.pk,
        "referrer": referrer.pk,
        "programme": version.programme_id,
        "version": version.pk,
        "exercise_page": Page.objects.get(version=version, key="my-reasons").pk,
        "viewed_pages": pages[:6],
    }
    dialect = Dialect(connection.vendor, timezone.now(), timezone.localdate())
    with transaction.atomic(), connection.cursor() as cursor:
        # Sent as they are, without parameters, so `%` is the modulo operator.
        for statement in seed_statements(dialect, n, ids):
            cursor.execute(statement)
        # The benchmark patient: therapist 0's first active patient who was recently active
        # (the same one at every size).
        cursor.execute(
            "SELECT g, user_id, enrolment_id FROM bench "
            "WHERE t = 0 AND status = 'active' AND g % 10 < 7 ORDER BY g LIMIT 1"
        )
        bench_g, bench_user, bench_enrolment = cursor.fetchone()
        # The writers: other active patients, each with a session of their own for the writes.
        cursor.execute(
            f"SELECT user_id, enrolment_id FROM bench WHERE status = 'active' AND g <> {bench_g} "  # noqa: S608
            f"ORDER BY g LIMIT {int(writers)}"
        )
        writer_rows = [list(row) for row in cursor.fetchall()]
        cursor.execute("DROP TABLE bench")
    rows = {}
    with connection.cursor() as cursor:
        for table in (
            "care_patient",
            "care_enrolment",
            "care_referral",
            "programmes_progressevent",
            "programmes_pageprogress",
            "dialog_message",
            "questionnaires_response",
            "programmes_exerciseanswer",
            "care_meeting",
            "audit_auditevent",
        ):
            cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed names
            rows[table] = cursor.fetchone()[0]
    seeded = time.monotonic() - started
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    started = time.monotonic()
    attention = rebuild_all()
    rebuild_s = time.monotonic() - started
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    analyse_s = time.monotonic() - started
    user = User.objects.get(pk=bench_user)
    user.set_password(PASSWORD)
    user.save(update_fields=["password"])
    return {
        "patients": n,
        "rows": rows,
        "seed_s": seeded,
        "rebuild_s": rebuild_s,
        "analyse_s": analyse_s,
        "attention_rows": attention,
        "unit": unit.pk,
        "patient_email": user.email,
        "patient_enrolment": bench_enrolment,
        "password": PASSWORD,
        # What dashboard.log_in_staff expects.
        "email": "therapist0@bench.example",
        "totp_secret": TOTP_SECRET,
        "writers": writer_rows,
        "writers_asked": writers,
    }


def _sessions(user_ids: list[int]) -> list[str]:
    """A logged-in session for each user, as a login would leave it (no password needed)."""
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.models import Session
    from django.utils import timezone
    from django.utils.crypto import get_random_string

    from steg.accounts.middleware import SESSION_LAST_SEEN, SESSION_MFA_OK, SESSION_STARTED
    from steg.accounts.models import User

    store = __import__(settings.SESSION_ENGINE, fromlist=["SessionStore"]).SessionStore()
    now = int(time.time())
    expires = timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE)
    users = User.objects.in_bulk(user_ids)
    keys = []
    sessions = []
    for user_id in user_ids:
        user = users[user_id]
        key = get_random_string(32, "abcdefghijklmnopqrstuvwxyz0123456789")
        data = {
            SESSION_KEY: str(user.pk),
            BACKEND_SESSION_KEY: "django.contrib.auth.backends.ModelBackend",
            HASH_SESSION_KEY: user.get_session_auth_hash(),
            SESSION_STARTED: now,
            SESSION_LAST_SEEN: now,
            SESSION_MFA_OK: True,
        }
        sessions.append(
            Session(session_key=key, session_data=store.encode(data), expire_date=expires)
        )
        keys.append(key)
    Session.objects.bulk_create(sessions, batch_size=500)
    return keys


def _inspect(spec: dict[str, Any]) -> dict[str, Any]:
    """SQL statements of each request in-process: the third of three in a row."""
    import django

    django.setup()
    from django.db import close_old_connections, connection
    from django.test.utils import CaptureQueriesContext

    result: dict[str, Any] = {}
    for target in spec["targets"]:
        statements: list[str] = []
        status = 0
        for index, request in enumerate(target["requests"]):
            client = pp.django_client(request["cookies"])
            with CaptureQueriesContext(connection) as captured:
                if target["method"] == "POST":
                    response = client.post(request["path"], request["data"])
                else:
                    response = client.get(request["path"])
            status = response.status_code
            statements = [q["sql"] for q in captured.captured_queries]
            close_old_connections()
            if index == 0 and status != target["expect"]:
                break
        result[target["key"]] = {"status": status, "queries": len(statements), "sql": statements}
        if status == target["expect"] and target.get("timing"):
            result[target["key"]].update(_time_requests(target["method"], target["timing"]))
        if spec.get("profile") and target["method"] == "GET" and status == 200:
            request = target["requests"][0]
            _shares, printout = pp.profile(request["cookies"], request["path"], 100, 45)
            print(f"=== {target['key']} {request['path']}\n{printout}", file=sys.stderr)
    return result


def _time_requests(method: str, requests: list[dict[str, Any]]) -> dict[str, float]:
    """Mean milliseconds per request in-process, one at a time, closing the connection after
    each as a server does (kept by CONN_MAX_AGE): in all, executing SQL, rendering templates."""
    from http.cookies import SimpleCookie

    from django.db import close_old_connections, connection

    # One client (one handler, its middleware loaded once, as in a server's worker), given
    # each request's cookies: a client per patient would load the middleware (whitenoise
    # scans the static files) inside the timing.
    client = pp.django_client({})
    if requests:
        client.get("/bench/minimal/")
    instrument = pp.Instrument()
    with connection.execute_wrapper(instrument.execute), instrument.templates():
        start = time.perf_counter()
        for request in requests:
            client.cookies = SimpleCookie(request["cookies"])
            if method == "POST":
                client.post(request["path"], request["data"])
            else:
                client.get(request["path"])
            close_old_connections()
        total = time.perf_counter() - start
    n = len(requests)
    return {
        "timed": n,
        "ms": 1000 * total / n,
        "sql_ms": 1000 * instrument.sql_s / n,
        "template_ms": 1000 * (instrument.template_s - instrument.sql_in_templates_s) / n,
    }


def run_helper(env: dict[str, str], *args: str, stdin: Any = None, timeout: float) -> Any:
    """Run this script in a subprocess (Django set up there) and read its JSON answer."""
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), *args],
        cwd=BASE_DIR,
        env=env,
        check=False,
        timeout=timeout,
        capture_output=True,
        text=True,
        input=None if stdin is None else json.dumps(stdin),
    )
    if out.stderr.strip():
        log(out.stderr.strip()[-20000:])
    if out.returncode:
        raise RuntimeError(f"{args[0]} failed with status {out.returncode}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- the measuring process ----------------------------------------------------------------------


@dataclass
class Target:
    key: str
    label: str
    method: str
    kind: str  # "limit", "reference", "read" or "write"
    who: str  # "patient", "staff" or "writers"


TARGETS = [
    Target("minimal", "Minimal page (the limit)", "GET", "limit", "patient"),
    Target("layout", "Layout page (for reference)", "GET", "reference", "patient"),
    Target("start", "Patient start page", "GET", "read", "patient"),
    Target("overview", "Programme overview", "GET", "read", "patient"),
    Target("page", "Programme page (welcome)", "GET", "read", "patient"),
    Target("questionnaire", "Questionnaire submit (diary)", "POST", "write", "writers"),
    Target("message", "Message send", "POST", "write", "writers"),
    Target("dashboard", "Therapist dashboard", "GET", "read", "staff"),
    Target("patient_overview", "Therapist's patient overview", "GET", "read", "staff"),
    Target("inbox", "Referral inbox", "GET", "read", "staff"),
]
BY_KEY = {t.key: t for t in TARGETS}
DIARY_FORM = "used=false&craving=4&mood=good&situation=Efter+middagen"
MESSAGE_TEXT = "Hej! Jag undrar hur jag ska tänka inför helgen."


@dataclass
class Run:
    wrk: pp.WrkResult
    peak_mb: float  # the workers' highest peak RSS so far
    rss_mb: float  # the workers' highest RSS after the run
    written: int | None = None  # rows stored by a write run
    slots: int | None = None  # requests the slots allowed


@dataclass
class Dataset:
    name: str  # "small" or "large"
    engine: str  # "sqlite" or "postgresql"
    patients: int
    database_url: str = ""
    env: dict[str, str] = field(default_factory=dict)
    seed: dict[str, Any] = field(default_factory=dict)
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    workers: list[int] = field(default_factory=list)
    patient: dict[str, str] = field(default_factory=dict)
    staff: dict[str, str] = field(default_factory=dict)
    csrf: tuple[str, str] = ("", "")
    writers: list[tuple[int, int, str]] = field(default_factory=list)
    runs: dict[str, list[Run]] = field(default_factory=dict)
    inspect: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    engine_version: str = ""
    # The dashboard's first request after the writes, each round: (stale rows, ms).
    catch_up: list[tuple[int, float]] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.name} ({self.patients:,} patients, {self.engine_version or self.engine})"

    def path(self, key: str, *, writer: int = 0, day: date | None = None) -> str:
        enrolment = self.seed["patient_enrolment"]
        treatment = f"/patient/treatments/{enrolment}/"
        if key == "minimal":
            return "/bench/minimal/"
        if key == "layout":
            return "/bench/layout/"
        if key == "start":
            return "/patient/"
        if key == "overview":
            return treatment
        if key == "page":
            return f"{treatment}pages/welcome/"
        if key == "dashboard":
            return "/staff/dashboard/"
        if key == "patient_overview":
            return f"/staff/enrolments/{enrolment}/overview/"
        if key == "inbox":
            return f"/staff/units/{self.seed['unit']}/referrals/"
        writer_enrolment = self.writers[writer][1]
        if key == "questionnaire":
            assert day is not None  # noqa: S101
            return (
                f"/patient/treatments/{writer_enrolment}/questionnaires/diary/"
                f"?day={day.isoformat()}"
            )
        if key == "message":
            return f"/patient/treatments/{writer_enrolment}/messages/send/"
        raise KeyError(key)

    def cookies(self, who: str) -> dict[str, str]:
        return self.staff if who == "staff" else self.patient

    def writer_cookie(self, writer: int) -> str:
        return f"sessionid={self.writers[writer][2]}; csrftoken={self.csrf[0]}; steg_language=sv"


# --- the database, from the measuring process (no Django here) ---------------------------------


def sql_rows(ds: Dataset, sql: str) -> list[tuple[Any, ...]]:
    """Rows of a query on the dataset's database, on a connection closed right after."""
    if ds.engine == "postgresql":
        import psycopg

        with psycopg.connect(ds.database_url, connect_timeout=10) as pg:
            return list(pg.execute(sql).fetchall())
    lite = sqlite3.connect(Path(ds.env["STEG_DATA_DIR"]) / "steg.sqlite3", timeout=30)
    try:
        return list(lite.execute(sql).fetchall())
    finally:
        lite.close()


def sql_count(ds: Dataset, sql: str) -> int:
    return int(sql_rows(ds, sql)[0][0])


COUNTS = {
    "questionnaire": "SELECT count(*) FROM questionnaires_response WHERE status = 'submitted'",
    "message": "SELECT count(*) FROM dialog_message",
}


def local_today() -> date:
    return datetime.now(LOCAL_TZ).date()


def free_diary_slots(ds: Dataset) -> list[tuple[int, date]]:
    """(writer, day) pairs whose diary is still open and not filled in, oldest day first (a
    diary day can be filled in on the day and for three days after)."""
    today = local_today()
    first = today - timedelta(days=DIARY_OPEN_DAYS - 1)
    done = {
        (int(enrolment), str(day))
        for enrolment, day in sql_rows(
            ds,
            "SELECT enrolment_id, day FROM questionnaires_response "  # noqa: S608
            f"WHERE questionnaire_id = 'diary' AND day >= '{first.isoformat()}'",
        )
    }
    slots = []
    for offset in range(DIARY_OPEN_DAYS - 1, -1, -1):
        day = today - timedelta(days=offset)
        for index, (_user, enrolment, _key) in enumerate(ds.writers):
            if (enrolment, day.isoformat()) not in done:
                slots.append((index, day))
    return slots


def write_slots(ds: Dataset, key: str, path: Path, needed: int) -> int:
    """The Lua script's slots for one run; returns how many there are."""
    lines = []
    csrf = urllib.parse.quote(ds.csrf[1])
    if key == "questionnaire":
        for writer, day in free_diary_slots(ds):
            lines.append(
                f"{ds.path(key, writer=writer, day=day)}\t{ds.writer_cookie(writer)}\t"
                f"csrfmiddlewaretoken={csrf}&token=@TOKEN@&action=submit&{DIARY_FORM}"
            )
    else:
        body = urllib.parse.quote_plus(MESSAGE_TEXT)
        for index in range(needed):
            writer = index % len(ds.writers)
            lines.append(
                f"{ds.path(key, writer=writer)}\t{ds.writer_cookie(writer)}\t"
                f"csrfmiddlewaretoken={csrf}&token=@TOKEN@&body={body}"
            )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines)


# --- the server ---------------------------------------------------------------------------------


def worker_pids(master: int) -> list[int]:
    return [p for p in pp._server_pids(master) if p != master]


def peak_mb(pids: list[int], field: str = "VmHWM") -> float:
    """The highest peak resident memory (VmHWM; VmRSS: now) of the processes, in MB."""
    peak = 0.0
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        match = re.search(rf"^{field}:\s+(\d+) kB", status, re.MULTILINE)
        if match:
            peak = max(peak, int(match.group(1)) / 1024)
    return peak


def database_backends(ds: Dataset) -> list[int]:
    """The PostgreSQL backends connected to the dataset's database (the workers keep theirs
    open, CONN_MAX_AGE): their CPU time is the server's work, not other people's."""
    if ds.engine != "postgresql":
        return []
    name = urllib.parse.urlsplit(ds.database_url).path.lstrip("/")
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text.startswith("postgres: ") and f" {name} " in text:
            pids.append(int(cmdline.parent.name))
    return pids


def get_csrf(port: int) -> tuple[str, str]:
    """A CSRF cookie and a form token, from a real GET of the login form."""
    cookies: dict[str, str] = {}
    _status, _r, body = pp.http_request(port, "GET", "/account/login/", cookies)
    return cookies["csrftoken"], dash._csrf(body)


def http_write(ds: Dataset, key: str) -> str | None:
    """One write over HTTP before the load: a problem, or None when it answered 302 and stored
    one row."""
    before = sql_count(ds, COUNTS[key])
    if key == "questionnaire":
        writer, day = free_diary_slots(ds)[-1]
        path = ds.path(key, writer=writer, day=day)
        form = dict(urllib.parse.parse_qsl(DIARY_FORM)) | {"action": "submit"}
    else:
        writer = len(ds.writers) - 1
        path = ds.path(key, writer=writer)
        form = {"body": MESSAGE_TEXT}
    cookies = {"sessionid": ds.writers[writer][2], "csrftoken": ds.csrf[0], "steg_language": "sv"}
    form |= {"csrfmiddlewaretoken": ds.csrf[1], "token": secrets.token_hex(16)}
    status, response, _b = pp.http_request(ds.port, "POST", path, cookies, form)
    stored = sql_count(ds, COUNTS[key]) - before
    if status != 302 or stored != 1:
        return f"POST {path} answered {status} and stored {stored} rows"
    log(f"POST {path} -> {status} {response.getheader('Location')}")
    return None


def check_reads(ds: Dataset) -> list[str]:
    problems = []
    for target in TARGETS:
        if target.method != "GET":
            continue
        path = ds.path(target.key)
        status, response, _b = pp.http_request(ds.port, "GET", path, dict(ds.cookies(target.who)))
        if status != 200:
            problems.append(f"GET {path} answered {status} {response.getheader('Location') or ''}")
    return problems


def inspect_spec(ds: Dataset, profile: bool, timed: int) -> dict[str, Any]:
    """Three requests to each target for the in-process count (the writes from one writer),
    and `timed` more for the timing."""
    targets = []
    for target in TARGETS:
        if target.method == "GET":
            cookies = ds.cookies(target.who)
            requests = [{"path": ds.path(target.key), "cookies": cookies}] * 3
        else:
            # A writer with three diary days still open (the last one: http_write takes
            # the last slot, of another writer, since the slots go day by day).
            free: dict[int, list[date]] = {}
            for w, day in free_diary_slots(ds):
                free.setdefault(w, []).append(day)
            writer = max((w for w, days in free.items() if len(days) >= 3), default=0)
            cookies = {"sessionid": ds.writers[writer][2], "steg_language": "sv"}
            if target.key == "questionnaire":
                days = free.get(writer, [])[:3]
                form = dict(urllib.parse.parse_qsl(DIARY_FORM)) | {"action": "submit"}
                requests = [
                    {
                        "path": ds.path(target.key, writer=writer, day=day),
                        "cookies": cookies,
                        "data": form | {"token": secrets.token_hex(16)},
                    }
                    for day in days
                ]
            else:
                requests = [
                    {
                        "path": ds.path(target.key, writer=writer),
                        "cookies": cookies,
                        "data": {"body": MESSAGE_TEXT, "token": secrets.token_hex(16)},
                    }
                    for _ in range(3)
                ]
        targets.append(
            {
                "key": target.key,
                "method": target.method,
                "expect": 200 if target.method == "GET" else 302,
                "requests": requests,
                "timing": timing_requests(ds, target, requests, timed),
            }
        )
    return {"targets": targets, "profile": profile}


def timing_requests(
    ds: Dataset, target: Target, requests: list[dict[str, Any]], n: int
) -> list[dict[str, Any]]:
    """`n` requests for the in-process timing: the same page again, or new writes (the diary
    days of other writers than the one counted, which http_write leaves alone)."""
    if target.method == "GET":
        return [requests[0]] * n
    if target.key == "message":
        return [
            requests[0] | {"data": requests[0]["data"] | {"token": secrets.token_hex(16)}}
            for _ in range(n)
        ]
    counted = requests[0]["cookies"]["sessionid"] if requests else ""
    timing: list[dict[str, Any]] = []
    form = dict(urllib.parse.parse_qsl(DIARY_FORM)) | {"action": "submit"}
    for writer, day in free_diary_slots(ds)[:-1]:
        cookies = {"sessionid": ds.writers[writer][2], "steg_language": "sv"}
        if cookies["sessionid"] == counted or len(timing) >= min(n, 50):
            continue
        path = ds.path(target.key, writer=writer, day=day)
        timing.append(
            {"path": path, "cookies": cookies, "data": form | {"token": secrets.token_hex(16)}}
        )
    return timing


# --- the load -----------------------------------------------------------------------------------


def wrk_command(
    args: argparse.Namespace,
    url: str,
    duration: float,
    *,
    cookie: str = "",
    lua: tuple[str, ...] = (),
) -> list[str]:
    command = [
        "wrk",
        "-t",
        str(args.threads),
        "-c",
        str(args.connections),
        "-d",
        f"{duration:g}s",
        "--timeout",
        "10s",
        "--latency",
    ]
    if cookie:
        command += ["-H", f"Cookie: {cookie}"]
    if lua:
        command += ["-s", str(LUA_POST), url, "--", *lua]
    else:
        command.append(url)
    return command


def measure(
    args: argparse.Namespace, ds: Dataset, target: Target, tmp: Path, *, warm: bool
) -> None:
    """Warm up (the first time) and run wrk once against the target; keep the run."""
    base = f"http://127.0.0.1:{ds.port}"
    assert ds.proc is not None  # noqa: S101
    if target.key == "dashboard":
        # The patients' writes have marked their dashboard rows stale; the first dashboard
        # of the unit recomputes them all before it reads (docs/dashboard.md). Timed on its
        # own, since the warm-up would hide it in the first round and the runs after.
        stale = sql_count(ds, "SELECT count(*) FROM dashboard_attention WHERE stale")
        started = time.perf_counter()
        pp.http_request(ds.port, "GET", ds.path("dashboard"), dict(ds.cookies(target.who)))
        ds.catch_up.append((stale, (time.perf_counter() - started) * 1000))
        log(f"  first dashboard after the writes: {ds.catch_up[-1][1]:.0f} ms, {stale} stale")
    for duration, kept in ((args.warmup, False), (args.duration, True)):
        if not kept and not warm:
            continue
        if target.method == "GET":
            header = "; ".join(f"{k}={v}" for k, v in ds.cookies(target.who).items())
            command = wrk_command(args, base + ds.path(target.key), duration, cookie=header)
            before = sql_count(ds, _page_views(ds)) if kept and target.key == "page" else None
            slots = None
        else:
            # Enough slots for far more than the server can take: 2,000 requests/s.
            needed = int(2000 * duration) + 100
            slots_file = tmp / f"slots-{ds.name}-{target.key}.tsv"
            slots = write_slots(ds, target.key, slots_file, needed)
            if slots < args.threads:
                ds.problems.append(f"{target.label}: no slots left to write ({slots})")
                return
            command = wrk_command(
                args,
                base,
                duration,
                lua=(str(slots_file), str(args.threads), secrets.token_hex(6)),
            )
            before = sql_count(ds, COUNTS[target.key])
        if kept:
            log(f"{ds.name}: wrk {target.method} {target.label} for {duration:g} s")
        result = pp.run_wrk(
            command, duration, ds.proc.pid if kept else None, also=database_backends(ds)
        )
        if target.method == "POST":
            # Let the requests still in flight when wrk stopped finish, so that their rows are
            # counted with this run and their slots are not offered to the next one.
            time.sleep(1)
        if not kept:
            continue
        pids = worker_pids(ds.proc.pid)
        run = Run(result, peak_mb(pids), peak_mb(pids, "VmRSS"), slots=slots)
        if before is not None:
            counted = _page_views(ds) if target.method == "GET" else COUNTS[target.key]
            run.written = sql_count(ds, counted) - before
        ds.runs.setdefault(target.key, []).append(run)
        exhausted = sum(int(n) for n in re.findall(r"bench-slots .* exhausted=(\d+)", result.raw))
        log(
            f"  {result.requests_per_s:,.0f} req/s, p50 {pp.fmt_ms(result.p50_ms)} ms, "
            f"p99 {pp.fmt_ms(result.p99_ms)} ms, {result.requests} requests"
            + (f", {run.written} rows stored" if run.written is not None else "")
            + f", workers' peak {run.peak_mb:.0f} MB (now {run.rss_mb:.0f} MB), "
            f"other work {result.other_cpu:.0%}"
        )
        if result.non_2xx_3xx or result.socket_errors:
            ds.problems.append(
                f"{target.label}: {result.non_2xx_3xx} non-2xx/3xx responses, "
                f"{result.socket_errors} socket errors"
            )
        if exhausted:
            ds.problems.append(
                f"{target.label}: the {slots} slots ran out (wrk stopped early; "
                f"{exhausted} request(s) repeated)"
            )
        # Requests in flight when wrk stops are served but not counted: up to one per
        # connection at each end of the run.
        if run.written is not None and not (
            result.requests <= run.written <= result.requests + 2 * args.connections
        ):
            ds.problems.append(
                f"{target.label}: wrk counted {result.requests} requests but "
                f"{run.written} rows were stored"
            )


def _page_views(ds: Dataset) -> str:
    return (
        "SELECT count(*) FROM programmes_progressevent "  # noqa: S608
        f"WHERE enrolment_id = {int(ds.seed['patient_enrolment'])} AND kind = 'page_viewed'"
    )


# --- figures and budgets ------------------------------------------------------------------------


def rps(ds: Dataset, key: str) -> float:
    return (
        statistics.fmean(r.wrk.requests_per_s for r in ds.runs.get(key, []))
        if key in ds.runs
        else math.nan
    )


def p50(ds: Dataset, key: str) -> float:
    return statistics.median(r.wrk.p50_ms for r in ds.runs[key]) if key in ds.runs else math.nan


def p99(ds: Dataset, key: str) -> float:
    return statistics.median(r.wrk.p99_ms for r in ds.runs[key]) if key in ds.runs else math.nan


def queries(ds: Dataset, key: str) -> int | None:
    found = ds.inspect.get(key)
    return int(found["queries"]) if found else None


def final_peak(ds: Dataset) -> float:
    return max((r.peak_mb for runs in ds.runs.values() for r in runs), default=math.nan)


@dataclass
class Budget:
    name: str
    passed: bool
    detail: str


def budgets(datasets: list[Dataset]) -> list[Budget]:
    found = []
    for ds in datasets:
        limit = rps(ds, "minimal")
        for target in TARGETS:
            if target.kind not in ("read", "write") or target.key not in ds.runs:
                continue
            needed = READ_RATIO if target.kind == "read" else WRITE_RATIO
            ratio = rps(ds, target.key) / limit
            found.append(
                Budget(
                    f"{ds.name}: {target.label}: requests/s >= {needed} x the limit",
                    ratio >= needed,
                    f"{rps(ds, target.key):,.0f} / {limit:,.0f} = {ratio:.2f}",
                )
            )
        if ds.name == "small":
            for target in TARGETS:
                if target.kind not in ("read", "write") or target.key not in ds.runs:
                    continue
                value = p99(ds, target.key)
                found.append(
                    Budget(
                        f"{ds.name}: {target.label}: p99 <= {P99_MS:g} ms",
                        value <= P99_MS,
                        f"{value:.1f} ms",
                    )
                )
        found.append(
            Budget(
                f"{ds.name}: peak memory per worker <= {MEMORY_MB:g} MB",
                final_peak(ds) <= MEMORY_MB,
                f"{final_peak(ds):.0f} MB",
            )
        )
    if len(datasets) == 2:
        small, large = datasets
        for target in TARGETS:
            if target.kind not in ("read", "write") or target.key not in large.runs:
                continue
            figures = {
                "req/s": rps(small, target.key) / rps(large, target.key),
                "p50": p50(large, target.key) / p50(small, target.key),
                "p99": p99(large, target.key) / p99(small, target.key),
            }
            q_small, q_large = queries(small, target.key), queries(large, target.key)
            if q_small and q_large is not None:
                figures["SQL"] = q_large / q_small
            worst = max(figures, key=lambda k: figures[k])
            found.append(
                Budget(
                    f"large: {target.label}: every figure within {SCALE_FACTOR} x the small one",
                    all(v <= SCALE_FACTOR for v in figures.values()),
                    ", ".join(f"{k} {v:.2f}" for k, v in figures.items()) + f" (worst: {worst})",
                )
            )
        ratio = final_peak(large) / final_peak(small)
        found.append(
            Budget(
                f"large: peak memory per worker within {SCALE_FACTOR} x the small one",
                ratio <= SCALE_FACTOR,
                f"{final_peak(large):.0f} / {final_peak(small):.0f} MB = {ratio:.2f}",
            )
        )
    return found


# --- the report ---------------------------------------------------------------------------------


def fmt_ms(value: float) -> str:
    return "–" if math.isnan(value) else pp.fmt_ms(value)


def result_table(ds: Dataset) -> str:
    limit = rps(ds, "minimal")
    lines = [
        "| request | | req/s | p50 ms | p99 ms | ratio to the limit | SQL statements "
        "| workers' peak MB (now) | other work |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for target in TARGETS:
        if target.key not in ds.runs:
            continue
        runs = ds.runs[target.key]
        figures = (
            " (" + ", ".join(f"{r.wrk.requests_per_s:,.0f}" for r in runs) + ")"
            if len(runs) > 1
            else ""
        )
        count = queries(ds, target.key)
        path = ds.path(target.key) if target.method == "GET" else _write_path(ds, target.key)
        lines.append(
            f"| {target.label} | {target.method} `{path}` | {rps(ds, target.key):,.0f}{figures} "
            f"| {fmt_ms(p50(ds, target.key))} | {fmt_ms(p99(ds, target.key))} "
            f"| {rps(ds, target.key) / limit:.2f} | {count if count is not None else '–'} "
            f"| {max(r.peak_mb for r in runs):.0f} ({runs[-1].rss_mb:.0f}) "
            f"| {', '.join(f'{r.wrk.other_cpu:.0%}' for r in runs)} |"
        )
    return "\n".join(lines)


def time_table(ds: Dataset) -> str:
    """Where a request's time goes, in-process (no HTTP, one request at a time)."""
    lines = [
        "| request | ms per request | executing SQL | rendering templates | the rest "
        "| SQL statements |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for target in TARGETS:
        found = ds.inspect.get(target.key, {})
        if "ms" not in found:
            continue
        rest = found["ms"] - found["sql_ms"] - found["template_ms"]
        lines.append(
            f"| {target.label} | {found['ms']:.2f} | {found['sql_ms']:.2f} "
            f"| {found['template_ms']:.2f} | {rest:.2f} | {found['queries']} |"
        )
    return "\n".join(lines)


def _write_path(ds: Dataset, key: str) -> str:
    if key == "questionnaire":
        return "/patient/treatments/N/questionnaires/diary/?day=D"
    return "/patient/treatments/N/messages/send/"


def comparison_table(small: Dataset, large: Dataset) -> str:
    lines = [
        f"| request | req/s {small.patients:,} → {large.patients:,} | p50 ms | p99 ms "
        "| SQL statements | small ÷ large req/s | large ÷ small p50 | large ÷ small p99 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for target in TARGETS:
        if target.key not in large.runs or target.key not in small.runs:
            continue
        k = target.key
        lines.append(
            f"| {target.label} | {rps(small, k):,.0f} → {rps(large, k):,.0f} "
            f"| {fmt_ms(p50(small, k))} → {fmt_ms(p50(large, k))} "
            f"| {fmt_ms(p99(small, k))} → {fmt_ms(p99(large, k))} "
            f"| {queries(small, k)} → {queries(large, k)} "
            f"| {rps(small, k) / rps(large, k):.2f} | {p50(large, k) / p50(small, k):.2f} "
            f"| {p99(large, k) / p99(small, k):.2f} |"
        )
    return "\n".join(lines)


def seed_table(datasets: list[Dataset]) -> str:
    lines = [
        "| dataset | patients | enrolments | referrals | questionnaire responses | messages "
        "| progress events | audit events | seeding | `rebuild_attention` | ANALYZE |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for ds in datasets:
        rows = ds.seed["rows"]
        lines.append(
            f"| {ds.label} | {rows['care_patient']:,} | {rows['care_enrolment']:,} "
            f"| {rows['care_referral']:,} | {rows['questionnaires_response']:,} "
            f"| {rows['dialog_message']:,} | {rows['programmes_progressevent']:,} "
            f"| {rows['audit_auditevent']:,} | {ds.seed['seed_s']:.0f} s "
            f"| {ds.seed['rebuild_s']:.0f} s | {ds.seed['analyse_s']:.0f} s |"
        )
    return "\n".join(lines)


def budget_lines(found: list[Budget]) -> str:
    return "\n".join(f"{'PASS' if b.passed else 'FAIL'}  {b.name}: {b.detail}" for b in found)


def command_line() -> str:
    python = Path(sys.executable)
    if python.is_relative_to(BASE_DIR):
        python = python.relative_to(BASE_DIR)
    command = f"{python} benchmarks/bench.py"
    if sys.argv[1:]:
        command += " " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    return command


def render(ctx: dict[str, Any]) -> str:
    import django

    args = ctx["args"]
    datasets: list[Dataset] = ctx["datasets"]
    found: list[Budget] = ctx["budgets"]
    problems = [f"{ds.name}: {p}" for ds in datasets for p in ds.problems]
    failed = [b for b in found if not b.passed]
    tables = "\n\n".join(
        f"**{ds.label}**, the limit {rps(ds, 'minimal'):,.0f} req/s (mean of its "
        f"{len(ds.runs['minimal'])} runs):\n\n{result_table(ds)}"
        for ds in datasets
    )
    writers = " and ".join(f"{len(ds.writers):,} ({ds.name})" for ds in datasets)
    time_tables = "\n\n".join(f"**{ds.label}**:\n\n{time_table(ds)}" for ds in datasets)
    comparison = (
        "\n\nThe large dataset against the small one, both on PostgreSQL in this run:\n\n"
        + comparison_table(*datasets)
        if len(datasets) == 2
        else ""
    )
    scale = args.scale
    make = "make bench" + (f' BENCH_ARGS="--scale {scale}"' if scale != "small" else "")
    catch_up = "".join(
        f"\n**{ds.label}**: the first dashboard request after the writes, before the "
        "warm-up, recomputed the rows the writes had marked stale: "
        + ", ".join(f"{n:,} rows in {ms:,.0f} ms" for n, ms in ds.catch_up)
        + (" (one per round).\n" if len(ds.catch_up) > 1 else ".\n")
        for ds in datasets
        if ds.catch_up
    )
    checks = (
        "Checks: every page answered 200 and every write 302 (and stored one row) before the "
        "load; wrk saw no errors or non-2xx/3xx answers; the rows stored by each write run "
        "match wrk's request count, and so do the page views recorded for the programme page. "
        + (
            "All passed."
            if not problems
            else "Not everything passed:\n\n" + "\n".join(f"- {p}" for p in problems)
        )
    )
    verdict = (
        "Every budget is met."
        if not failed
        else f"{len(failed)} of {len(found)} budgets are not met: why, and what was done, is in "
        "[Where the budgets are missed](#where-the-budgets-are-missed-and-why) above."
    )
    title = (
        "SQLite, the small dataset"
        if scale == "small"
        else "PostgreSQL, the large dataset against the small one"
    )
    return f"""{START.format(scale=scale)}
## `{make}`: {title}

```
{ctx["command"]}
```

Run on {ctx["date"]}. {verdict}

- **Machine**: {os.cpu_count()} CPUs ({pp.cpu_model()}), {platform.platform(terse=True)};
  Python {platform.python_version()}, Django {django.get_version()}, gunicorn {ctx["gunicorn"]},
  {ctx["wrk"]}; {", ".join(sorted({ds.engine_version for ds in datasets}))}. wrk runs on the
  same machine and shares the CPUs with the server. CPUs busy with other work just before the
  load: {ctx["busy"]}; load average (1, 5, 15 min) before and after: {ctx["loadavg"][0]} /
  {ctx["loadavg"][1]}. "Other work" in the table is the share of the machine's CPU time that
  processes other than gunicorn, wrk, this script (and PostgreSQL's backends serving the
  workers) took during each run: the higher, the less the run is worth.
- **Server**: gunicorn, {args.workers} sync workers, `STEG_ENV=production` (DEBUG off,
  whitenoise with the manifest storage), `DJANGO_SETTINGS_MODULE=benchmarks.settings` (Steg's
  settings plus `/bench/minimal/` and `/bench/layout/`), `CONN_MAX_AGE = 60`, sessions in the
  database behind the local-memory cache (no `REDIS_URL`), as Steg's settings have it.
- **Data**: one unit with all the patients and 21 therapists (therapist 0, who logs in, has a
  quarter of them), seeded with set-based SQL (`INSERT ... SELECT` over `generate_series` on
  PostgreSQL, a recursive CTE on SQLite). Every patient has a referral (closed, enrolled; 1 in
  20 has a second, open one), an assessment talk and an enrolment in the tobacco programme (1
  in 20 invited, 1 in 20 paused, 1 in 20 completed, the rest active); each who has started
  has 10 progress events, 6 pages viewed, 2 exercises sent, a conversation of 10-11 messages,
  11 questionnaire responses (9 diary days, a withdrawal score, the motivation rulers) and a
  login in the audit log; 1 in 20 has a meeting next week. The benchmark patient is therapist
  0's first active patient, with the same history at every size.
- **Load**: `wrk -t {args.threads} -c {args.connections} -d {args.duration:g}s --latency`
  on loopback, {args.duration:g} s per request after a {args.warmup:g} s warm-up,
  {args.rounds} round(s); the reads carry the benchmark patient's or therapist's session
  cookie (real logins: the therapist with password and TOTP), the writes go through
  `benchmarks/lua/post.lua` (a POST with the CSRF token, a unique one-time token and the
  session of one of {writers} patients; one diary day of one patient per questionnaire
  request).
- **The limit**: `/bench/minimal/`, a five-line template rendered with the request through
  Steg's whole middleware stack with the patient's session (so the session and the user are
  loaded), measured first and after every round; ratio = the request's req/s ÷ the mean of
  the limit's runs. The layout page (`/bench/layout/`, no budget) is the same text inside
  Steg's layout (`base.html`: the header with its links and the patient's unread-message
  count, the footer): what every Steg page pays before its own work.
- **SQL statements**: counted in-process (Django test client, `CaptureQueriesContext`, so
  `BEGIN`, `COMMIT` and savepoints count too), the third request in a row.
- **Memory**: the highest `VmHWM` (peak resident set) of the gunicorn workers after each run.

{seed_table(datasets)}

{tables}{comparison}

Where the time of a request goes, measured in-process (Django's test client, no HTTP, one
request at a time, the connection closed after each as gunicorn does; mean of up to
{args.timed} requests, writes each with a new token or diary day): executing SQL in the
database driver, rendering templates, and the rest: the middleware, building queries and
turning rows into objects (the ORM's Python), and the view's own code.

{time_tables}

```
{budget_lines(found)}
```
{catch_up}
{checks}
{END.format(scale=scale)}
"""


def write_section(path: Path, scale: str, section: str) -> None:
    """Put the section in place of its earlier version; a new one goes after the small
    scale's section (the large one) or before the other benchmarks' sections."""
    start, end = START.format(scale=scale), END.format(scale=scale)
    text = path.read_text(encoding="utf-8") if path.exists() else "# Performance\n"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        text = before + section.rstrip("\n") + rest.split(end, 1)[1]
    else:
        small_end = END.format(scale="small")
        if scale == "large" and small_end in text:
            at = text.find(small_end) + len(small_end)
        else:
            markers = [START.format(scale="large"), *OTHER_SECTIONS]
            found = [text.find(m) for m in markers if m in text]
            at = min(found) if found else len(text)
        head, tail = text[:at].rstrip("\n"), text[at:].lstrip("\n")
        text = head + "\n\n" + section.rstrip("\n") + "\n\n" + tail
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


OTHER_SECTIONS = (
    "<!-- benchmarks/programme_pages.py",
    "<!-- benchmarks/dashboard.py",
    "<!-- benchmarks/automation.py",
)


# --- main ---------------------------------------------------------------------------------------


def kept_seed(ds: Dataset) -> dict[str, Any] | None:
    try:
        rows = sql_rows(ds, "SELECT seed FROM bench_seed")
    except Exception:  # noqa: BLE001 - no such table: not seeded by this script
        return None
    return json.loads(rows[0][0]) if rows else None


def keep_seed(ds: Dataset) -> None:
    import psycopg

    with psycopg.connect(ds.database_url, autocommit=True, connect_timeout=10) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_seed (seed text)")
        conn.execute("DELETE FROM bench_seed")
        conn.execute("INSERT INTO bench_seed VALUES (%s)", [json.dumps(ds.seed)])


def prepare(args: argparse.Namespace, ds: Dataset, tmp: Path, stack: ExitStack) -> None:
    """Create, migrate and seed the dataset's database."""
    reused = False
    if ds.engine == "postgresql":
        ds.database_url, reused = stack.enter_context(
            postgres_database(
                args.database_url,
                f"steg_bench_{ds.patients}",
                reuse=args.reuse,
                keep=args.keep or args.reuse,
                log=log,
            )
        )
    ds.env = pp.bench_environment(tmp, ds.database_url, None)
    ds.env["STEG_DATA_DIR"] = str(tmp / f"data-{ds.name}")
    seed = kept_seed(ds) if reused else None
    if reused and (seed is None or seed["writers_asked"] < args.writers):
        raise RuntimeError(
            f"the kept database of {ds.patients:,} patients does not fit these options: "
            "run without --reuse to seed it again"
        )
    if seed is not None:
        log(f"{ds.name}: reusing the {ds.patients:,} patients seeded earlier")
        ds.seed = seed
    else:
        pp.run_manage(ds.env, "migrate", "--noinput", timeout=900)
        log(f"{ds.name}: seeding {ds.patients:,} patients")
        ds.seed = run_helper(
            ds.env, "_seed", str(ds.patients), str(args.writers), timeout=args.time_limit
        )
        if ds.engine == "postgresql":
            keep_seed(ds)
    log(
        f"{ds.name}: seeded in {ds.seed['seed_s']:.0f} s, attention rebuilt in "
        f"{ds.seed['rebuild_s']:.0f} s, analysed in {ds.seed['analyse_s']:.0f} s: "
        + ", ".join(f"{k} {v:,}" for k, v in ds.seed["rows"].items())
    )
    if ds.engine == "postgresql":
        ds.engine_version = (
            "PostgreSQL " + str(sql_rows(ds, "SHOW server_version")[0][0]).split()[0]
        )
    else:
        ds.engine_version = f"SQLite {sqlite3.sqlite_version}"


def serve(args: argparse.Namespace, ds: Dataset, tmp: Path) -> None:
    ds.port = pp.free_port()
    ds.proc = pp.start_gunicorn(ds.env, ds.port, args.workers, tmp / f"gunicorn-{ds.name}.log")


def log_in(args: argparse.Namespace, ds: Dataset) -> None:
    assert ds.proc is not None  # noqa: S101
    pp.wait_until_serving(ds.port, ds.proc)
    ds.workers = worker_pids(ds.proc.pid)
    cookies = pp.log_in(ds.port, ds.seed["patient_email"], ds.seed["password"])
    ds.patient = {"sessionid": cookies["sessionid"], "steg_language": "sv"}
    cookies = dash.log_in_staff(ds.port, ds.seed)
    ds.staff = {"sessionid": cookies["sessionid"], "steg_language": "en"}
    ds.csrf = get_csrf(ds.port)
    writers = ds.seed["writers"][: args.writers]
    keys = run_helper(ds.env, "_sessions", stdin=[w[0] for w in writers], timeout=600)
    ds.writers = [(w[0], w[1], key) for w, key in zip(writers, keys, strict=True)]
    log(f"{ds.name}: logged in; sessions for {len(ds.writers):,} writers")


def main(argv: list[str]) -> int:
    if argv[:1] == ["_seed"]:
        print(json.dumps(_seed(int(argv[1]), int(argv[2])), default=str))
        return 0
    if argv[:1] == ["_sessions"]:
        print(json.dumps(_sessions(json.loads(sys.stdin.read()))))
        return 0
    if argv[:1] == ["_inspect"]:
        print(json.dumps(_inspect(json.loads(sys.stdin.read()))))
        return 0
    args = parse_args(argv)
    if not shutil.which("wrk"):
        log("wrk is not installed (apt-get install wrk)")
        return 2

    def on_alarm(signum: int, frame: types.FrameType | None) -> None:
        raise pp.Timeout(f"the benchmark took longer than {args.time_limit} s")

    def on_term(signum: int, frame: types.FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, on_term)
    signal.alarm(args.time_limit)
    if args.scale == "small":
        datasets = [Dataset("small", "sqlite", args.patients or 1000)]
    else:
        datasets = [
            Dataset("small", "postgresql", args.small_patients),
            Dataset("large", "postgresql", args.patients or 100_000),
        ]
    tmp = Path(tempfile.mkdtemp(prefix="steg-bench-"))
    try:
        with ExitStack() as stack:
            for ds in datasets:
                prepare(args, ds, tmp, stack)
            pp.run_manage(datasets[0].env, "collectstatic", "--noinput")
            try:
                for ds in datasets:
                    serve(args, ds, tmp)
                for ds in datasets:
                    log_in(args, ds)
                return _measure(args, datasets, tmp)
            except Exception:
                for ds in datasets:
                    logfile = tmp / f"gunicorn-{ds.name}.log"
                    if logfile.exists():
                        tail = logfile.read_text(errors="replace").splitlines()[-40:]
                        log(f"gunicorn log ({ds.name}):\n" + "\n".join(tail))
                raise
            finally:
                for ds in datasets:
                    if ds.proc is not None:
                        pp.stop_process_group(ds.proc)
                log("gunicorn stopped")
    finally:
        signal.alarm(0)
        for ds in datasets:
            if ds.proc is not None:
                pp.stop_process_group(ds.proc)
        if args.keep_folder:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def _measure(args: argparse.Namespace, datasets: list[Dataset], tmp: Path) -> int:
    # Quiet before the in-process timing too, not only before the load.
    pp.wait_for_idle(args.wait_idle)
    for ds in datasets:
        ds.problems += check_reads(ds)
        for key in ("questionnaire", "message"):
            problem = http_write(ds, key)
            if problem:
                ds.problems.append(problem)
        ds.inspect = run_helper(
            ds.env, "_inspect", stdin=inspect_spec(ds, args.profile, args.timed), timeout=900
        )
        for target in TARGETS:
            found = ds.inspect[target.key]
            expected = 200 if target.method == "GET" else 302
            if found["status"] != expected:
                ds.problems.append(
                    f"{target.label}: answered {found['status']} in-process, not {expected}"
                )
            log(f"{ds.name}: {target.label}: {found['queries']} SQL statements")
        if args.show_sql:
            for key, found in ds.inspect.items():
                print(f"--- {ds.name} {key}", file=sys.stderr)
                for sql in found["sql"]:
                    print("   ", sql[:300], file=sys.stderr)
    if args.in_process:
        for ds in datasets:
            print(time_table(ds))
            for problem in ds.problems:
                print(f"CHECK FAILED: {ds.name}: {problem}")
        return 1 if any(ds.problems for ds in datasets) else 0
    if any(ds.problems for ds in datasets) and not args.force:
        for ds in datasets:
            for problem in ds.problems:
                log(f"{ds.name}: {problem}")
        raise RuntimeError("the requests do not work as they should; not loading them")

    busy = pp.wait_for_idle(min(args.wait_idle, 300))
    loadavg = pp.load_average()
    selected = [t for t in TARGETS if t.kind != "limit" and (not args.only or t.key in args.only)]
    for ds in datasets:
        measure(args, ds, BY_KEY["minimal"], tmp, warm=True)
    for round_number in range(args.rounds):
        for target in selected:
            for ds in datasets:
                measure(args, ds, target, tmp, warm=round_number == 0)
        for ds in datasets:
            measure(args, ds, BY_KEY["minimal"], tmp, warm=False)
    for ds in datasets:
        ds.problems += [f"after the load: {p}" for p in check_reads(ds)]
        assert ds.proc is not None  # noqa: S101
        if sorted(worker_pids(ds.proc.pid)) != sorted(ds.workers):
            ds.problems.append("a gunicorn worker was replaced during the run (its peak is lost)")

    found = budgets(datasets)
    ctx = {
        "args": args,
        "datasets": datasets,
        "budgets": found,
        "command": command_line(),
        "busy": busy,
        "loadavg": (loadavg, pp.load_average()),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "gunicorn": re.sub(
            r"[^\d.]", "", pp.tool_version([sys.executable, "-m", "gunicorn", "--version"])
        ),
        "wrk": pp.tool_version(["wrk", "-v"]).split(" [")[0],
    }
    print()
    for ds in datasets:
        print(f"{ds.label}, the limit {rps(ds, 'minimal'):,.0f} req/s")
        print(result_table(ds))
        print()
        print(time_table(ds))
        print()
    if len(datasets) == 2:
        print(comparison_table(*datasets))
        print()
    print(budget_lines(found))
    for ds in datasets:
        for problem in ds.problems:
            print(f"CHECK FAILED: {ds.name}: {problem}")
    if not args.no_write:
        write_section(Path(args.output), args.scale, render(ctx))
        log(f"wrote its section of {args.output}")
    failed = any(not b.passed for b in found) or any(ds.problems for ds in datasets)
    return 1 if failed else 0


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--scale",
        choices=("small", "large"),
        default="small",
        help="small: SQLite, 1,000 patients; large: PostgreSQL, 100,000 patients, measured "
        "against 1,000 on the same server (default small)",
    )
    parser.add_argument("--patients", type=int, default=0, help="patients in the dataset")
    parser.add_argument(
        "--small-patients",
        type=int,
        default=1000,
        help="patients in the small dataset of a large run (1000)",
    )
    parser.add_argument(
        "--writers", type=int, default=2000, help="patients who write, each with a session (2000)"
    )
    parser.add_argument("--duration", type=float, default=10, help="seconds per request (10)")
    parser.add_argument("--warmup", type=float, default=2, help="warm-up seconds (2)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers (2)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL") or DEFAULT_SERVER,
        help=f"PostgreSQL server for --scale large (DATABASE_URL or {DEFAULT_SERVER})",
    )
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL databases")
    parser.add_argument(
        "--reuse", action="store_true", help="use PostgreSQL databases kept earlier (and keep them)"
    )
    parser.add_argument("--keep-folder", action="store_true", help="keep the throwaway folder")
    parser.add_argument(
        "--only", nargs="*", choices=[t.key for t in TARGETS if t.kind != "limit"], default=[]
    )
    parser.add_argument(
        "--timed", type=int, default=100, help="requests timed in-process per request (100)"
    )
    parser.add_argument("--profile", action="store_true", help="print cProfile of each page")
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="only the in-process timing (and --profile): no load, no report; for quick work",
    )
    parser.add_argument("--show-sql", action="store_true", help="print each request's SQL")
    parser.add_argument(
        "--force", action="store_true", help="load the requests even when a check fails"
    )
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=60,
        metavar="SECONDS",
        help="before the load, wait up to this long for the CPUs to be under 25 %% busy (60)",
    )
    parser.add_argument("--time-limit", type=int, default=3600, help="seconds in all (3600)")
    parser.add_argument("--no-write", action="store_true", help="do not write the report")
    parser.add_argument("--output", default=str(BASE_DIR / "docs" / "performance.md"))
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
