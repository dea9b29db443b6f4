"""SMS backends: where an SMS goes. Chosen by the STEG_SMS_BACKEND setting (a dotted path).

A backend for a real SMS gateway subclasses `SmsBackend`, sends one message in `send()` and
raises an exception when the gateway refuses it or cannot be reached (the delivery task then
retries later). It should set its own network timeouts, well under a minute, and never log
or raise with the text of the message. `Sms46ElksBackend` is the example to copy.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


class SmsBackend:
    """Sends one text message to one phone number."""

    def send(self, to: str, text: str) -> None:
        raise NotImplementedError


class ConsoleSmsBackend(SmsBackend):
    """Prints each SMS to standard output (the default in development and tests)."""

    _lock = threading.Lock()

    def send(self, to: str, text: str) -> None:
        with self._lock:
            sys.stdout.write(f"SMS to {to}:\n{text}\n{'-' * 40}\n")
            sys.stdout.flush()


class NullSmsBackend(SmsBackend):
    """Sends nothing: for installations without an SMS gateway. The Notification row is the
    record of what would have been sent."""

    def send(self, to: str, text: str) -> None:
        return None


@dataclass(frozen=True)
class SmsMessage:
    to: str
    text: str


outbox: list[SmsMessage] = []
"""What `LocmemSmsBackend` has sent, like django.core.mail.outbox (tests empty it)."""


class LocmemSmsBackend(SmsBackend):
    """Keeps each SMS in `steg.dialog.sms.outbox`, for tests."""

    def send(self, to: str, text: str) -> None:
        outbox.append(SmsMessage(to=to, text=text))


class SmsGatewayError(Exception):
    """The gateway answered, but did not take the message (the delivery task retries)."""


def e164(number: str, *, country_code: str = "46") -> str:
    """A phone number as written in Sweden ("070-123 45 67", "0046 70…") in E.164 form
    ("+46701234567"), which gateways expect. Raises ValueError when it is not a number."""
    digits = re.sub(r"[\s\-().]", "", number)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    elif digits.startswith("0"):
        digits = f"+{country_code}{digits[1:]}"
    elif not digits.startswith("+"):
        digits = "+" + digits
    if not re.fullmatch(r"\+[1-9]\d{6,14}", digits):
        raise ValueError("not a phone number that an SMS can be sent to")
    return digits


class Sms46ElksBackend(SmsBackend):
    """Sends through 46elks (https://46elks.com/docs/send-sms): one HTTP POST per message.

    Settings: STEG_SMS_46ELKS_USERNAME and STEG_SMS_46ELKS_PASSWORD (the API credentials; each
    may come from a *_FILE), STEG_SMS_SENDER (the sender shown: up to 11 letters and digits, or
    a number in E.164 form; default "Steg") and STEG_SMS_46ELKS_URL (the endpoint; tests point
    it at a local server). Any answer other than 2xx, and any network error, raises: the
    delivery task then retries with back-off. Neither the text nor the number is logged.
    """

    DEFAULT_URL = "https://api.46elks.com/a1/sms"
    TIMEOUT_SECONDS = 15

    def __init__(self) -> None:
        self.username = getattr(settings, "STEG_SMS_46ELKS_USERNAME", "")
        self.password = getattr(settings, "STEG_SMS_46ELKS_PASSWORD", "")
        if not self.username or not self.password:
            raise ImproperlyConfigured(
                "Sms46ElksBackend needs STEG_SMS_46ELKS_USERNAME and STEG_SMS_46ELKS_PASSWORD"
            )
        self.url = getattr(settings, "STEG_SMS_46ELKS_URL", "") or self.DEFAULT_URL
        self.sender = getattr(settings, "STEG_SMS_SENDER", "") or "Steg"

    def send(self, to: str, text: str) -> None:
        data = urllib.parse.urlencode(
            {"from": self.sender, "to": e164(to), "message": text}
        ).encode("utf-8")
        credentials = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        request = urllib.request.Request(  # noqa: S310 - the URL is our own setting
            self.url,
            data=data,
            method="POST",
            headers={
                "Authorization": f"Basic {credentials}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.TIMEOUT_SECONDS) as response:  # noqa: S310
                answer = response.read(4096)
        except urllib.error.HTTPError as exc:
            raise SmsGatewayError(f"46elks answered {exc.code}{_reason(exc)}") from None
        except OSError as exc:  # URLError, timeouts, refused connections
            raise SmsGatewayError(f"46elks could not be reached: {exc}"[:150]) from None
        try:
            sms_id = json.loads(answer).get("id", "")
        except (ValueError, AttributeError):
            sms_id = ""
        logger.info("SMS accepted by 46elks as %s", sms_id or "(no id)")


def _reason(error: urllib.error.HTTPError) -> str:
    """46elks explains a refusal in a short plain-text body ("Invalid to number"). It is kept
    for the record only when it is a few plain words: nothing with digits or a link, which
    could be a number or a piece of the message."""
    try:
        reason = error.read(200).decode("utf-8", "replace").strip()
    except OSError:
        return ""
    return f": {reason}" if re.fullmatch(r"[A-Za-z][A-Za-z ,.'_-]{0,79}", reason) else ""


def get_sms_backend() -> SmsBackend:
    backend_class = import_string(settings.STEG_SMS_BACKEND)
    backend = backend_class()
    if not isinstance(backend, SmsBackend):
        raise TypeError(f"{settings.STEG_SMS_BACKEND} is not an SmsBackend")
    return backend
