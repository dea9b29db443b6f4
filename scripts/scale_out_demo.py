"""The scale-out demonstration (issue #9): Steg with production settings on real engines.

    make scale-out-demo                                  # bash scripts/scale-out-demo.sh
    .venv/bin/python scripts/scale_out_demo.py [--firings 300] [--requests 20]

On this machine, in a temporary folder and a throwaway PostgreSQL database, it

1. creates the database ``steg_scale_out_<pid>`` (``--database-server``, default
   postgres://postgres@127.0.0.1:5432/postgres) and starts a private Redis (``redis-server`` on
   a free loopback port, nothing kept on disk; ``--redis-url`` uses another one instead);
2. migrates, loads the demo (``manage.py load_demo``) and collects the static files with
   ``STEG_ENV=production`` and the settings production requires (a random SECRET_KEY,
   ALLOWED_HOSTS, DATABASE_URL, REDIS_URL, STEG_SMS_BACKEND=steg.dialog.sms.NullSmsBackend, no
   e-mail sent), nothing weakened: HTTPS is required, so nginx terminates TLS with a throwaway
   self-signed certificate made with openssl;
3. starts two gunicorn processes (2 workers each) on two loopback ports, nginx (as a
   foreground process with its own configuration, pid and logs in the temporary folder: the
   site is deploy/nginx/steg.conf with the addresses, paths and ports replaced) balancing
   between them and serving /static/ itself, two task workers (``manage.py db_worker``) and two
   schedulers (``manage.py run_scheduler``, ticking every 1 s and 1.5 s);
4. checks, printing PASS/FAIL lines:
   - sessions: a patient logs in through nginx; ``--requests`` pages later the session still
     holds, and both app processes served some of them (nginx's X-Steg-Upstream header, which
     only the demonstration adds, and each gunicorn's own access log);
   - rate limits: failed logins for one account, spread over both processes, lock it after the
     configured number (``login_failed`` in ACCOUNT_RATE_LIMITS), not twice that;
   - automation: ``--firings`` due firings (an automatic message each) on 30 active
     enrolments, due over ``--spread`` seconds; the two schedulers hand them out and the two
     workers fire them: each firing is done once, with exactly one automatic message
     (``client_token`` "rule:<firing id>") and one audit event;
   - static files: a hashed file comes from nginx (not the app) with a far-future
     Cache-Control/Expires, gzip-compressed when asked;
5. stops everything (also on a failure or Ctrl-C), drops the database and removes the folder,
   and checks that nothing it started is still listening.

Exit status 1 when a check fails. Not part of the test suite.
"""

# ruff: noqa: S603, S607, S608

from __future__ import annotations

import argparse
import contextlib
import email.utils
import gzip
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
NGINX_EXAMPLE = BASE_DIR / "deploy" / "nginx" / "steg.conf"
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"
ENROLMENTS = 30
RULE = "welcome"  # the tobacco programme's rule: one automatic message, no conditions
OCCASION = "scale-out:"
# What django-allauth says, in Swedish (the default language).
WRONG_CREDENTIALS = "Epost-adressen och/eller lösenordet är felaktigt."
TOO_MANY_ATTEMPTS = "För många misslyckade inloggningsförsök."


def say(message: str) -> None:
    print(f"[scale-out] {message}", flush=True)


class Interrupted(Exception):
    """SIGINT, SIGTERM or SIGHUP: stop and clean up."""


def _interrupt(signum: int, frame: Any) -> None:
    raise Interrupted(signal.Signals(signum).name)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


# --- HTTP through nginx ------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def header(self, name: str) -> str:
        return self.headers.get(name, "")

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


@dataclass
class Browser:
    """A browser of sorts: HTTPS to nginx (the throwaway certificate trusted), its own cookies,
    no redirects followed, so that each answer can be looked at."""

    port: int
    cafile: Path
    cookies: dict[str, str] = field(default_factory=dict)
    set_cookies: dict[str, str] = field(default_factory=dict)  # as last sent, with attributes

    @property
    def origin(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def request(
        self,
        method: str,
        path: str,
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        context = ssl.create_default_context(cafile=str(self.cafile))
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=context, timeout=30)
        sent = {"Host": f"127.0.0.1:{self.port}", "User-Agent": "steg-scale-out-demo"}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            sent["Content-Type"] = "application/x-www-form-urlencoded"
            sent["Origin"] = self.origin
            sent["Referer"] = self.origin + path
        sent.update(headers or {})
        try:
            conn.request(method, path, body=body, headers=sent)
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        for value in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
            self.set_cookies[name.strip()] = value
        return Reply(response.status, response.headers, data)

    def get(self, path: str, headers: dict[str, str] | None = None) -> Reply:
        return self.request("GET", path, headers=headers)

    def post(self, path: str, form: dict[str, str]) -> Reply:
        return self.request("POST", path, form=form)


def csrf_token(reply: Reply) -> str:
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', reply.text)
    if not match:
        raise RuntimeError("no CSRF token on the page")
    return match.group(1)


def login(browser: Browser, email: str, password: str) -> Reply:
    page = browser.get("/account/login/")
    return browser.post(
        "/account/login/",
        {"csrfmiddlewaretoken": csrf_token(page), "login": email, "password": password},
    )


# --- the demonstration -------------------------------------------------------------------------


@dataclass
class Checks:
    failed: int = 0
    lines: list[str] = field(default_factory=list)

    def check(self, ok: bool, what: str) -> bool:
        line = f"{'PASS' if ok else 'FAIL'}: {what}"
        print(line, flush=True)
        self.lines.append(line)
        self.failed += 0 if ok else 1
        return ok


@dataclass
class Service:
    name: str
    process: subprocess.Popen[bytes]
    log: Path
    ports: tuple[int, ...] = ()


class Demo:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.tmp = Path(tempfile.mkdtemp(prefix="steg-scale-out-"))
        # nginx's workers run as an unprivileged user when started by root: let them read the
        # static files and the site configuration (the private key stays readable by root).
        self.tmp.chmod(0o755)
        self.logs = self.tmp / "logs"
        self.logs.mkdir()
        self.services: list[Service] = []
        self.database = f"steg_scale_out_{os.getpid()}"
        self.database_created = False
        self.ports: dict[str, int] = {}
        self.env: dict[str, str] = {}
        self.figures: dict[str, str] = {}
        self.nginx = os.environ.get("STEG_NGINX") or shutil.which("nginx") or "/usr/sbin/nginx"

    # processes

    def start(
        self, name: str, argv: list[str], *, ports: tuple[int, ...] = (), env: bool = True
    ) -> Service:
        log = self.logs / f"{name}.log"
        with log.open("ab") as out:
            process = subprocess.Popen(
                argv,
                cwd=BASE_DIR,
                env=self.env if env else None,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a group of its own: Ctrl-C reaches only us
            )
        service = Service(name, process, log, ports)
        self.services.append(service)
        return service

    def manage(self, *args: str) -> str:
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=BASE_DIR,
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        took = time.monotonic() - started
        if done.returncode != 0:
            raise RuntimeError(f"manage.py {args[0]} failed:\n{done.stdout}\n{done.stderr}")
        self.figures[f"manage.py {args[0]}"] = f"{took:.1f} s"
        return done.stdout

    def stop_all(self) -> None:
        for service in reversed(self.services):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(service.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for service in reversed(self.services):
            try:
                service.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                say(f"{service.name} did not stop in time: killed")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(service.process.pid, signal.SIGKILL)
                service.process.wait()
            # Anything its workers left behind in its group.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(service.process.pid, signal.SIGKILL)

    def check_alive(self) -> None:
        for service in self.services:
            if service.process.poll() is not None:
                tail = service.log.read_text(errors="replace")[-3000:]
                raise RuntimeError(
                    f"{service.name} stopped (exit {service.process.returncode}):\n{tail}"
                )

    # database

    def server_sql(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(self.args.database_server, autocommit=True) as conn:
            conn.execute(sql)

    @contextlib.contextmanager
    def db(self) -> Iterator[Any]:
        import psycopg

        with psycopg.connect(self.env["DATABASE_URL"], autocommit=True) as conn:
            yield conn

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self.db() as conn:
            return list(conn.execute(sql, params).fetchall())

    def value(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        rows = self.rows(sql, params)
        return rows[0][0] if rows else None

    # setting up

    def set_up(self) -> None:
        args = self.args
        for name in ("app1", "app2", "https"):
            self.ports[name] = free_port()
        server = urllib.parse.urlsplit(args.database_server)
        database_url = urllib.parse.urlunsplit(server._replace(path="/" + self.database))
        redis_url = args.redis_url
        if not redis_url:
            redis = shutil.which("redis-server")
            if not redis:
                raise RuntimeError("redis-server is missing: install it or pass --redis-url")
            port = self.ports["redis"] = free_port()
            self.start(
                "redis",
                [
                    redis,
                    "--bind",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.tmp),
                ],
                ports=(port,),
                env=False,
            )
            redis_url = f"redis://127.0.0.1:{port}/0"
        origin = f"https://127.0.0.1:{self.ports['https']}"
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("STEG_", "DJANGO_"))},
            "STEG_ENV": "production",
            "SECRET_KEY": secrets.token_urlsafe(64),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "CSRF_TRUSTED_ORIGINS": origin,
            "SITE_URL": origin,
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "STEG_SMS_BACKEND": "steg.dialog.sms.NullSmsBackend",
            # No mail server here: the production settings' SMTP is replaced by one that sends
            # nothing (the only setting not as in production).
            "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
            # nginx is the one proxy in front: the rate limits count the client's address.
            "STEG_TRUSTED_PROXY_COUNT": "1",
            "STATIC_ROOT": str(self.tmp / "staticfiles"),
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
        self.env.pop("DEBUG", None)
        self.env.pop("DATABASE_URL_FILE", None)
        self.env.pop("SECRET_KEY_FILE", None)

        say(f"database {self.database} on {server.hostname}:{server.port or 5432}")
        self.server_sql(f'CREATE DATABASE "{self.database}"')
        self.database_created = True
        self.manage("migrate", "--noinput")
        self.manage("load_demo")
        self.manage("collectstatic", "--noinput")
        say(f"migrated, demo loaded, static files collected ({self._figures('manage.py')})")
        self._certificate()
        self._nginx_config()

    def _figures(self, prefix: str) -> str:
        return ", ".join(
            f"{k[len(prefix) :].strip()} {v}"
            for k, v in self.figures.items()
            if k.startswith(prefix)
        )

    def _certificate(self) -> None:
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1,DNS:localhost",
                "-keyout",
                str(self.tmp / "tls.key"),
                "-out",
                str(self.tmp / "tls.crt"),
            ],
            check=True,
            capture_output=True,
        )

    def _nginx_config(self) -> None:
        """deploy/nginx/steg.conf with this machine's addresses, paths and ports, inside a
        main configuration of the demonstration's own (pid, logs and temporary files in the
        temporary folder; nothing of the system's nginx configuration is used or touched)."""
        site = NGINX_EXAMPLE.read_text(encoding="utf-8")
        https = self.ports["https"]
        replacements: list[tuple[str, str]] = [
            ("server 127.0.0.1:8001 ", f"server 127.0.0.1:{self.ports['app1']} "),
            ("server 127.0.0.1:8002 ", f"server 127.0.0.1:{self.ports['app2']} "),
            ("listen 443 ssl http2;", f"listen 127.0.0.1:{https} ssl http2;"),
            ("server_name steg.region.se;", "server_name 127.0.0.1 localhost;"),
            ("/etc/ssl/steg/fullchain.pem", str(self.tmp / "tls.crt")),
            ("/etc/ssl/steg/privkey.pem", str(self.tmp / "tls.key")),
            ("/srv/steg/staticfiles/", str(self.tmp / "staticfiles") + "/"),
            # Which app process answered, for the check only (not in production: it names
            # internal addresses).
            (
                "proxy_pass http://steg_app;",
                "proxy_pass http://steg_app;\n"
                "        add_header X-Steg-Upstream $upstream_addr always;",
            ),
        ]
        for old, new in replacements:
            if old not in site:
                raise RuntimeError(f"{NGINX_EXAMPLE}: {old!r} not found (update the demo)")
            site = site.replace(old, new)
        # No IPv6 and no plain-HTTP redirect server on this machine's public ports.
        site = "\n".join(line for line in site.splitlines() if "listen [::]" not in line)
        site, redirects = re.subn(
            r"server \{\n    listen 80;\n.*?\n\}\n", "", site, count=1, flags=re.S
        )
        if redirects != 1:
            raise RuntimeError(f"{NGINX_EXAMPLE}: the port 80 server block was not found")
        (self.tmp / "steg-site.conf").write_text(site, encoding="utf-8")
        temp = self.tmp / "nginx-temp"
        temp.mkdir()
        main = f"""# The scale-out demonstration's nginx (scripts/scale_out_demo.py); the site is
# deploy/nginx/steg.conf with this run's addresses, paths and ports.
daemon off;
worker_processes 1;
pid {self.tmp}/nginx.pid;
error_log {self.logs}/nginx-error.log warn;
events {{ worker_connections 512; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    access_log {self.logs}/nginx-access.log;
    client_body_temp_path {temp}/client;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {self.tmp}/steg-site.conf;
}}
"""
        (self.tmp / "nginx.conf").write_text(main, encoding="utf-8")
        test = subprocess.run(
            [
                self.nginx,
                "-t",
                "-q",
                "-p",
                str(self.tmp),
                "-e",
                str(self.logs / "nginx-error.log"),
                "-c",
                str(self.tmp / "nginx.conf"),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if test.returncode != 0:
            raise RuntimeError(f"nginx -t failed:\n{test.stdout}{test.stderr}")

    def start_all(self) -> None:
        python = sys.executable
        gunicorn = str(Path(python).parent / "gunicorn")
        for name in ("app1", "app2"):
            port = self.ports[name]
            self.start(
                name,
                [
                    gunicorn,
                    "steg.wsgi:application",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--workers",
                    "2",
                    "--access-logfile",
                    str(self.logs / f"{name}-access.log"),
                    "--access-logformat",
                    '%(h)s "%(r)s" %(s)s %(b)s %(L)ss pid=%(p)s',
                ],
                ports=(port,),
            )
        for n in (1, 2):
            self.start(
                f"worker{n}",
                [
                    python,
                    "manage.py",
                    "db_worker",
                    "--no-reload",
                    "--interval",
                    "0.5",
                    "--worker-id",
                    f"scale-out-worker-{n}",
                ],
            )
            # Ticks every 1 s and 1.5 s (every minute in production), so that the two
            # schedulers' ticks interleave rather than one always coming just after the other.
            self.start(
                f"scheduler{n}",
                [python, "manage.py", "run_scheduler", "--interval", str(0.5 + 0.5 * n)],
            )
        self.start(
            "nginx",
            [
                self.nginx,
                "-p",
                str(self.tmp),
                "-e",
                str(self.logs / "nginx-error.log"),
                "-c",
                str(self.tmp / "nginx.conf"),
            ],
            ports=(self.ports["https"],),
            env=False,
        )
        started = time.monotonic()
        browser = self.browser()
        while True:
            self.check_alive()
            if all(
                listening(p) for p in (self.ports["app1"], self.ports["app2"], self.ports["https"])
            ):
                with contextlib.suppress(OSError, http.client.HTTPException):
                    if browser.get("/account/login/").status == 200:
                        break
            if time.monotonic() - started > 60:
                raise RuntimeError("the app processes or nginx did not come up within 60 s")
            time.sleep(0.2)
        self.figures["up"] = f"{time.monotonic() - started:.1f} s"
        say(
            f"up in {self.figures['up']}: nginx https://127.0.0.1:{self.ports['https']} -> "
            f"gunicorn 127.0.0.1:{self.ports['app1']} and 127.0.0.1:{self.ports['app2']} "
            f"(2 workers each); 2 db_workers, 2 schedulers; Redis {self.env['REDIS_URL']}"
        )

    def browser(self) -> Browser:
        return Browser(self.ports["https"], self.tmp / "tls.crt")

    def access_lines(self) -> dict[str, int]:
        counts = {}
        for name in ("app1", "app2"):
            path = self.logs / f"{name}-access.log"
            counts[name] = len(path.read_text().splitlines()) if path.exists() else 0
        return counts

    def app_of(self, reply: Reply) -> str:
        upstream = reply.header("X-Steg-Upstream").split(",")[-1].strip()
        for name in ("app1", "app2"):
            if upstream == f"127.0.0.1:{self.ports[name]}":
                return name
        return upstream or "?"

    # the checks

    def run_checks(self, checks: Checks) -> None:
        self.sessions(checks)
        self.rate_limits(checks)
        self.automation(checks)
        self.static_files(checks)

    def sessions(self, checks: Checks) -> None:
        browser = self.browser()
        before = self.access_lines()
        reply = login(browser, "patient@steg.example", "Demo-steg-2026")
        location = reply.header("Location")
        logged_in = reply.status == 302 and "/account/login/" not in location
        attributes = [
            part.strip().lower() for part in browser.set_cookies.get("sessionid", "").split(";")
        ]
        checks.check(
            logged_in and "secure" in attributes and "httponly" in attributes,
            f"the demo patient logs in through nginx over HTTPS: {reply.status} to "
            f"{location or '-'}, session cookie {'; '.join(a for a in attributes[1:] if a)}",
        )
        # The patient's start page: follow the redirects of the start once.
        path, hops = "/", 0
        start = browser.get(path)
        while start.status in (301, 302) and hops < 5:
            path = urllib.parse.urlsplit(start.header("Location")).path
            start = browser.get(path)
            hops += 1
        served: Counter[str] = Counter()
        statuses: Counter[int] = Counter()
        still_in = 0
        started = time.monotonic()
        for _ in range(self.args.requests):
            page = browser.get(path)
            statuses[page.status] += 1
            served[self.app_of(page)] += 1
            if (
                page.status == 200
                and "Alva" in page.text
                and 'action="/account/logout/"' in page.text
            ):
                still_in += 1
        took = time.monotonic() - started
        after = self.access_lines()
        per_log = {name: after[name] - before[name] for name in after}
        self.figures["session requests"] = (
            f"{self.args.requests} pages of {path} in {took:.2f} s "
            f"({1000 * took / max(1, self.args.requests):.0f} ms each, one at a time)"
        )
        checks.check(
            still_in == self.args.requests,
            f"the session holds: {still_in} of {self.args.requests} requests to {path} answered "
            f"200 as the logged-in patient (statuses {dict(statuses)})",
        )
        checks.check(
            served["app1"] > 0
            and served["app2"] > 0
            and per_log["app1"] > 0
            and per_log["app2"] > 0,
            f"both app processes served them: app1 {served['app1']}, app2 {served['app2']} "
            f"(X-Steg-Upstream); access log lines since the login page: app1 +{per_log['app1']}, "
            f"app2 +{per_log['app2']}",
        )

    def _failures_per_account(self) -> int:
        out = (
            subprocess.run(
                [
                    sys.executable,
                    "manage.py",
                    "shell",
                    "-c",
                    "from django.conf import settings; "
                    "print(settings.ACCOUNT_RATE_LIMITS['login_failed'])",
                ],
                cwd=BASE_DIR,
                env=self.env,
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        for rule in out.split(","):
            amount, _period, *kind = rule.split("/")
            if kind == ["key"]:
                self.figures["login_failed"] = out
                return int(amount)
        raise RuntimeError(f"no per-account limit in login_failed {out!r}")

    def rate_limits(self, checks: Checks) -> None:
        limit = self._failures_per_account()
        email_address = "therapist2@steg.example"  # a demo account no other check uses
        browser = self.browser()
        token = csrf_token(browser.get("/account/login/"))

        def attempt(password: str) -> tuple[str, str]:
            reply = browser.post(
                "/account/login/",
                {"csrfmiddlewaretoken": token, "login": email_address, "password": password},
            )
            if TOO_MANY_ATTEMPTS in reply.text:
                outcome = "locked"
            elif WRONG_CREDENTIALS in reply.text:
                outcome = "wrong"
            elif reply.status == 302:
                outcome = "in"
            else:
                outcome = f"{reply.status}?"
            return outcome, self.app_of(reply)

        wrong = [attempt("not-the-password") for _ in range(limit)]
        # Then the right password, twice (one on each process): both must be refused. With a
        # limit counted per process, each would have seen fewer than `limit` failures.
        right = [attempt("Demo-steg-2026") for _ in range(2)]
        spread = Counter(app for _, app in wrong + right)
        checks.check(
            all(o == "wrong" for o, _ in wrong) and spread["app1"] > 0 and spread["app2"] > 0,
            f"{limit} failed logins for one account (login_failed {self.figures['login_failed']}) "
            f"were spread over both processes: "
            + ", ".join(f"{i + 1}:{app}" for i, (_, app) in enumerate(wrong)),
        )
        checks.check(
            all(o == "locked" for o, _ in right) and {app for _, app in right} == {"app1", "app2"},
            f"rate limit shared: attempt {limit + 1} and {limit + 2}, with the right password, "
            "were refused as too many failed logins by "
            + " and ".join(app for _, app in right)
            + f" (outcomes {[o for o, _ in right]}); per process it would take up to {2 * limit}",
        )

    def automation(self, checks: Checks) -> None:
        count, spread = self.args.firings, self.args.spread
        snippet = f"""
import datetime
from django.db import transaction
from django.utils import timezone
from steg.accounts import demo
from steg.accounts.models import Unit, User
from steg.automation import engine
from steg.automation.models import Firing
from steg.care.models import Enrolment, Patient
from steg.testing.personas import start_treatment

version = (
    Enrolment.objects.filter(
        patient__personnummer=demo.DEMO_PATIENT_PERSONNUMMER,
        programme_version__programme__slug="tobacco-cessation",
    ).get().programme_version
)
assert engine.rules_of(version.pk).rule({RULE!r}) is not None
unit = Unit.objects.get(name=demo.DEMO_UNIT)
therapist = User.objects.get(email=demo.THERAPIST.email)
with transaction.atomic():
    enrolments = []
    for n in range({ENROLMENTS}):
        patient = Patient.objects.create(
            personnummer=f"1990030{{n:05d}}", first_name=f"Skala{{n}}", last_name="Demo",
            email=f"scale{{n}}@steg.example",
        )
        enrolments.append(start_treatment(patient, unit, version, therapist=therapist))
    now = timezone.now() + datetime.timedelta(seconds=2)
    rows = []
    for i in range({count}):
        at = now + datetime.timedelta(seconds={spread} * i / {count})
        rows.append(Firing(
            enrolment=enrolments[i % len(enrolments)], rule={RULE!r},
            occasion=f"{OCCASION}{{i}}", trigger="activated", scheduled_for=at,
            next_attempt_at=at, created_at=timezone.now(),
        ))
    Firing.objects.bulk_create(rows)
print("created", len(rows))
"""
        started = time.monotonic()
        subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", snippet],
            cwd=BASE_DIR,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        created = self.value(
            "SELECT count(*) FROM automation_firing WHERE occasion LIKE %s", (OCCASION + "%",)
        )
        say(f"{created} firings on {ENROLMENTS} active enrolments, due over the next {spread} s")
        scheduler_logs = {n: (self.logs / f"scheduler{n}.log").read_text() for n in (1, 2)}
        deadline = time.monotonic() + spread + self.args.timeout
        pending = created
        while time.monotonic() < deadline:
            self.check_alive()
            pending = self.value(
                "SELECT count(*) FROM automation_firing WHERE occasion LIKE %s "
                "AND status = 'pending'",
                (OCCASION + "%",),
            )
            running = self.value(
                "SELECT count(*) FROM django_tasks_database_dbtaskresult "
                "WHERE status IN ('READY', 'RUNNING')"
            )
            if pending == 0 and running == 0:
                break
            time.sleep(0.5)
        took = time.monotonic() - started
        statuses = dict(
            self.rows(
                "SELECT status, count(*) FROM automation_firing WHERE occasion LIKE %s "
                "GROUP BY status",
                (OCCASION + "%",),
            )
        )
        # From due to fired: the scheduler's tick (every second here) and a worker's poll.
        mean, slowest = self.rows(
            "SELECT avg(extract(epoch FROM fired_at - scheduled_for)), "
            "max(extract(epoch FROM fired_at - scheduled_for)) FROM automation_firing "
            "WHERE occasion LIKE %s AND status = 'done'",
            (OCCASION + "%",),
        )[0]
        delay = f"{float(mean or 0):.1f} s on average, at most {float(slowest or 0):.1f} s"
        self.figures["due to fired"] = delay
        checks.check(
            statuses == {"done": created} and created == count,
            f"{count} firings: every one done once (statuses {statuses}); fired {delay} after "
            f"it came due",
        )
        ids = [
            row[0]
            for row in self.rows(
                "SELECT id FROM automation_firing WHERE occasion LIKE %s", (OCCASION + "%",)
            )
        ]
        tokens = [f"rule:{pk}" for pk in ids]
        per_token = dict(
            self.rows(
                "SELECT client_token, count(*) FROM dialog_message WHERE sender_role = 'system' "
                "AND client_token = ANY(%s) GROUP BY client_token",
                (tokens,),
            )
        )
        checks.check(
            len(per_token) == len(ids) and set(per_token.values()) == {1},
            f"exactly one automatic message per firing: {sum(per_token.values())} messages "
            f"with sender_role system for {len(ids)} firings, {len(per_token)} distinct "
            f"client_token 'rule:<firing id>', most for one token: "
            f"{max(per_token.values(), default=0)}",
        )
        fired = dict(
            self.rows(
                "SELECT object_id, count(*) FROM audit_auditevent WHERE action = "
                "'automation.rule.fired' AND object_type = 'automation.firing' "
                "AND object_id = ANY(%s) GROUP BY object_id",
                ([str(pk) for pk in ids],),
            )
        )
        checks.check(
            len(fired) == len(ids) and set(fired.values()) == {1},
            f"one audit event automation.rule.fired per firing ({sum(fired.values())} for "
            f"{len(ids)})",
        )
        handed = {}
        for n in (1, 2):
            log = (self.logs / f"scheduler{n}.log").read_text()[len(scheduler_logs[n]) :]
            handed[n] = sum(int(m) for m in re.findall(r"Automation: (\d+) firings handed", log))
        by_worker: Counter[str] = Counter()
        for worker_ids, tasks in self.rows(
            "SELECT worker_ids::text, count(*) FROM django_tasks_database_dbtaskresult "
            "WHERE task_path LIKE %s AND status = 'SUCCESSFUL' GROUP BY 1",
            ("%fire_firings",),
        ):
            for worker in json.loads(worker_ids):
                by_worker[worker] += tasks
        self.figures["automation"] = (
            f"{count} firings, schedulers handed {handed[1]} + {handed[2]}, "
            f"fire_firings tasks per worker {dict(by_worker)}, all done {took:.1f} s after "
            f"writing them ({spread} s spread)"
        )
        checks.check(
            handed[1] > 0
            and handed[2] > 0
            and handed[1] + handed[2] == count
            and len(by_worker) == 2,
            f"both schedulers and both workers took part: scheduler1 handed {handed[1]}, "
            f"scheduler2 {handed[2]} (together {handed[1] + handed[2]}, none twice); "
            f"fire_firings tasks by worker: "
            + ", ".join(f"{k} {v}" for k, v in sorted(by_worker.items())),
        )

    def static_files(self, checks: Checks) -> None:
        manifest = json.loads((self.tmp / "staticfiles" / "staticfiles.json").read_text())
        paths = manifest["paths"]
        name = next((k for k in sorted(paths) if k.endswith(".css")), sorted(paths)[0])
        hashed = "/static/" + paths[name]
        browser = self.browser()
        before = self.access_lines()
        zipped = browser.get(hashed, headers={"Accept-Encoding": "gzip"})
        plain = browser.get(hashed)
        after = self.access_lines()
        cache_control = ", ".join(zipped.headers.get_all("Cache-Control") or [])
        expires = zipped.header("Expires")
        max_age = re.search(r"max-age=(\d+)", cache_control)
        expires_year = email.utils.parsedate_to_datetime(expires).year if expires else 0
        far = (
            max_age is not None
            and int(max_age.group(1)) >= 31536000
            and "immutable" in cache_control
            and expires_year >= time.gmtime().tm_year + 1
        )
        checks.check(
            zipped.status == 200 and far and after == before,
            f"{hashed} is served by nginx alone (app access logs unchanged) with "
            f"Cache-Control: {cache_control}; Expires: {expires}",
        )
        unzipped = b""
        with contextlib.suppress(OSError, EOFError):
            unzipped = gzip.decompress(zipped.body)
        checks.check(
            zipped.header("Content-Encoding") == "gzip"
            and unzipped == plain.body
            and plain.header("Content-Encoding") == ""
            and "Accept-Encoding" in zipped.header("Vary"),
            f"compressed when asked: Content-Encoding gzip, {len(zipped.body):,} bytes for "
            f"{len(plain.body):,} (the precompressed .gz from collectstatic, Vary: "
            f"{zipped.header('Vary')}); without Accept-Encoding the same file uncompressed",
        )
        page = browser.get("/account/login/", headers={"Accept-Encoding": "gzip"})
        checks.check(
            page.status == 200 and page.header("Content-Encoding") == "gzip",
            "the app's pages are gzip-compressed by nginx too "
            f"(/account/login/: {page.header('Content-Encoding') or 'not compressed'}; "
            f"Strict-Transport-Security: {page.header('Strict-Transport-Security') or '-'})",
        )

    # cleaning up

    def tear_down(self) -> list[str]:
        problems = []
        self.stop_all()
        if self.database_created:
            try:
                self.server_sql(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            except Exception as exc:  # reported, and the rest is still cleaned up
                problems.append(f"could not drop database {self.database}: {exc}")
        still = [f"{s.name} on {p}" for s in self.services for p in s.ports if listening(p)]
        if still:
            problems.append("still listening: " + ", ".join(still))
        if self.args.keep_logs:
            say(f"logs kept in {self.logs}")
            for path in self.tmp.iterdir():
                if path != self.logs:
                    shutil.rmtree(path) if path.is_dir() else path.unlink()
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--firings", type=int, default=300, help="due automation firings (300)")
    parser.add_argument(
        "--spread", type=float, default=10.0, help="seconds over which the firings come due (10)"
    )
    parser.add_argument("--requests", type=int, default=20, help="pages in the session (20)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=120.0,
        help="seconds to wait for the workers after the last firing is due",
    )
    parser.add_argument(
        "--database-server",
        default=os.environ.get("STEG_DEMO_DATABASE_SERVER", DEFAULT_SERVER),
        help=f"a PostgreSQL database to connect to ({DEFAULT_SERVER})",
    )
    parser.add_argument(
        "--redis-url", default="", help="use this Redis instead of starting a private redis-server"
    )
    parser.add_argument("--keep-logs", action="store_true", help="keep the logs folder")
    args = parser.parse_args()

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    checks = Checks()
    demo = Demo(args)
    status = 0
    try:
        demo.set_up()
        demo.start_all()
        demo.run_checks(checks)
    except Interrupted as exc:
        say(f"interrupted ({exc}): stopping")
        status = 130
    except Exception as exc:
        checks.check(False, f"the demonstration ran to its end: {type(exc).__name__}: {exc}")
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)
        problems = demo.tear_down()
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_DFL)
    checks.check(
        not problems,
        "everything stopped and removed (processes, database, files)"
        + (": " + "; ".join(problems) if problems else ""),
    )
    if demo.figures:
        say("figures: " + "; ".join(f"{k}: {v}" for k, v in demo.figures.items()))
    passed = sum(line.startswith("PASS") for line in checks.lines)
    print(f"{passed} passed, {checks.failed} failed", flush=True)
    if status:
        return status
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
