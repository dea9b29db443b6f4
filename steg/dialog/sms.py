"""SMS backends: where an SMS goes. Chosen by the STEG_SMS_BACKEND setting (a dotted path).

A backend for a real SMS gateway subclasses `SmsBackend`, sends one message in `send()` and
raises an exception when the gateway refuses it or cannot be reached (the delivery task then
retries later). It should set its own network timeouts, well under a minute.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass

from django.conf import settings
from django.utils.module_loading import import_string


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


def get_sms_backend() -> SmsBackend:
    backend_class = import_string(settings.STEG_SMS_BACKEND)
    backend = backend_class()
    if not isinstance(backend, SmsBackend):
        raise TypeError(f"{settings.STEG_SMS_BACKEND} is not an SmsBackend")
    return backend
