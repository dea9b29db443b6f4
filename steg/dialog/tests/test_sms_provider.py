"""The 46elks adapter, against a local HTTP server standing in for api.46elks.com."""

from __future__ import annotations

import base64
import http.server
import logging
import socket
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured
from pytest_django.fixtures import Settings

from steg.dialog import sms
from steg.dialog.models import Notification
from steg.dialog.notifications import notify
from steg.dialog.sms import Sms46ElksBackend, SmsGatewayError, e164
from steg.dialog.tasks import deliver

from .conftest import MEETING_CONTEXT
from .test_settings import import_settings

USERNAME = "u0123456789abcdef"
PASSWORD = "not-a-real-password"  # noqa: S105


@dataclass
class FakeElks:
    """What the fake gateway received, and what it answers next."""

    url: str = ""
    status: int = 200
    answer: bytes = b'{"id": "s17a6dafb12d6b1cabc", "status": "created"}'
    requests: list[dict[str, object]] = field(default_factory=list)


@pytest.fixture
def elks(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeElks]:
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    fake = FakeElks()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
            length = int(self.headers.get("Content-Length", 0))
            body = self.rfile.read(length).decode()
            fake.requests.append(
                {
                    "path": self.path,
                    "authorization": self.headers.get("Authorization"),
                    "content_type": self.headers.get("Content-Type"),
                    "form": dict(urllib.parse.parse_qsl(body)),
                }
            )
            self.send_response(fake.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(fake.answer)))
            self.end_headers()
            self.wfile.write(fake.answer)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return None

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/a1/sms"
    settings.STEG_SMS_BACKEND = "steg.dialog.sms.Sms46ElksBackend"
    settings.STEG_SMS_46ELKS_USERNAME = USERNAME
    settings.STEG_SMS_46ELKS_PASSWORD = PASSWORD
    settings.STEG_SMS_46ELKS_URL = fake.url
    settings.STEG_SMS_SENDER = "Steg"
    yield fake
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_it_posts_the_form_with_basic_auth(elks: FakeElks) -> None:
    Sms46ElksBackend().send("070-123 45 67", "Det finns något nytt i Steg: https://x/ å")
    (request,) = elks.requests
    expected = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
    assert request["path"] == "/a1/sms"
    assert request["authorization"] == f"Basic {expected}"
    assert request["content_type"] == "application/x-www-form-urlencoded"
    assert request["form"] == {
        "from": "Steg",
        "to": "+46701234567",
        "message": "Det finns något nytt i Steg: https://x/ å",
    }


@pytest.mark.django_db
def test_a_notification_is_delivered_through_46elks(
    elks: FakeElks, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    (row,) = notify(kind="meeting_booked", phone="+46701234567", context=MEETING_CONTEXT)
    assert deliver(row.pk) == "sent"
    row.refresh_from_db()
    assert row.status == Notification.Status.SENT
    assert elks.requests[0]["form"]["message"] == row.body  # type: ignore[index]
    # Neither the text nor the number is logged.
    assert row.body not in caplog.text
    assert "+46701234567" not in caplog.text
    assert "s17a6dafb12d6b1cabc" in caplog.text


@pytest.mark.django_db
def test_a_server_error_is_retried_and_recorded_without_the_text(
    elks: FakeElks, caplog: pytest.LogCaptureFixture
) -> None:
    elks.status = 500
    elks.answer = b"Internal error"
    (row,) = notify(kind="meeting_booked", phone="+46701234567", context=MEETING_CONTEXT)
    assert deliver(row.pk) == "retry"
    row.refresh_from_db()
    assert row.status == Notification.Status.QUEUED
    assert row.last_error == "SmsGatewayError: 46elks answered 500: Internal error"
    assert row.next_attempt_at > row.created_at
    assert row.body not in caplog.text


def test_a_refusal_keeps_only_plain_words_of_the_reason(elks: FakeElks) -> None:
    elks.status = 403
    elks.answer = b"Invalid to number"
    with pytest.raises(SmsGatewayError, match=r"^46elks answered 403: Invalid to number$"):
        Sms46ElksBackend().send("+46701234567", "Hej")
    # An answer that echoes the request (a number, a link) is left out.
    elks.status = 400
    elks.answer = b"Bad message: https://steg.example/invitation/secret-token +46701234567"
    with pytest.raises(SmsGatewayError) as caught:
        Sms46ElksBackend().send("+46701234567", "https://steg.example/invitation/secret-token")
    assert str(caught.value) == "46elks answered 400"


def test_an_unreachable_gateway_raises(settings: Settings) -> None:
    # A port that nothing listens on: bind one, then close it.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.STEG_SMS_46ELKS_USERNAME = USERNAME
    settings.STEG_SMS_46ELKS_PASSWORD = PASSWORD
    settings.STEG_SMS_46ELKS_URL = f"http://127.0.0.1:{port}/a1/sms"
    with pytest.raises(SmsGatewayError, match="could not be reached"):
        Sms46ElksBackend().send("+46701234567", "Hej")


@pytest.mark.django_db
def test_missing_credentials_fail_the_attempt_visibly(settings: Settings) -> None:
    settings.STEG_SMS_BACKEND = "steg.dialog.sms.Sms46ElksBackend"
    settings.STEG_SMS_46ELKS_USERNAME = ""
    with pytest.raises(ImproperlyConfigured):
        Sms46ElksBackend()
    (row,) = notify(kind="meeting_booked", phone="+46701234567", context=MEETING_CONTEXT)
    assert deliver(row.pk) == "retry"
    row.refresh_from_db()
    assert row.last_error.startswith("ImproperlyConfigured: Sms46ElksBackend needs")
    assert sms.outbox == []


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("070-123 45 67", "+46701234567"),
        ("0701234567", "+46701234567"),
        ("+46 70 123 45 67", "+46701234567"),
        ("0046701234567", "+46701234567"),
        ("(070) 123.45.67", "+46701234567"),
        ("+4520123456", "+4520123456"),
    ],
)
def test_numbers_are_sent_in_e164_form(written: str, expected: str) -> None:
    assert e164(written) == expected


@pytest.mark.parametrize("written", ["", "070-ABC", "+0701234567", "12"])
def test_what_is_not_a_number_is_refused(written: str) -> None:
    with pytest.raises(ValueError, match="not a phone number"):
        e164(written)


def test_the_credentials_may_come_from_files(tmp_path: Path) -> None:
    password_file = tmp_path / "password"
    password_file.write_text("from-a-file\n", encoding="utf-8")
    result = import_settings(
        "development",
        "from steg import settings as s; "
        "print(s.STEG_SMS_46ELKS_USERNAME, s.STEG_SMS_46ELKS_PASSWORD, s.STEG_SMS_SENDER, "
        "s.STEG_SMS_46ELKS_URL)",
        STEG_SMS_46ELKS_USERNAME="user",
        STEG_SMS_46ELKS_PASSWORD_FILE=str(password_file),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "user",
        "from-a-file",
        "Steg",
        "https://api.46elks.com/a1/sms",
    ]
