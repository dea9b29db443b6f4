"""Scale benchmark: the therapist's dashboard and the patient overview, 1,000 against 100,000
enrolments at one unit, on PostgreSQL.

    .venv/bin/python benchmarks/dashboard.py [--sizes 1000,100000] [--requests 100] [--rounds 3]
    make bench-dashboard BENCH_ARGS="--rounds 5"          # the same
    ... --database-url postgres://postgres@127.0.0.1:5432/postgres   # another server

Issue #7 asks that the dashboard "stays fast as the unit grows": the time of a page at 100,000
enrolments must be within 1.5 times its time at 1,000. What it does:

1. for each size, creates a PostgreSQL database of its own (``steg_bench_dashboard_<size>``,
   dropped afterwards unless ``--keep``; ``--reuse`` takes one kept earlier), migrates it and
   seeds one unit with that many enrolments and their history in set-based SQL (patients,
   assessment talks, enrolments in every status, progress events, messages read and unread,
   feedback, exercises, diary entries with slips, scored responses with flags, meetings),
   then runs ``rebuild_attention`` and ANALYZE (``_seed`` below, in a subprocess);
2. counts the SQL statements of each page in-process at each size (they must be equal) and
   keeps the plan of the dashboard's main query (``_inspect``, in a subprocess);
3. serves each database with its own gunicorn (2 sync workers, production settings,
   ``DJANGO_SETTINGS_MODULE=benchmarks.settings`` as in ``programme_pages.py``), logs the
   benchmark therapist in with a real login (password, then the TOTP code);
4. requests each page one at a time over HTTP, ``--requests`` times per round, the sizes
   interleaved page by page and round by round so that other work on the machine falls on
   both alike; reports the median and the 95th percentile of each, and the ratio
   100,000 / 1,000 of the medians;
5. exits with status 1 when a ratio exceeds ``--max-ratio`` (1.5) or the statement counts
   differ, and writes its section of docs/performance.md (``--no-write`` to skip).

The minimal page (``/bench/minimal/``) is measured the same way: its ratio shows how much the
machine's other work moved the numbers between the two servers.
Not part of the test suite: nothing here is collected by pytest.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import types
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

from benchmarks import programme_pages as pp  # noqa: E402
from benchmarks.common import postgres_database, replace_section  # noqa: E402

DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"
THERAPISTS = 21
BENCH_EMAIL = "therapist0@bench.example"
START = "<!-- benchmarks/dashboard.py: start -->"
END = "<!-- benchmarks/dashboard.py: end -->"


def log(message: str) -> None:
    print(f"[bench-dashboard] {message}", file=sys.stderr, flush=True)


# --- seeding (runs in a subprocess with Django set up on the size's database) -----------------

SEED_SQL = """
CREATE TEMP TABLE bench AS
SELECT g,
       -- Therapist 0, the one who logs in, has a quarter of the patients; 20 others the rest.
       CASE WHEN (g / 3) % 4 = 0 THEN 0 ELSE 1 + g % 20 END AS t,
       CASE g % 20 WHEN 0 THEN 'completed' WHEN 1 THEN 'paused' WHEN 2 THEN 'invited'
            ELSE 'active' END AS status,
       (g * 37) % 400 + 10 AS started_days,
       CASE WHEN g % 10 < 7 THEN (g * 7919) % 7 ELSE 8 + (g * 7919) % 30 END AS quiet_days
FROM generate_series(1, {n}) AS g;

INSERT INTO accounts_user (password, is_superuser, email, first_name, last_name, language,
    is_active, date_joined)
SELECT '!', false, 'patient' || g || '@bench.example',
       (ARRAY['Anna','Erik','Maria','Lars','Karin','Johan','Eva','Anders'])[1 + g % 8],
       'Bench' || g, 'sv', true, now() - interval '420 days'
FROM bench;

INSERT INTO care_patient (personnummer, first_name, last_name, phone, email, time_zone,
    created_at, user_id)
SELECT lpad(g::text, 12, '0'), u.first_name, u.last_name, '', u.email, 'Europe/Stockholm',
       u.date_joined, u.id
FROM bench JOIN accounts_user u ON u.email = 'patient' || g || '@bench.example';

ALTER TABLE bench ADD COLUMN patient_id bigint, ADD COLUMN user_id bigint,
    ADD COLUMN therapist_id bigint, ADD COLUMN assessment_id bigint,
    ADD COLUMN enrolment_id bigint;
UPDATE bench SET patient_id = p.id, user_id = p.user_id FROM care_patient p
WHERE p.personnummer = lpad(g::text, 12, '0');
UPDATE bench SET therapist_id = (%(therapists)s::bigint[])[t + 1];
CREATE INDEX ON bench (patient_id);

INSERT INTO care_assessment (held_on, mode, tobacco_type, tobacco_use, dependence_test,
    dependence_answers, motivation, confidence, notes, choice, choice_reason, created_at,
    patient_id, programme_id, therapist_id, unit_id)
SELECT (now() - make_interval(days => started_days + 7))::date, 'phone', 'cigarettes',
       '10 cigaretter om dagen', '', '{{}}', 7, 6, '', 'digital_guided', 'Vill sluta',
       now() - make_interval(days => started_days + 7), patient_id, %(programme)s,
       therapist_id, %(unit)s
FROM bench;
UPDATE bench SET assessment_id = a.id FROM care_assessment a WHERE a.patient_id = bench.patient_id;

INSERT INTO care_enrolment (status, created_at, started_at, quit_date, programme_version_id,
    unit_id, patient_id, attributes, consented_at, ended_at, guided, terms_version,
    therapist_id, assessment_id)
SELECT status, now() - make_interval(days => started_days + 1),
       CASE WHEN status = 'invited' THEN NULL ELSE now() - make_interval(days => started_days) END,
       CASE WHEN status = 'invited' THEN NULL
            ELSE (now() - make_interval(days => started_days - 7))::date END,
       %(version)s, %(unit)s, patient_id, '{{"tobacco": "smoking"}}',
       CASE WHEN status = 'invited' THEN NULL ELSE now() - make_interval(days => started_days) END,
       CASE WHEN status = 'completed' THEN now() - interval '1 day' ELSE NULL END,
       true, '2026-11', therapist_id, assessment_id
FROM bench;
UPDATE bench SET enrolment_id = e.id FROM care_enrolment e WHERE e.patient_id = bench.patient_id;
CREATE INDEX ON bench (enrolment_id);
DELETE FROM bench WHERE status = 'invited';  -- no history before the patient starts

-- Ten things the patient did, the latest `quiet_days` ago.
INSERT INTO programmes_progressevent (kind, subject, created_at, enrolment_id)
SELECT (ARRAY['page_viewed', 'page_read', 'exercise_saved', 'page_viewed',
               'checklist_ticked'])[1 + k % 5],
       'welcome', now() - make_interval(days => quiet_days + k, mins => g % 600), enrolment_id
FROM bench, generate_series(0, 9) AS k;

-- Exercises: two submitted; feedback on the first always, on the second for 9 in 10.
INSERT INTO programmes_exerciseanswer (key, draft, submitted_text, status, updated_at,
    submitted_at, last_submission_token, enrolment_id, page_id)
SELECT key, 'Mitt svar', 'Mitt svar', 'submitted', now() - make_interval(days => quiet_days + 6),
       now() - make_interval(days => quiet_days + 6), '', enrolment_id, %(page)s
FROM bench, unnest(ARRAY['reasons', 'triggers']) AS key;

-- A conversation: the patient writes, the therapist answers (feedback on the exercises), the
-- patient writes again; for 2 in 25 that last message is still unread.
INSERT INTO dialog_message (sender_role, body, created_at, client_token, link_kind, link_key,
    read_at, rule, enrolment_id, read_by_id, sender_id)
SELECT m.role, m.body, now() - make_interval(days => quiet_days + m.ago, mins => g % 600), '',
       m.kind, m.key,
       CASE WHEN m.role = 'patient' AND m.ago = 0 AND g % 25 IN (3, 4) THEN NULL
            WHEN m.role = 'patient' THEN now() - make_interval(days => quiet_days) END,
       '', enrolment_id,
       CASE WHEN m.role = 'patient' AND NOT (m.ago = 0 AND g % 25 IN (3, 4)) THEN therapist_id END,
       CASE WHEN m.role = 'staff' THEN therapist_id ELSE user_id END
FROM bench, (VALUES
    ('patient', 5, '', '', 'Hej! Jag har börjat med programmet och har en fråga om plåster.'),
    ('staff', 4, 'exercise', 'reasons', 'Tack för ditt svar, det låter som bra skäl att sluta.'),
    ('staff', 4, 'exercise', 'triggers', 'Bra att du känner igen dina situationer.'),
    ('patient', 0, '', '', 'Tack! Det går bättre nu, men kvällarna är svåra.')
) AS m(role, ago, kind, key, body)
WHERE NOT (m.key = 'triggers' AND g % 10 = 7);

-- Diary entries on the five days before the quiet ones; 1 in 50 used tobacco after quitting.
INSERT INTO questionnaires_response (questionnaire_id, day, status, answers, score, language,
    created_at, updated_at, submitted_at, submission_token, enrolment_id)
SELECT 'diary', (now() - make_interval(days => quiet_days + k))::date, 'submitted',
       jsonb_build_object('used', jsonb_build_array(g % 50 = 9 AND k = 0), 'craving',
                          jsonb_build_array(3 + g % 5)),
       NULL, 'sv', now() - make_interval(days => quiet_days + k),
       now() - make_interval(days => quiet_days + k),
       now() - make_interval(days => quiet_days + k), '', enrolment_id
FROM bench, generate_series(0, 4) AS k;

-- Scored responses: withdrawal (MNWS) with a flag for 1 in 100; motivation for 1 in 10.
INSERT INTO questionnaires_response (questionnaire_id, day, status, answers, score, language,
    created_at, updated_at, submitted_at, submission_token, enrolment_id)
SELECT 'mnws', (now() - make_interval(days => quiet_days))::date, 'submitted', '{{}}',
       jsonb_build_object('status', 'scored', 'total', '20', 'subscales', '{{}}'::jsonb,
                          'band', NULL, 'flags', jsonb_build_array('severe-low-mood'),
                          'missing', '[]'::jsonb),
       'sv', now(), now(), now() - make_interval(days => quiet_days), '', enrolment_id
FROM bench WHERE g % 100 = 11;
INSERT INTO questionnaires_response (questionnaire_id, day, status, answers, score, language,
    created_at, updated_at, submitted_at, submission_token, enrolment_id)
SELECT 'motivation', (now() - make_interval(days => started_days))::date, 'submitted',
       '{{"importance": [8], "confidence": [6]}}', NULL, 'sv', now(), now(),
       now() - make_interval(days => quiet_days), '', enrolment_id
FROM bench WHERE g % 10 = 3;

-- Meetings: one today for 1 in 100, one next week for 1 in 20.
INSERT INTO care_meeting (kind, mode, starts_at, ends_at, place, video_url, status,
    created_at, reschedule_message, sequence, created_by_id, enrolment_id, patient_id,
    therapist_id, unit_id)
SELECT 'follow_up', 'phone', m.starts_at, m.starts_at + interval '30 minutes', '', '',
       'booked', now() - interval '7 days', '', 0, therapist_id, enrolment_id, patient_id,
       therapist_id, %(unit)s
FROM (
    SELECT *, CASE WHEN mod(g, 100) = 13
                   THEN date_trunc('day', now() AT TIME ZONE 'Europe/Stockholm')
                        AT TIME ZONE 'Europe/Stockholm' + interval '23 hours'
                   ELSE now() + interval '7 days' + make_interval(mins => mod(g, 480))
              END AS starts_at
    FROM bench WHERE mod(g, 100) = 13 OR mod(g, 20) = 14
) AS m;
"""


def _seed(n: int) -> dict[str, Any]:
    """Seed one unit with `n` enrolments and their history; return what the measuring needs."""
    import django

    django.setup()
    from django.db import connection

    from steg.accounts.models import Organisation, Unit
    from steg.dashboard.attention import rebuild_all, refresh_time_based
    from steg.dashboard.models import Attention
    from steg.programmes.actions import import_programme
    from steg.programmes.models import Page
    from steg.testing.personas import PASSWORD, TOTP_SECRET, make_staff

    started = time.monotonic()
    region = Organisation.objects.create(name="Region Bench")
    unit = Unit.objects.create(organisation=region, name="Tobaksavvänjning Bench")
    therapists = [
        make_staff(f"therapist{i}@bench.example", f"Terapeut Nummer{i}", unit, "therapist")
        for i in range(THERAPISTS)
    ]
    version = import_programme(BASE_DIR / "programmes" / "tobacco-cessation").version
    page = Page.objects.get(version=version, key="my-reasons")
    params: dict[str, Any] = {
        "therapists": [t.pk for t in therapists],
        "programme": version.programme_id,
        "version": version.pk,
        "unit": unit.pk,
        "page": page.pk,
    }
    with connection.cursor() as cursor:
        # One statement at a time; those without parameters are sent as they are (so `%` is
        # the modulo operator there), those with them use mod().
        for statement in SEED_SQL.format(n=int(n)).split(";\n"):
            used = {k: v for k, v in params.items() if f"%({k})s" in statement}
            if used:
                cursor.execute(statement, used)
            elif statement.strip():
                cursor.execute(statement)
        # The overview's patient: the benchmark therapist's first active one with an unread
        # message (the same one at every size from 1,000 on).
        cursor.execute(
            "SELECT enrolment_id FROM bench WHERE t = 0 AND status = 'active' "
            "ORDER BY mod(g, 25) = 3 DESC, g LIMIT 1"
        )
        overview_enrolment = cursor.fetchone()[0]
        cursor.execute("SELECT patient_id FROM care_enrolment WHERE id = %s", [overview_enrolment])
        overview_patient = cursor.fetchone()[0]
        cursor.execute("DROP TABLE bench")
    rows = {}
    with connection.cursor() as cursor:
        for table in (
            "care_enrolment",
            "programmes_progressevent",
            "dialog_message",
            "programmes_exerciseanswer",
            "questionnaires_response",
            "care_meeting",
        ):
            cursor.execute(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed names
            rows[table] = cursor.fetchone()[0]
    seeded = time.monotonic() - started
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    started = time.monotonic()
    rebuilt = rebuild_all()
    rebuild_s = time.monotonic() - started
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    started = time.monotonic()
    refreshed = refresh_time_based()
    refresh_s = time.monotonic() - started
    return {
        "size": n,
        "rows": rows,
        "seed_s": seeded,
        "rebuild_s": rebuild_s,
        "attention_rows": rebuilt,
        "refresh_s": refresh_s,
        "refresh_changed": refreshed,
        "mine": Attention.objects.filter(therapist=therapists[0]).count(),
        "email": BENCH_EMAIL,
        "password": PASSWORD,
        "totp_secret": TOTP_SECRET,
        "overview_enrolment": overview_enrolment,
        "overview_patient": overview_patient,
    }


def _inspect(paths: list[str]) -> dict[str, Any]:
    """SQL statements of each page in-process (steady state), and the main query's plan."""
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from steg.accounts.models import User

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(User.objects.get(email=BENCH_EMAIL))
    result: dict[str, Any] = {"queries": {}, "plans": {}}
    for path in paths:
        for _ in range(2):
            client.get(path)
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path)
        if response.status_code != 200:
            raise RuntimeError(f"in-process GET {path} answered {response.status_code}")
        statements = [q["sql"] for q in captured.captured_queries]
        result["queries"][path] = len(statements)
        main = next((s for s in statements if 'FROM "dashboard_attention"' in s), None)
        if main:
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + main)
                plan = [row[0] for row in cursor.fetchall()]
            result["plans"][path] = plan
    return result


# --- the measuring process ---------------------------------------------------------------------


@dataclass
class Target:
    key: str
    label: str
    path: str


@dataclass
class Server:
    size: int
    database_url: str
    seed: dict[str, Any]
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    cookies: dict[str, str] = field(default_factory=dict)
    inspect: dict[str, Any] = field(default_factory=dict)


def totp(secret: str, at: float | None = None) -> str:
    """The current TOTP code (RFC 6238: SHA-1, 30 s, 6 digits), as allauth checks it."""
    key = base64.b32decode(secret)
    counter = int(at if at is not None else time.time()) // 30
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1_000_000:06d}"


def _csrf(body: bytes) -> str:
    match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body)
    if not match:
        raise RuntimeError("no CSRF token in the form")
    return match.group(1).decode()


def log_in_staff(port: int, seed: dict[str, Any]) -> dict[str, str]:
    """A real login: the password form, then the TOTP form."""
    cookies: dict[str, str] = {"steg_language": "en"}
    _s, _r, body = pp.http_request(port, "GET", "/account/login/", cookies)
    form = {
        "csrfmiddlewaretoken": _csrf(body),
        "login": seed["email"],
        "password": seed["password"],
    }
    status, response, _b = pp.http_request(port, "POST", "/account/login/", cookies, form)
    location = response.getheader("Location") or ""
    if status != 302 or "/2fa/" not in location:
        raise RuntimeError(f"login answered {status} {location}")
    _s, _r, body = pp.http_request(port, "GET", location, cookies)
    form = {"csrfmiddlewaretoken": _csrf(body), "code": totp(seed["totp_secret"])}
    status, response, _b = pp.http_request(port, "POST", location, cookies, form)
    if status != 302 or "/2fa/" in (response.getheader("Location") or ""):
        raise RuntimeError(f"the second factor answered {status}")
    return cookies


def timed_get(port: int, path: str, cookies: dict[str, str]) -> float:
    started = time.perf_counter()
    status, response, _b = pp.http_request(port, "GET", path, cookies)
    elapsed = time.perf_counter() - started
    if status != 200:
        raise RuntimeError(f"GET {path} answered {status} {response.getheader('Location') or ''}")
    return elapsed


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[index]


def run_helper(env: dict[str, str], *args: str, timeout: float) -> dict[str, Any]:
    """Run this script in a subprocess (Django set up there) and read its JSON answer."""
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), *args],
        cwd=BASE_DIR,
        env=env,
        check=False,
        timeout=timeout,
        capture_output=True,
        text=True,
    )
    if out.stderr.strip():
        log(out.stderr.strip()[-4000:])
    if out.returncode:
        raise RuntimeError(f"{' '.join(args)} failed with status {out.returncode}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def targets(overview: str) -> list[Target]:
    dashboard = "/staff/dashboard/"
    return [
        Target("minimal", "Minimal page", "/bench/minimal/"),
        Target("mine", "Dashboard: my patients", dashboard),
        Target("mine_inactive", "Dashboard: my patients, inactive", f"{dashboard}?flag=inactive"),
        Target("unit", "Dashboard: the unit's patients", f"{dashboard}?scope=unit"),
        Target(
            "unit_unread",
            "Dashboard: the unit's patients, unread messages",
            f"{dashboard}?scope=unit&flag=unread",
        ),
        Target("overview", overview, "OVERVIEW"),
    ]


def overview_path(server: Server) -> tuple[str, str]:
    """The patient overview (another change's page) if it is there, else the patient record."""
    probe = f"/staff/enrolments/{server.seed['overview_enrolment']}/overview/"
    status, _r, _b = pp.http_request(server.port, "GET", probe, dict(server.cookies))
    if status == 200:
        return "Patient overview (`dashboard:overview`)", probe
    return (
        "Patient record (`care:patient_record`; no `dashboard:overview` yet)",
        f"/staff/patients/{server.seed['overview_patient']}/",
    )


def main(argv: list[str]) -> int:
    if argv[:1] == ["_seed"]:
        print(json.dumps(_seed(int(argv[1])), default=str))
        return 0
    if argv[:1] == ["_inspect"]:
        print(json.dumps(_inspect(argv[1:])))
        return 0
    args = parse_args(argv)
    limit = args.time_limit

    def on_alarm(signum: int, frame: types.FrameType | None) -> None:
        raise pp.Timeout(f"the benchmark took longer than {limit} s")

    def on_term(signum: int, frame: types.FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, on_term)
    signal.alarm(limit)
    tmp = Path(tempfile.mkdtemp(prefix="steg-bench-dashboard-"))
    servers: list[Server] = []
    try:
        with ExitStack() as stack:
            static_done = False
            for size in args.sizes:
                url, existed = stack.enter_context(
                    postgres_database(
                        args.database_url,
                        f"steg_bench_dashboard_{size}",
                        reuse=args.reuse,
                        keep=args.keep or args.reuse,
                        log=log,
                    )
                )
                env = pp.bench_environment(tmp, url, None)
                if not static_done:
                    pp.run_manage(env, "collectstatic", "--noinput")
                    static_done = True
                seed_file = tmp / f"seed-{size}.json"
                if existed and (kept := _kept_seed(url)) is not None:
                    log(f"reusing the {size:,} enrolments seeded earlier")
                    seed = kept
                else:
                    pp.run_manage(env, "migrate", "--noinput", timeout=600)
                    log(f"seeding {size:,} enrolments")
                    seed = run_helper(env, "_seed", str(size), timeout=limit)
                    _keep_seed(url, seed)
                seed_file.write_text(json.dumps(seed))
                log(
                    f"{size:,}: seeded in {seed['seed_s']:.0f} s, rebuilt "
                    f"{seed['attention_rows']:,} rows in {seed['rebuild_s']:.1f} s"
                )
                servers.append(Server(size, url, seed))
            return _measure(args, tmp, servers)
    except Exception:
        for server in servers:
            logfile = tmp / f"gunicorn-{server.size}.log"
            if logfile.exists():
                tail = logfile.read_text(errors="replace").splitlines()[-30:]
                log(f"gunicorn log ({server.size}):\n" + "\n".join(tail))
        raise
    finally:
        signal.alarm(0)
        for server in servers:
            if server.proc is not None:
                pp.stop_process_group(server.proc)
        shutil.rmtree(tmp, ignore_errors=True)


def _kept_seed(url: str) -> dict[str, Any] | None:
    import psycopg

    with psycopg.connect(url, connect_timeout=10) as conn:
        try:
            row = conn.execute("SELECT seed FROM bench_seed").fetchone()
        except psycopg.errors.UndefinedTable:
            return None
    return json.loads(row[0]) if row else None


def _keep_seed(url: str, seed: dict[str, Any]) -> None:
    """Remember what was seeded, for --reuse."""
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_seed (seed text)")
        conn.execute("DELETE FROM bench_seed")
        conn.execute("INSERT INTO bench_seed VALUES (%s)", [json.dumps(seed)])


def _measure(args: argparse.Namespace, tmp: Path, servers: list[Server]) -> int:
    for server in servers:
        env = pp.bench_environment(tmp, server.database_url, None)
        server.port = pp.free_port()
        server.proc = pp.start_gunicorn(
            env, server.port, args.workers, tmp / f"gunicorn-{server.size}.log"
        )
    for server in servers:
        assert server.proc is not None
        pp.wait_until_serving(server.port, server.proc)
        server.cookies = log_in_staff(server.port, server.seed)
    overview_label, _path = overview_path(servers[0])
    pages = targets(overview_label)

    def path_for(target: Target, server: Server) -> str:
        return overview_path(server)[1] if target.key == "overview" else target.path

    for server in servers:
        env = pp.bench_environment(tmp, server.database_url, None)
        paths = [path_for(t, server) for t in pages if t.key != "minimal"]
        server.inspect = run_helper(env, "_inspect", *paths, timeout=600)

    busy = pp.wait_for_idle(args.wait_idle)
    loadavg = pp.load_average()
    samples: dict[tuple[str, int], list[float]] = {
        (t.key, s.size): [] for t in pages for s in servers
    }
    pids = [p for s in servers if s.proc for p in pp._server_pids(s.proc.pid)]
    machine0, busy0 = pp._machine_jiffies()
    ours0 = sum(pp._process_jiffies(p) for p in pids) + pp._own_and_children_jiffies()
    for round_number in range(args.rounds):
        log(f"round {round_number + 1} of {args.rounds}")
        for target in pages:
            for server in servers:
                path = path_for(target, server)
                for _ in range(args.warmup if round_number == 0 else 0):
                    timed_get(server.port, path, server.cookies)
                for _ in range(args.requests):
                    samples[(target.key, server.size)].append(
                        timed_get(server.port, path, server.cookies)
                    )
    machine1, busy1 = pp._machine_jiffies()
    ours1 = sum(pp._process_jiffies(p) for p in pids) + pp._own_and_children_jiffies()
    other = max(((busy1 - busy0) - (ours1 - ours0)) / max(machine1 - machine0, 1), 0.0)

    small, large = servers[0], servers[-1]
    results = []
    failed: list[str] = []
    for target in pages:
        row: dict[Any, Any] = {"target": target}
        for server in servers:
            values = samples[(target.key, server.size)]
            row[server.size] = {
                "median": statistics.median(values) * 1000,
                "p95": percentile(values, 0.95) * 1000,
                "queries": server.inspect["queries"].get(path_for(target, server)),
                "path": path_for(target, server),
            }
        row["ratio"] = row[large.size]["median"] / row[small.size]["median"]
        row["ratio_p95"] = row[large.size]["p95"] / row[small.size]["p95"]
        if target.key != "minimal" and row["ratio"] > args.max_ratio:
            failed.append(f"{target.label}: {row['ratio']:.2f} > {args.max_ratio}")
        if row[small.size]["queries"] != row[large.size]["queries"]:
            failed.append(
                f"{target.label}: {row[small.size]['queries']} statements at {small.size:,}, "
                f"{row[large.size]['queries']} at {large.size:,}"
            )
        results.append(row)
    context = {
        "args": args,
        "servers": servers,
        "results": results,
        "failed": failed,
        "busy": busy,
        "other": other,
        "loadavg": (loadavg, pp.load_average()),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    print(table(context))
    for problem in failed:
        print(f"FAILED: {problem}")
    if not args.no_write:
        replace_section(Path(args.output), render(context), START, END)
        log(f"wrote its section of {args.output}")
    return 1 if failed else 0


# --- the report --------------------------------------------------------------------------------


def table(ctx: dict[str, Any]) -> str:
    small, large = ctx["servers"][0], ctx["servers"][-1]
    lines = [
        f"| page | SQL statements | median ms at {small.size:,} | p95 | median ms at "
        f"{large.size:,} | p95 | ratio of medians | ratio of p95 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in ctx["results"]:
        a, b = row[small.size], row[large.size]
        queries = (
            str(a["queries"])
            if a["queries"] == b["queries"]
            else f"{a['queries']} / {b['queries']}"
        )
        lines.append(
            f"| {row['target'].label} | {queries if a['queries'] is not None else '–'} "
            f"| {a['median']:.1f} | {a['p95']:.1f} | {b['median']:.1f} | {b['p95']:.1f} "
            f"| **{row['ratio']:.2f}** | {row['ratio_p95']:.2f} |"
        )
    return "\n".join(lines)


def _plan_summary(plan: list[str]) -> str:
    scans = [
        re.sub(r"\s+\(cost=.*", "", line.strip().lstrip("-> ").strip())
        for line in plan
        if "Scan" in line
    ]
    timing = next((line.strip() for line in plan if line.startswith("Execution Time")), "")
    return "; ".join(scans) + (f" ({timing.lower()})" if timing else "")


def render(ctx: dict[str, Any]) -> str:
    args = ctx["args"]
    servers: list[Server] = ctx["servers"]
    small, large = servers[0], servers[-1]
    python = Path(sys.executable)
    if python.is_relative_to(BASE_DIR):
        python = python.relative_to(BASE_DIR)
    command = f"{python} benchmarks/dashboard.py"
    if sys.argv[1:]:
        command += " " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    seeds_header = (
        "| enrolments | in the table | progress events | messages | responses | exercises "
        "| meetings | the therapist's open treatments | seeding | `rebuild_attention` "
        "| `refresh_attention` after it |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    seeds = "\n".join(
        f"| {s.size:,} | {s.seed['rows']['care_enrolment']:,} | "
        f"{s.seed['rows']['programmes_progressevent']:,} | {s.seed['rows']['dialog_message']:,} | "
        f"{s.seed['rows']['questionnaires_response']:,} | "
        f"{s.seed['rows']['programmes_exerciseanswer']:,} | {s.seed['rows']['care_meeting']:,} | "
        f"{s.seed['mine']:,} | {s.seed['seed_s']:.0f} s | {s.seed['rebuild_s']:.1f} s | "
        f"{s.seed['refresh_s'] * 1000:.0f} ms |"
        for s in servers
    )
    plans = "\n".join(
        f"- `{path}`: {_plan_summary(plan)}"
        for path, plan in large.inspect.get("plans", {}).items()
    )
    verdict = (
        f"Every page's ratio is within {args.max_ratio}, and every page runs the same number of "
        "SQL statements at both sizes."
        if not ctx["failed"]
        else "Not within the budget in this run:\n\n" + "\n".join(f"- {f}" for f in ctx["failed"])
    )
    import django

    return f"""{START}
## The dashboard at 1,000 and 100,000 enrolments

Issue #7: the therapist's dashboard must run a fixed number of queries per page and stay fast as
the unit grows: the time of each page at 100,000 enrolments within 1.5 times its time at 1,000.
How the dashboard does it (a denormalised `Attention` row per open enrolment, counters per unit
and therapist, partial indexes per flag) is described in [dashboard.md](dashboard.md). The
numbers below were produced by `benchmarks/dashboard.py`; run it again with
`make bench-dashboard` after changing the dashboard or what feeds it (it is not part of
`make test`).

```
{command}
```

- **Machine**: {os.cpu_count()} CPUs ({pp.cpu_model()}), {platform.platform(terse=True)};
  Python {platform.python_version()}, Django {django.get_version()},
  PostgreSQL on loopback ({args.database_url.rsplit("@", 1)[-1].split("/")[0]}). CPUs busy with
  other work just before the measuring: {ctx["busy"]}; share of the machine's CPU time other
  processes took while it ran: {ctx["other"]:.0%}; load average before and after:
  {ctx["loadavg"][0]} / {ctx["loadavg"][1]}.
- **Data**: one database per size, one unit, {THERAPISTS} therapists; the enrolments cycle
  through the statuses (1 in 20 completed, paused, invited; the rest active) and each started
  patient has a history: 10 progress events, 3–4 messages (1 in 12.5 with the last one unread),
  2 submitted exercises with feedback (1 in 10 waiting for it), 5 diary entries (1 in 50 with a
  slip after the quit date), a flagged withdrawal score (1 in 100), a motivation response
  (1 in 10), meetings (1 in 100 today, 1 in 20 next week); 3 in 10 have been inactive for more
  than a week. Seeded with set-based SQL, then `rebuild_attention` and `VACUUM ANALYZE`.
- **Server**: for each size its own gunicorn (2 sync workers), `STEG_ENV=production`,
  `DJANGO_SETTINGS_MODULE=benchmarks.settings`, `CONN_MAX_AGE = 60`; the benchmark therapist
  (therapist 0 of {THERAPISTS}) logs in for real (password, then TOTP).
- **Load**: one request at a time over HTTP (a new connection each, as with wrk and gunicorn's
  sync workers), {args.requests} requests per page and size in each of {args.rounds} rounds after
  {args.warmup} warm-up requests, the two sizes interleaved page by page and round by round.
  Median and 95th percentile of the {args.requests * args.rounds} requests of each; the ratio is
  {large.size:,} ÷ {small.size:,}. SQL statements counted in-process (Django test client,
  `CaptureQueriesContext`) at each size.

Run on {ctx["date"]}.

{seeds_header}
{seeds}

{table(ctx)}

{verdict} The minimal page's ratio shows how far the machine's other work alone moved the
numbers between the two servers.

Plans of the dashboard's main query at {large.size:,} enrolments (`EXPLAIN ANALYZE`):

{plans}

The dashboard page costs: the user and their memberships (2 statements, as every staff page),
the counters summed over the few `FlagCounts` rows of the scope (1), the 25 rows of the page
from an index in the dashboard's order (1; a filtered page reads a partial index holding only
the rows with that flag), and the audit event of the list read (4 with its advisory lock and
savepoint). The page count comes from the counters, never from a `COUNT(*)` over the rows.
Pages deep into a unit of 100,000 (page 2,000, say) still pay for the rows skipped by `OFFSET`;
the first pages, where what needs attention is, do not.
{END}
"""


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL") or DEFAULT_SERVER,
        help="PostgreSQL server to create the databases on (default: DATABASE_URL or "
        f"{DEFAULT_SERVER})",
    )
    parser.add_argument(
        "--sizes",
        default="1000,100000",
        type=lambda v: sorted(int(x) for x in v.split(",")),
        help="numbers of enrolments to compare, smallest first (default 1000,100000)",
    )
    parser.add_argument("--requests", type=int, default=100, help="requests per page per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max-ratio", type=float, default=1.5)
    parser.add_argument("--wait-idle", type=float, default=60, help="seconds to wait for idle")
    parser.add_argument("--time-limit", type=int, default=3600)
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    parser.add_argument(
        "--reuse", action="store_true", help="use databases kept earlier (implies --keep)"
    )
    parser.add_argument("--no-write", action="store_true", help="do not write the report")
    parser.add_argument("--output", default=str(BASE_DIR / "docs" / "performance.md"))
    args = parser.parse_args(argv)
    if len(args.sizes) < 2:
        parser.error("--sizes needs two sizes at least")
    return args


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
