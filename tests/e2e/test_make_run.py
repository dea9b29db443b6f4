"""`make run` as a new user gets it: the server, the task worker and the scheduler on a fresh
SQLite database with the demo. A new patient activates an invitation in the browser, and the
tobacco programme's welcome message (an automation rule) is in their messages within seconds.

This test starts the real thing in subprocesses (not Django's live server): the worker must be
a separate process polling the database, as it is for anyone who runs `make run`.
"""

from __future__ import annotations

import datetime
import os
import re
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import TIMEOUT_MS, MissingBrowser

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "Rokfri-vag-2026"  # noqa: S105 - a throwaway account in a throwaway database
PERSONNUMMER = "197902149876"  # the demo's new referral (Nils Nyström)
START_SECONDS = 180

# Run in the started instance's database: the assessment talk with the demo referral, enrolment
# in the tobacco programme and an invitation; prints the invitation's path.
PREPARE = """
import datetime
from django.utils import timezone
from steg.accounts.demo import NEW_REFERRAL_PERSONNUMMER, THERAPIST
from steg.accounts.models import User
from steg.care import actions
from steg.care.invitations import send_invitation
from steg.care.models import Assessment, Referral, TobaccoType
from steg.programmes.models import Programme

therapist = User.objects.get(email=THERAPIST.email)
referral = Referral.objects.get(patient__personnummer=NEW_REFERRAL_PERSONNUMMER)
programme = Programme.objects.get(slug="tobacco-cessation")
assessment = actions.record_assessment(
    referral,
    therapist=therapist,
    data=actions.AssessmentData(
        held_on=timezone.localdate(), mode="phone", tobacco_type=TobaccoType.CIGARETTES,
        tobacco_use="15 om dagen", motivation=8, confidence=6, notes="",
        choice=Assessment.Choice.DIGITAL_GUIDED, choice_reason="Vill sluta", programme=programme,
    ),
)
enrolment = actions.enrol_patient(assessment=assessment, actor=therapist)
issued = send_invitation(enrolment, actor=therapist)
print("INVITATION", issued.link)
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _served(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.fixture
def steg_instance(tmp_path: Path) -> Iterator[dict[str, Any]]:
    port = _free_port()
    env = {
        **os.environ,
        "STEG_DATA_DIR": str(tmp_path / "data"),
        "STEG_ADDR": f"127.0.0.1:{port}",
        "SITE_URL": f"http://127.0.0.1:{port}",
        "DATABASE_URL": "",  # the embedded default, SQLite, whatever the suite runs on
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    log = (tmp_path / "make-run.log").open("wb")
    started = time.monotonic()
    process = subprocess.Popen(  # noqa: S603
        ["make", "--no-print-directory", "run"],  # noqa: S607
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        while not _served(f"{base}/account/login/"):
            if process.poll() is not None or time.monotonic() - started > START_SECONDS:
                log.flush()
                output = (tmp_path / "make-run.log").read_text(errors="replace")[-3000:]
                pytest.fail(f"make run did not serve the login page:\n{output}")
            time.sleep(0.5)
        yield {"base": base, "env": env, "log": tmp_path / "make-run.log"}
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def test_make_run_welcomes_a_new_patient_within_seconds(
    browser: Any, axe: Any, steg_instance: dict[str, Any]
) -> None:
    if isinstance(browser, MissingBrowser):
        pytest.fail(browser.reason)
    from playwright.sync_api import expect

    prepared = subprocess.run(  # noqa: S603
        [str(ROOT / ".venv" / "bin" / "python"), "manage.py", "shell", "-c", PREPARE],
        cwd=ROOT,
        env=steg_instance["env"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    found = re.search(r"^INVITATION (\S+)$", prepared.stdout, re.MULTILINE)
    assert found, prepared.stdout + prepared.stderr
    invitation = found.group(1)
    assert invitation.startswith(steg_instance["base"] + "/invitation/")

    context = browser.new_context(base_url=steg_instance["base"], locale="sv-SE")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "response",
        lambda response: (
            problems.append(f"{response.status} {response.url}") if response.status >= 500 else None
        ),
    )
    try:
        page.goto(invitation)
        page.fill("#activate-personnummer", PERSONNUMMER)
        page.fill("#activate-password1", PASSWORD)
        page.fill("#activate-password2", PASSWORD)
        page.check("#activate-accept_terms")
        page.check("#activate-consent")
        quit_date = datetime.datetime.now(tz=datetime.UTC).date() + datetime.timedelta(days=7)
        page.fill("#activate-quit_date", quit_date.isoformat())
        with page.expect_navigation():
            page.locator("main form:has(#activate-consent) button[type=submit]").click()
        activated = time.monotonic()
        assert "/pages/welcome/" in page.url, page.url

        # The welcome message: sent by the worker `make run` started, after the activation
        # committed. Look at the messages as the patient would, until it is there.
        welcome = page.locator("li.thread__message--automatic")
        while True:
            page.goto("/patient/messages/")
            if "/patient/messages/" not in page.url or welcome.count() == 0:
                # With one treatment the inbox leads straight to the conversation.
                link = page.locator("main a[href*='/messages/']").first
                if link.count():
                    link.click()
                    page.wait_for_load_state()
            if welcome.count() > 0:
                break
            assert time.monotonic() - activated < 15, "no welcome message 15 s after activation"
            time.sleep(0.5)
        elapsed = time.monotonic() - activated
        expect(welcome.first).to_contain_text("Automatiskt")
        expect(welcome.first).to_contain_text("Nils")
        print(f"welcome message visible {elapsed:.1f} s after activation")
        results = axe.run(page)
        assert results.violations_count == 0, results.generate_report()
        assert not problems, problems
    finally:
        context.close()
    # The instance is set up for real use: the scheduler is running next to the worker.
    log = steg_instance["log"].read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
    listing = subprocess.run(  # noqa: S603
        ["ps", "-eo", "args"],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "manage.py run_scheduler" in listing and "manage.py db_worker" in listing
