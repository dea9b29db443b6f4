"""Load benchmark: the patient's programme pages against a minimal Django page, same server.

    .venv/bin/python benchmarks/programme_pages.py [--duration 10] [--rounds 3]
    make bench-programme BENCH_ARGS="--rounds 3"          # the same
    ... --database-url postgres://postgres@127.0.0.1:5432/postgres   # PostgreSQL instead

What it does, all in a throwaway folder that is removed afterwards:

1. migrate, ``load_demo --quiet`` (imports programmes/example, enrols the demo patient) and
   ``collectstatic`` with production settings (``STEG_ENV=production``, DEBUG off) and
   ``DJANGO_SETTINGS_MODULE=benchmarks.settings`` (Steg's settings plus /bench/minimal/);
   with ``--database-url`` a throwaway PostgreSQL database is created and dropped instead;
2. serves that with gunicorn (2 sync workers) on a free loopback port;
3. logs the demo patient in with a real login POST (CSRF token and all) to get a session;
4. checks that every URL answers 200 with that session (not a redirect to the login page);
5. counts SQL statements per request in-process (Django test client +
   CaptureQueriesContext), before and after the load;
6. runs wrk against each URL (the pages ``--rounds`` times, interleaved, the minimal page
   first and after each round), parses requests/s and latency p50/p99, measures the CPU
   other processes take meanwhile, and checks that the programme page views recorded match
   wrk's request count;
7. times in-process where a request's time goes (SQL, commits, connecting, templates) and
   profiles each page with cProfile (``--profile`` prints the full profiles);
8. prints a table and writes docs/performance.md (``--no-write`` to skip).

gunicorn is always stopped (try/finally, also on Ctrl-C, SIGTERM and the overall time limit).
Not part of the test suite: nothing here is collected by pytest.
"""

from __future__ import annotations

import argparse
import cProfile
import http.client
import io
import os
import platform
import pstats
import re
import resource
import secrets
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import types
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

SETTINGS_MODULE = "benchmarks.settings"
# Its section of docs/performance.md is between these markers.
START = "<!-- benchmarks/programme_pages.py: start -->"
END = "<!-- benchmarks/programme_pages.py: end -->"
# Settings that come from the environment and must not leak in from the caller's shell.
INHERITED_SETTINGS = (
    "DATABASE_URL",
    "REDIS_URL",
    "DEBUG",
    "SECRET_KEY",
    "SECRET_KEY_FILE",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "STATIC_ROOT",
    "EMAIL_BACKEND",
    "SECURE_SSL_REDIRECT",
    "LOG_LEVEL",
    "BENCH_CONN_MAX_AGE",
)


@dataclass
class Target:
    key: str
    label: str
    path: str = ""
    logged_in: bool = True


@dataclass
class WrkResult:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx_3xx: int
    socket_errors: int
    raw: str
    other_cpu: float = float("nan")  # share of all CPUs used by processes not in the benchmark


@dataclass
class Breakdown:
    """Mean per request, measured in-process with the test client."""

    total_ms: float
    sql_ms: float  # executing statements in the database driver
    commit_ms: float
    connection_ms: float  # connecting (with the init PRAGMAs) and closing, as a server does
    template_ms: float  # template rendering, SQL run from templates excluded


@dataclass
class Row:
    target: Target
    runs: list[WrkResult] = field(default_factory=list)
    queries_before: int = 0
    queries_after: int = 0
    writes: int = 0
    sql: list[str] = field(default_factory=list)
    breakdown: Breakdown | None = None
    hot_spots: list[tuple[str, float]] = field(default_factory=list)


class Timeout(Exception):
    pass


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --- the environment ------------------------------------------------------------------------


def bench_environment(tmp: Path, database_url: str, conn_max_age: int | None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("STEG_") and k not in INHERITED_SETTINGS
    }
    env.update(
        DJANGO_SETTINGS_MODULE=SETTINGS_MODULE,
        PYTHONPATH=str(BASE_DIR),
        # Production settings, so that DEBUG is off and static files are served the way a
        # deployment serves them (whitenoise, manifest storage, no finders, no autorefresh).
        STEG_ENV="production",
        SECRET_KEY=secrets.token_urlsafe(64),
        ALLOWED_HOSTS="127.0.0.1",
        STEG_ALLOW_SQLITE="true",
        STEG_SMS_BACKEND="steg.dialog.sms.NullSmsBackend",
        SECURE_SSL_REDIRECT="false",  # plain HTTP on loopback, no TLS proxy in front
        STEG_DATA_DIR=str(tmp / "data"),
        STATIC_ROOT=str(tmp / "static"),
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        LOG_LEVEL="WARNING",
    )
    if database_url:
        env["DATABASE_URL"] = database_url
    if conn_max_age is not None:
        env["BENCH_CONN_MAX_AGE"] = str(conn_max_age)
    return env


def run_manage(env: dict[str, str], *args: str, timeout: float = 300) -> None:
    log("manage.py " + " ".join(args))
    subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        check=True,
        timeout=timeout,
        stdout=subprocess.DEVNULL,
    )


@contextmanager
def throwaway_postgres_database(server_url: str) -> Iterator[str]:
    """A fresh database on the given PostgreSQL server, dropped afterwards."""
    import psycopg

    parts = urllib.parse.urlsplit(server_url)
    name = f"steg_bench_{secrets.token_hex(4)}"
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    log(f"created PostgreSQL database {name}")
    try:
        yield parts._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(admin, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        log(f"dropped PostgreSQL database {name}")


# --- gunicorn -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_gunicorn(
    env: dict[str, str], port: int, workers: int, logfile: Path
) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "steg.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "sync",
        "--timeout",
        "60",
        "--graceful-timeout",
        "5",
        "--error-logfile",
        str(logfile),
    ]
    log(" ".join(command[2:]))
    # A session of its own, so that stopping it stops the workers and nothing else.
    return subprocess.Popen(command, cwd=BASE_DIR, env=env, start_new_session=True)


def stop_process_group(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


# --- HTTP with a session --------------------------------------------------------------------


def http_request(
    port: int,
    method: str,
    path: str,
    cookies: dict[str, str],
    body: dict[str, str] | None = None,
) -> tuple[int, http.client.HTTPResponse, bytes]:
    """One request, no redirects followed; Set-Cookie values are merged into `cookies`."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Host": f"127.0.0.1:{port}"}
    if cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    data = None
    if body is not None:
        data = urllib.parse.urlencode(body)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        content = response.read()
    finally:
        conn.close()
    for header in response.headers.get_all("Set-Cookie") or []:
        jar: SimpleCookie = SimpleCookie()
        jar.load(header)
        for name, morsel in jar.items():
            cookies[name] = morsel.value
    return response.status, response, content


def wait_until_serving(port: int, proc: subprocess.Popen[bytes], limit: float = 30) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}")
        try:
            status, _r, _b = http_request(port, "GET", "/bench/minimal/", {})
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise Timeout(f"gunicorn did not answer within {limit} s")


def log_in(port: int, email: str, password: str) -> dict[str, str]:
    """A real login: GET the form for the CSRF token, POST it; return the cookies."""
    cookies: dict[str, str] = {}
    status, _r, body = http_request(port, "GET", "/account/login/", cookies)
    if status != 200:
        raise RuntimeError(f"GET /account/login/ answered {status}")
    match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body)
    if not match:
        raise RuntimeError("no CSRF token in the login form")
    form = {
        "csrfmiddlewaretoken": match.group(1).decode(),
        "login": email,
        "password": password,
    }
    status, response, _b = http_request(port, "POST", "/account/login/", cookies, form)
    if status != 302 or "sessionid" not in cookies:
        raise RuntimeError(f"login answered {status} ({response.getheader('Location')})")
    return cookies


def check_ok(port: int, cookies: dict[str, str], targets: list[Target]) -> list[str]:
    problems = []
    for target in targets:
        status, response, _b = http_request(port, "GET", target.path, dict(cookies))
        location = response.getheader("Location") or ""
        log(f"GET {target.path} -> {status} {location}".rstrip())
        if status != 200:
            problems.append(f"{target.path} answered {status} {location}".rstrip())
    return problems


# --- wrk ------------------------------------------------------------------------------------

_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _latency_ms(text: str, percentile: str) -> float:
    match = re.search(rf"^\s*{percentile}%\s+([\d.]+)(us|ms|s)\s*$", text, re.MULTILINE)
    return float(match.group(1)) * _UNIT_MS[match.group(2)] if match else float("nan")


def wrk_command(
    url: str, cookie_header: str, args: argparse.Namespace, duration: float
) -> list[str]:
    return [
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
        "-H",
        f"Cookie: {cookie_header}",
        url,
    ]


def _machine_jiffies() -> tuple[int, int]:
    """(all, busy) CPU time of the whole machine so far, in clock ticks."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]]
    return sum(fields), sum(fields) - fields[3] - fields[4]


def _process_jiffies(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime


def _server_pids(master: int) -> list[int]:
    pids = [master]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == master:
                pids.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return pids


def _own_and_children_jiffies() -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk, once it has exited
    return ticks * (own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime)


def run_wrk(
    command: list[str],
    duration: float,
    server_pid: int | None = None,
    also: Sequence[int] = (),
) -> WrkResult:
    """Run wrk; with server_pid, also measure how much CPU other processes took meanwhile
    (other than the server, wrk, this script and the processes in `also`, such as the
    database server's backends that serve the workers)."""
    pids = [*_server_pids(server_pid), *also] if server_pid else []
    machine0, busy0 = _machine_jiffies()
    ours0 = sum(_process_jiffies(p) for p in pids) + _own_and_children_jiffies()
    out = subprocess.run(
        command, capture_output=True, text=True, timeout=duration + 60, check=True
    ).stdout
    machine1, busy1 = _machine_jiffies()
    ours1 = sum(_process_jiffies(p) for p in pids) + _own_and_children_jiffies()
    other = ((busy1 - busy0) - (ours1 - ours0)) / max(machine1 - machine0, 1)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    if not rps or not total:
        raise RuntimeError(f"could not parse wrk output:\n{out}")
    return WrkResult(
        requests_per_s=float(rps.group(1)),
        p50_ms=_latency_ms(out, "50"),
        p99_ms=_latency_ms(out, "99"),
        requests=int(total.group(1)),
        non_2xx_3xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(g) for g in sockets.groups()) if sockets else 0,
        raw=out,
        other_cpu=max(other, 0.0) if pids else float("nan"),
    )


# --- in-process measurements ------------------------------------------------------------------


class Instrument:
    """Counts and times SQL and template rendering in this process."""

    def __init__(self) -> None:
        self.sql_s = 0.0
        self.sql_in_templates_s = 0.0
        self.template_s = 0.0
        self.queries = 0
        self._rendering = 0

    def execute(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed = time.perf_counter() - start
            self.sql_s += elapsed
            self.queries += 1
            if self._rendering:
                self.sql_in_templates_s += elapsed

    @contextmanager
    def templates(self) -> Iterator[None]:
        from django.template.backends import django as backend

        original = backend.Template.render
        instrument = self

        def render(template: Any, context: Any = None, request: Any = None) -> Any:
            instrument._rendering += 1
            start = time.perf_counter()
            try:
                return original(template, context, request)
            finally:
                instrument._rendering -= 1
                if not instrument._rendering:
                    instrument.template_s += time.perf_counter() - start

        backend.Template.render = render  # type: ignore[method-assign,assignment]
        try:
            yield
        finally:
            backend.Template.render = original  # type: ignore[method-assign]


def django_client(cookies: dict[str, str]) -> Any:
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    for name, value in cookies.items():
        client.cookies[name] = value
    return client


def count_queries(cookies: dict[str, str], path: str) -> tuple[int, list[str]]:
    """SQL statements of one request in the steady state (after two warm-up requests)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = django_client(cookies)
    for _ in range(2):
        client.get(path)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    if response.status_code != 200:
        raise RuntimeError(f"in-process GET {path} answered {response.status_code}")
    statements = [q["sql"] for q in captured.captured_queries]
    return len(statements), statements


def breakdown(cookies: dict[str, str], path: str, requests: int) -> Breakdown:
    """Time requests in-process, closing connections after each one as a WSGI server does.

    The test client keeps the database connection open between requests; a server fires
    request_finished, which closes it unless CONN_MAX_AGE keeps it, so that is done here too.
    """
    from django.db import close_old_connections, connections

    client = django_client(cookies)
    for _ in range(3):
        client.get(path)
        close_old_connections()
    instrument = Instrument()
    db = connections["default"]
    timers = {"connect": 0.0, "commit": 0.0}

    def timed(name: str, function: Callable[[], None]) -> Callable[[], None]:
        def call() -> None:
            start = time.perf_counter()
            try:
                function()
            finally:
                timers[name] += time.perf_counter() - start

        return call

    # Instance attributes in front of the backend's methods, deleted again below.
    for name, method in (("connect", "connect"), ("commit", "_commit")):
        setattr(db, method, timed(name, getattr(db, method)))
    closing = 0.0
    try:
        with db.execute_wrapper(instrument.execute), instrument.templates():
            start = time.perf_counter()
            for _ in range(requests):
                client.get(path)
                closed = time.perf_counter()
                close_old_connections()
                closing += time.perf_counter() - closed
            total = time.perf_counter() - start
    finally:
        delattr(db, "connect")
        delattr(db, "_commit")
    return Breakdown(
        total_ms=1000 * total / requests,
        sql_ms=1000 * instrument.sql_s / requests,
        commit_ms=1000 * timers["commit"] / requests,
        connection_ms=1000 * (timers["connect"] + closing) / requests,
        template_ms=1000 * (instrument.template_s - instrument.sql_in_templates_s) / requests,
    )


# Parts of a request worth naming: (file ending, function, what it is).
HOT_SPOTS = [
    ("allauth/usersessions/models.py", "create_from_request", "allauth's user-session update"),
    ("django/contrib/auth/__init__.py", "get_user", "loading the user of the session"),
    ("steg/care/access.py", "get_enrolment_for_patient", "the enrolment and its access check"),
    ("steg/care/access.py", "get_own_patient", "the patient record (with its audit event)"),
    ("steg/care/access.py", "own_enrolments", "the patient's enrolments"),
    ("steg/programmes/outline.py", "get_outline", "the programme's outline"),
    ("steg/programmes/progress.py", "load_progress", "the patient's progress"),
    ("steg/programmes/actions.py", "record_page_view", "recording the page view"),
    ("django/shortcuts.py", "render", "rendering the templates"),
]


def profile(
    cookies: dict[str, str], path: str, requests: int, top: int
) -> tuple[list[tuple[str, float]], str]:
    """Each HOT_SPOT's share of the request time under cProfile, and the top functions."""
    from django.db import close_old_connections

    client = django_client(cookies)
    for _ in range(3):
        client.get(path)
        close_old_connections()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(requests):
        client.get(path)
        close_old_connections()
    profiler.disable()
    stats = pstats.Stats(profiler)
    table: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    total = stats.total_tt  # type: ignore[attr-defined]
    shares = []
    for suffix, function, label in HOT_SPOTS:
        spent = sum(v[3] for k, v in table.items() if k[0].endswith(suffix) and k[2] == function)
        if spent:
            shares.append((label, spent / total))
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(top)
    return shares, out.getvalue()


def is_write(sql: str) -> bool:
    return sql.lstrip().split(" ", 1)[0].upper() in ("INSERT", "UPDATE", "DELETE")


# --- the report -----------------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_busy(interval: float = 2.0) -> float:
    """The fraction of all CPUs busy over `interval` seconds (from /proc/stat)."""

    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return sum(fields), idle

    total0, idle0 = sample()
    time.sleep(interval)
    total1, idle1 = sample()
    return 1 - (idle1 - idle0) / max(total1 - total0, 1)


def wait_for_idle(limit: float, threshold: float = 0.25) -> str:
    """Wait up to `limit` seconds for the machine to be mostly idle; say what was seen."""
    deadline = time.monotonic() + limit
    busy = cpu_busy()
    while busy > threshold and time.monotonic() < deadline:
        log(f"the CPUs are {busy:.0%} busy with other work; waiting")
        busy = cpu_busy()
    return f"{busy:.0%}"


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def tool_version(command: list[str]) -> str:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    text = (result.stdout or result.stderr).strip().splitlines()
    return text[0] if text else "unknown"


def mean_rps(row: Row) -> float:
    return statistics.fmean(r.requests_per_s for r in row.runs)


def fmt_ms(value: float) -> str:
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def result_table(rows: list[Row], baseline_rps: float) -> str:
    """One line per page: mean requests/s (each run's figure after it), median latencies."""
    lines = [
        "| page | URL | req/s (runs) | p50 ms | p99 ms | ratio to minimal | SQL statements "
        "| other work |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        queries = (
            str(row.queries_before)
            if row.queries_before == row.queries_after
            else f"{row.queries_before} → {row.queries_after}"
        )
        runs = (
            " (" + ", ".join(f"{r.requests_per_s:,.0f}" for r in row.runs) + ")"
            if len(row.runs) > 1
            else ""
        )
        p50 = statistics.median(r.p50_ms for r in row.runs)
        p99 = statistics.median(r.p99_ms for r in row.runs)
        other = ", ".join(f"{r.other_cpu:.0%}" for r in row.runs)
        lines.append(
            f"| {row.target.label} | `{row.target.path}` | {mean_rps(row):,.0f}{runs} | "
            f"{fmt_ms(p50)} | {fmt_ms(p99)} | {mean_rps(row) / baseline_rps:.2f} | {queries} "
            f"| {other} |"
        )
    return "\n".join(lines)


def rest_ms(b: Breakdown) -> float:
    return b.total_ms - b.sql_ms - b.commit_ms - b.connection_ms - b.template_ms


def breakdown_table(rows: list[Row]) -> str:
    lines = [
        "| page | ms/request | SQL statements | commits | connect + close | templates | the rest |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        b = row.breakdown
        if b is None:
            continue
        lines.append(
            f"| {row.target.label} | {b.total_ms:.2f} | {b.sql_ms:.2f} | {b.commit_ms:.2f} | "
            f"{b.connection_ms:.2f} | {b.template_ms:.2f} | {rest_ms(b):.2f} |"
        )
    return "\n".join(lines)


def hot_spot_table(rows: list[Row]) -> str:
    profiled = [r for r in rows if r.hot_spots]
    labels = [label for _s, _f, label in HOT_SPOTS]
    header = "| part of the request | " + " | ".join(r.target.label for r in profiled) + " |"
    lines = [header, "|---|" + "---:|" * len(profiled)]
    for label in labels:
        cells = []
        for row in profiled:
            share = dict(row.hot_spots).get(label)
            cells.append("–" if share is None else "<1%" if share < 0.005 else f"{share:.0%}")
        if any(c != "–" for c in cells):
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def queries_section(rows: list[Row]) -> str:
    parts = []
    for row in rows:
        if not row.sql:
            continue
        parts.append(f"**{row.target.label}** (`{row.target.path}`), {len(row.sql)} queries:\n")
        for sql in row.sql:
            text = re.sub(r"\s+", " ", sql)
            text = text if len(text) <= 140 else text[:137] + "..."
            text = text.replace("`", "'")
            parts.append(f"1. `{text}`")
        parts.append("")
    return "\n".join(parts)


WHY_WRITTEN = {
    "usersessions_usersession": (
        "allauth's user-session tracking (`allauth.usersessions`, "
        "`USERSESSIONS_TRACK_ACTIVITY = True`) updates `last_seen_at` on every logged-in request"
    ),
    "programmes_pageprogress": "the page's `PageProgress.last_viewed_at` (expected)",
    "programmes_progressevent": "a `ProgressEvent` in the patient's history (expected)",
    "audit_auditevent": "an audit event (reads the last hash of the chain, then appends)",
    "django_session": "the session",
}


def written_tables(statements: list[str]) -> list[str]:
    tables = []
    for sql in statements:
        match = re.match(r'\s*(?:UPDATE|INSERT INTO|DELETE FROM)\s+"?(\w+)"?', sql, re.IGNORECASE)
        if match and match.group(1) not in tables:
            tables.append(match.group(1))
    return tables


def repeated_statements(statements: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    for sql in statements:
        if sql.upper().startswith(("SELECT", "UPDATE", "INSERT", "DELETE")):
            seen[sql] = seen.get(sql, 0) + 1
    return [sql for sql, n in seen.items() if n > 1]


def observations(rows: list[Row]) -> str:
    lines = []
    for row in rows:
        tables = written_tables(row.sql)
        if not tables:
            lines.append(f"- **{row.target.label}** writes nothing.")
            continue
        why = "; ".join(f"`{t}`: {WHY_WRITTEN.get(t, 'written')}" for t in tables)
        lines.append(f"- **{row.target.label}** writes {len(tables)} table(s): {why}.")
        for sql in repeated_statements(row.sql):
            table = re.search(r'FROM "(\w+)"', sql)
            lines.append(
                f"  It also runs the same statement twice"
                f"{f' on `{table.group(1)}`' if table else ''} (the user is loaded once by "
                f"the authentication middleware and again through the user session's foreign "
                f"key)."
                if table and table.group(1).endswith("_user")
                else f"  It also runs one statement twice: `{sql[:100]}...`."
            )
    return "\n".join(lines)


def render_report(ctx: dict[str, Any]) -> str:
    rows: list[Row] = ctx["rows"]
    page_rows = [r for r in rows if r.target.key != "minimal"]
    minimal = next(r for r in rows if r.target.key == "minimal")
    baseline = ctx["baseline_rps"]
    anonymous = next((r for r in rows if r.target.key == "anonymous"), None)
    ratios = "\n".join(
        f"- **{r.target.label}**: {mean_rps(r):,.0f} ÷ {baseline:,.0f} = "
        f"**{mean_rps(r) / baseline:.2f}**"
        + (
            f" (and {mean_rps(r) / mean_rps(anonymous):.2f} of the minimal page without a session)"
            if anonymous is not None and r is not anonymous
            else ""
        )
        for r in page_rows
    )
    page_row = next((r for r in rows if r.target.key == "page"), None)
    page_b = page_row.breakdown if page_row else None
    minimal_b = minimal.breakdown
    where = ""
    anon_b = next((r.breakdown for r in rows if r.target.key == "anonymous"), None)
    if page_row and page_b and minimal_b and anon_b:
        transactions = sum(1 for sql in page_row.sql if sql.upper().startswith("BEGIN"))
        age = ctx["conn_max_age"]
        connecting = (
            "Steg's SQLite settings keep no connection between requests (`CONN_MAX_AGE = 0`), "
            "so every request that touches the database opens a new SQLite connection, runs "
            "the init PRAGMAs, and closes it again at the end"
            if not age
            else f"with `CONN_MAX_AGE = {age}` the connection is kept between requests"
        )
        where = (
            f"On the programme page ({page_b.total_ms:.2f} ms): {page_b.sql_ms:.2f} ms "
            f"executing its {len(page_row.sql)} SQL statements, {page_b.commit_ms:.2f} ms "
            f"committing its {transactions} transaction(s) (the "
            f"page-view writes), {page_b.connection_ms:.2f} ms connecting to the database and "
            f"closing the connection ({connecting}), {page_b.template_ms:.2f} ms rendering "
            f"templates (the blocks, the navigation and the layout) and {rest_ms(page_b):.2f} ms "
            f"for the rest: the middleware stack, building queries and turning rows into "
            f"objects (the ORM's Python), and the view's own code (outline, progress). The "
            f"logged-in minimal page pays the same middleware, session, user and user-session "
            f"work ({minimal_b.total_ms:.2f} ms in all); the minimal page without a session "
            f"touches no database at all ({anon_b.total_ms:.2f} ms). "
            + (
                "Under load the writes of the two workers also wait for each other, since "
                "SQLite lets one writer in at a time. "
                if ctx["database"].startswith("SQLite")
                else ""
            )
            + "gunicorn adds the HTTP side (a new TCP connection per request: sync workers "
            "do not keep connections alive), and wrk takes CPU from the same two cores."
        )
    history = ctx["history"]
    db = ctx["database"]
    return f"""{START}
## The patient's programme pages in detail (`make bench-programme`)

Each patient page is meant to run a fixed number of SQL queries, whatever the size of the
programme and however long the patient's history is (the script checks the second part: it
counts each page's statements before and after the load runs, which add thousands of
progress events to the patient's history). This section records where the time of the
programme pages goes: each page of the patient's programme is measured with
[wrk](https://github.com/wg/wrk) against a minimal Django page served by the same gunicorn in
the same run, and profiled in-process. The numbers below were produced by
`benchmarks/programme_pages.py`; run it again with `make bench-programme` after changing
anything on these pages.

### How it was measured

```
{ctx["command"]}
```

(`make bench-programme` runs the same script; pass options with
`make bench-programme BENCH_ARGS="--duration 30"`.)

- **Machine**: {ctx["nproc"]} CPUs ({ctx["cpu"]}), {ctx["os"]}; Python {ctx["python"]},
  Django {ctx["django"]}, gunicorn {ctx["gunicorn"]}, {ctx["wrk"]}. wrk runs on the same
  machine and shares the CPUs with the server. CPUs busy with other work just before the
  load runs: {ctx["busy"]}; load average (1, 5, 15 min) then: {ctx["loadavg"]}, and when
  the load runs ended: {ctx["loadavg_end"]}. Other work on the machine makes every number
  lower and noisier; the ratio, measured in the same run, much less.
- **Server**: gunicorn, {ctx["workers"]} sync workers, `STEG_ENV=production` (DEBUG off,
  whitenoise with the manifest storage after `collectstatic`, `SECURE_SSL_REDIRECT=false`
  because there is no TLS proxy on loopback), `DJANGO_SETTINGS_MODULE=benchmarks.settings`
  (Steg's settings with one extra URL, `/bench/minimal/`). Database: {db}, in a throwaway
  folder, loaded with `manage.py migrate` and `manage.py load_demo --quiet`.
- **Load**: `{ctx["wrk_command"]}`: {ctx["threads"]} threads, {ctx["connections"]}
  connections, {ctx["duration"]:g} s per URL after a {ctx["warmup"]:g} s warm-up, on
  loopback, {ctx["rounds"]} round(s). Every request carries the demo patient's session
  cookie (from a real login POST) and `steg_language=sv`; the script checks before and after
  the load that each URL answers 200, not a redirect to the login page, and that the number
  of programme page views recorded matches the number of requests wrk counted.
- **Minimal page**: a view that renders a five-line template with the request (context
  processors run) through Steg's full middleware stack. With the session cookie, the
  session and the user are loaded for it as well, so it is the floor for any logged-in page.
  It is measured first and after every round; the ratio uses the mean of its runs. The same
  page without the session cookie ("not logged in") shows what the session, user and
  user-session lookups cost on their own.
- **SQL statements per request**: counted in-process with Django's test client and
  `CaptureQueriesContext` (so `BEGIN`/`COMMIT` count too), in the steady state (third
  request in a row), before the load and again after it, when the patient's history had
  grown from {history[0]:,} to {history[1]:,} progress events.

Run on {ctx["date"]}.

### Results

{result_table(rows, baseline)}

req/s is the mean of a page's runs (each run in brackets when there were several); p50 and
p99 are the median of the runs' latency percentiles; "other work" is the share of the
machine's CPU time that processes other than gunicorn, wrk and the script took during each
run (other people's work on a shared machine: the higher, the less the run is worth).
Ratio = requests/s of the page ÷
requests/s of the minimal page (mean of its runs, {baseline:,.0f} req/s):

{ratios}

{ctx["odd"]}

### Where the time goes

Mean milliseconds per request in-process (Django test client, no HTTP, one process, mean of
{ctx["breakdown_requests"]} requests after warm-up, measured after the load runs):

{breakdown_table(rows)}

{where}

Share of each page's time by part (cProfile of 100 requests in-process, connections closed
after each request as above; parts nest, so a column does not add up to 100 %, and the
profiler inflates Python-heavy parts such as the ORM more than SQLite's C code; the first
query of a request also pays for opening the database connection, which here is the one
that loads the user):

{hot_spot_table(rows)}

{ctx["conn_hint"]}

What each page writes:

{observations(rows)}

<details>
<summary>The SQL statements of one request to each page</summary>

{queries_section(rows)}
</details>
"""


# --- main -----------------------------------------------------------------------------------


def write_report(path: Path, report: str) -> None:
    """Put the report in place of its earlier version between its markers, or, the first time,
    before the sections the other benchmarks wrote after it (or at the end)."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Performance\n"
    section = report.rstrip("\n") + "\n" + END
    if START in text and END in text:
        before, rest = text.split(START, 1)
        text = before + section + rest.split(END, 1)[1]
    else:
        later = [
            text.find(m)
            for m in ("<!-- benchmarks/dashboard.py", "<!-- benchmarks/automation.py")
            if m in text
        ]
        at = min(later) if later else len(text)
        head, tail = text[:at].rstrip("\n"), text[at:].lstrip("\n")
        text = head + "\n\n" + section + "\n\n" + tail
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10, help="seconds per URL (10)")
    parser.add_argument("--warmup", type=float, default=2, help="warm-up seconds per URL (2)")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers (2)")
    parser.add_argument(
        "--rounds", type=int, default=1, help="times each page is measured, interleaved (1)"
    )
    parser.add_argument("--page", default="welcome", help="programme page key (welcome)")
    parser.add_argument(
        "--database-url",
        default="",
        help="a PostgreSQL server URL; a throwaway database is created on it and dropped "
        "afterwards (default: SQLite in the throwaway folder)",
    )
    parser.add_argument(
        "--breakdown-requests", type=int, default=200, help="in-process requests per page (200)"
    )
    parser.add_argument(
        "--profile", action="store_true", help="print the cProfile output of each page"
    )
    parser.add_argument(
        "--output", default=str(BASE_DIR / "docs" / "performance.md"), help="report file"
    )
    parser.add_argument("--no-write", action="store_true", help="do not write the report")
    parser.add_argument("--keep", action="store_true", help="keep the throwaway folder")
    parser.add_argument(
        "--conn-max-age",
        type=int,
        default=None,
        metavar="SECONDS",
        help="an experiment: override CONN_MAX_AGE (Steg's settings: 60 for PostgreSQL, "
        "0 for SQLite, so that SQLite connects anew for every request)",
    )
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=0,
        metavar="SECONDS",
        help="before measuring, wait up to this long for the CPUs to be under 25 %% busy",
    )
    return parser.parse_args(argv)


def time_budget(args: argparse.Namespace) -> int:
    return int(600 + args.wait_idle + (2 + 4 * args.rounds) * (args.duration + args.warmup + 30))


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if not shutil.which("wrk"):
        log("wrk is not installed (apt-get install wrk)")
        return 2

    def on_alarm(signum: int, frame: types.FrameType | None) -> None:
        raise Timeout(f"the benchmark took longer than {time_budget(args)} s")

    def on_term(signum: int, frame: types.FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, on_term)
    signal.alarm(time_budget(args))

    tmp = Path(tempfile.mkdtemp(prefix="steg-bench-"))
    server: subprocess.Popen[bytes] | None = None
    try:
        with (
            throwaway_postgres_database(args.database_url) if args.database_url else _no_database()
        ) as database_url:
            env = bench_environment(tmp, database_url, args.conn_max_age)
            run_manage(env, "migrate", "--noinput")
            run_manage(env, "load_demo", "--quiet")
            run_manage(env, "collectstatic", "--noinput")

            os.environ.update(env)
            for name in INHERITED_SETTINGS:
                if name not in env:
                    os.environ.pop(name, None)
            import django

            django.setup()
            report_ctx = _context(args, database_url)

            port = free_port()
            server = start_gunicorn(env, port, args.workers, tmp / "gunicorn.log")
            try:
                return _measure(args, port, server, report_ctx)
            finally:
                stop_process_group(server)
                log("gunicorn stopped")
                from django.db import connections

                connections.close_all()
    except Exception:
        if server is not None and (tmp / "gunicorn.log").exists():
            tail = (tmp / "gunicorn.log").read_text(errors="replace").splitlines()[-30:]
            log("gunicorn log:\n" + "\n".join(tail))
        raise
    finally:
        signal.alarm(0)
        if server is not None:
            stop_process_group(server)
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def _no_database() -> Iterator[str]:
    yield ""


def _context(args: argparse.Namespace, database_url: str) -> dict[str, Any]:
    import django
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            database = f"PostgreSQL {cursor.fetchone()[0]} on loopback"
    else:
        import sqlite3

        database = f"SQLite {sqlite3.sqlite_version} (WAL)"
    from django.conf import settings

    age = settings.DATABASES["default"].get("CONN_MAX_AGE", 0)
    database += (
        f", `CONN_MAX_AGE = {age}` (overridden with `--conn-max-age`: not Steg's setting)"
        if args.conn_max_age is not None
        else f", `CONN_MAX_AGE = {age}` as in Steg's settings"
    )
    python = Path(sys.executable)
    if python.is_relative_to(BASE_DIR):
        python = python.relative_to(BASE_DIR)
    command = f"{python} benchmarks/programme_pages.py"
    if sys.argv[1:]:
        command += " " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    return {
        "command": command,
        "nproc": os.cpu_count(),
        "cpu": cpu_model(),
        "os": platform.platform(terse=True),
        "python": platform.python_version(),
        "django": django.get_version(),
        "gunicorn": re.sub(
            r"[^\d.]", "", tool_version([sys.executable, "-m", "gunicorn", "--version"])
        ),
        "wrk": tool_version(["wrk", "-v"]).split(" [")[0],
        "workers": args.workers,
        "threads": args.threads,
        "connections": args.connections,
        "duration": args.duration,
        "warmup": args.warmup,
        "breakdown_requests": args.breakdown_requests,
        "rounds": args.rounds,
        "conn_max_age": age,
        "conn_hint": (
            "To see what persistent database connections would change, run the script with "
            "`--conn-max-age 60` (an experiment: it overrides `CONN_MAX_AGE` in "
            "`benchmarks/settings.py` only)."
            if not age and connection.vendor == "sqlite"
            else ""
        ),
        "loadavg": load_average(),
        "database": database,
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _measure(
    args: argparse.Namespace, port: int, server: subprocess.Popen[bytes], ctx: dict[str, Any]
) -> int:
    from django.db import connections

    from steg.accounts.demo import DEMO_PASSWORD, PATIENT
    from steg.care.models import Enrolment
    from steg.programmes.models import ProgressEvent

    wait_until_serving(port, server)
    # The demo patient is enrolled in the example programme and in the tobacco programme;
    # these pages are measured in the example programme (bench.py measures the tobacco one).
    enrolment = Enrolment.objects.get(
        patient__user__email=PATIENT.email, programme_version__programme__slug="example"
    )
    treatment = f"/patient/treatments/{enrolment.pk}/"
    targets = [
        Target("minimal", "Minimal page", "/bench/minimal/"),
        Target("anonymous", "Minimal page, not logged in", "/bench/minimal/", logged_in=False),
        Target("overview", "Programme overview", treatment),
        Target("page", f"Programme page ({args.page})", f"{treatment}pages/{args.page}/"),
        Target("start", "Patient start page", "/patient/"),
    ]
    rows = {t.key: Row(t) for t in targets}

    cookies = log_in(port, PATIENT.email, DEMO_PASSWORD)
    session = {"sessionid": cookies["sessionid"], "steg_language": "sv"}
    anonymous = {"steg_language": "sv"}

    def jar(target: Target) -> dict[str, str]:
        return session if target.logged_in else anonymous

    def header(target: Target) -> str:
        return "; ".join(f"{k}={v}" for k, v in jar(target).items())

    problems = check_ok(port, session, [t for t in targets if t.logged_in])
    problems += check_ok(port, anonymous, [t for t in targets if not t.logged_in])
    if problems:
        raise RuntimeError("not every URL answers 200: " + "; ".join(problems))

    def history() -> int:
        count = ProgressEvent.objects.filter(enrolment=enrolment).count()
        # Hold no connection of our own while wrk runs: with SQLite, an extra open connection
        # changes what the server's connections do when they close (the WAL checkpoint).
        connections.close_all()
        return count

    for row in rows.values():
        row.queries_before, row.sql = count_queries(jar(row.target), row.target.path)
        row.writes = sum(1 for sql in row.sql if is_write(sql))
    history_before = history()
    ctx["busy"] = wait_for_idle(args.wait_idle)
    ctx["loadavg"] = load_average()

    odd: list[str] = []
    # The minimal page first and after every round, so that drift shows and averages out.
    order = ["minimal", "anonymous", *["overview", "page", "start", "minimal"] * args.rounds]
    base = f"http://127.0.0.1:{port}"
    for key in order:
        row = rows[key]
        url = base + row.target.path
        if not row.runs:
            run_wrk(wrk_command(url, header(row.target), args, args.warmup), args.warmup)
        events = history()
        log(f"wrk {row.target.path} for {args.duration:g} s")
        result = run_wrk(
            wrk_command(url, header(row.target), args, args.duration), args.duration, server.pid
        )
        row.runs.append(result)
        log(
            f"  {result.requests_per_s:,.0f} req/s, p50 {fmt_ms(result.p50_ms)} ms, "
            f"p99 {fmt_ms(result.p99_ms)} ms, {result.requests} requests, "
            f"other work {result.other_cpu:.0%} of the CPUs"
        )
        if result.non_2xx_3xx or result.socket_errors:
            odd.append(
                f"{row.target.path}: {result.non_2xx_3xx} non-2xx/3xx responses, "
                f"{result.socket_errors} socket errors"
            )
        if key == "page":
            # Every programme page view inserts one ProgressEvent: a check that wrk's requests
            # really reached the page (a redirect to the login page would insert nothing).
            inserted = history() - events
            # Requests still in flight when a wrk run (this one or the one before) stops
            # are served but not counted by wrk: up to one per connection at each end.
            if not result.requests <= inserted <= result.requests + 2 * args.connections:
                odd.append(
                    f"{row.target.path}: wrk counted {result.requests} requests but "
                    f"{inserted} page views were recorded"
                )
    problems = check_ok(port, session, [t for t in targets if t.logged_in])
    problems += check_ok(port, anonymous, [t for t in targets if not t.logged_in])
    odd.extend(f"after the load: {p}" for p in problems)
    history_after = history()

    for row in rows.values():
        row.queries_after, _sql = count_queries(jar(row.target), row.target.path)
        row.breakdown = breakdown(jar(row.target), row.target.path, args.breakdown_requests)

    for key in ("overview", "page", "start"):
        rows[key].hot_spots, printout = profile(session, rows[key].target.path, 100, 40)
        if args.profile:
            print(printout)

    ctx["loadavg_end"] = load_average()
    baseline_rps = mean_rps(rows["minimal"])
    minimal_runs = [r.requests_per_s for r in rows["minimal"].runs]
    if len(minimal_runs) > 1 and max(minimal_runs) > 1.2 * min(minimal_runs):
        odd.append(
            "the minimal page's runs differ by more than 20 % "
            f"({', '.join(f'{r:,.0f}' for r in minimal_runs)} req/s, with other work taking "
            f"{', '.join(f'{r.other_cpu:.0%}' for r in rows['minimal'].runs)} of the CPUs)"
        )
    ordered = [rows[k] for k in ("minimal", "anonymous", "overview", "page", "start")]
    for row in ordered:
        if row.queries_before != row.queries_after:
            odd.append(
                f"{row.target.path}: {row.queries_before} queries before the load, "
                f"{row.queries_after} after: the count depends on the history"
            )
    ctx.update(
        rows=ordered,
        baseline_rps=baseline_rps,
        history=(history_before, history_after),
        wrk_command=" ".join(
            shlex.quote(a)
            for a in wrk_command(
                f"http://127.0.0.1:PORT{rows['page'].target.path}",
                "sessionid=SESSION; steg_language=sv",
                args,
                args.duration,
            )
        ),
        odd=(
            "Checks made: every URL answers 200 before and after the load; wrk sees no "
            "errors or non-2xx/3xx answers; the programme page views recorded match wrk's "
            "request count; the SQL statement counts do not change as the history grows; "
            "the minimal page's runs agree within 20 %. "
            + (
                "All passed."
                if not odd
                else "Not everything passed in this run:\n\n" + "\n".join(f"- {o}" for o in odd)
            )
        ),
    )

    print()
    print(result_table(ordered, baseline_rps))
    print()
    print(breakdown_table(ordered))
    for line in odd:
        print(f"ODD: {line}")
    if not args.no_write:
        write_report(Path(args.output), render_report(ctx))
        log(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
