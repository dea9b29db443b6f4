"""Recording audit events. `record_event` is the only way to write to the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection, transaction
from django.http import HttpRequest
from django.utils import timezone

from .models import GENESIS_HASH, AuditEvent

if TYPE_CHECKING:
    from steg.accounts.models import Unit, User
    from steg.care.models import Patient

# Any constant works: it names the one advisory lock that serialises appends to the chain.
_CHAIN_LOCK_KEY = 7_465_730_001


@dataclass(frozen=True)
class Actor:
    """Who is acting, in which role and at which care unit."""

    user: User | None
    role: str = ""
    unit: Unit | None = None


def _client_ip(request: HttpRequest | None) -> str | None:
    """The client's address; behind STEG_TRUSTED_PROXY_COUNT proxies, the one they forwarded
    (as allauth's rate limits see it), not the proxy's own."""
    if request is None:
        return None
    if getattr(settings, "ALLAUTH_TRUSTED_PROXY_COUNT", 0):
        from allauth.account.adapter import get_adapter

        try:
            return str(get_adapter(request).get_client_ip(request)) or None
        except Exception:  # a malformed header: fall back to the connection's address
            return request.META.get("REMOTE_ADDR") or None
    return request.META.get("REMOTE_ADDR") or None


def record_event(
    *,
    action: str,
    actor: Actor,
    request: HttpRequest | None = None,
    patient: Patient | None = None,
    object_type: str = "",
    object_id: str | int = "",
    purpose: str = "",
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the audit log, chained to the previous one.

    Runs inside the caller's transaction when there is one, so the event is written
    together with the change it describes, or not at all.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
        last = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first()
        event = AuditEvent(
            actor=actor.user if actor.user is not None and actor.user.pk else None,
            actor_role=actor.role,
            unit=actor.unit,
            patient=patient,
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            purpose=purpose,
            request_id=getattr(request, "request_id", "") if request is not None else "",
            ip=_client_ip(request),
            created_at=timezone.now(),
            detail=detail or {},
            prev_hash=last or GENESIS_HASH,
        )
        event.hash = event.compute_hash()
        event.save(force_insert=True)
        return event


@dataclass(frozen=True)
class ChainBreak:
    event_id: int
    reason: str


def verify_chain(*, batch_size: int = 2000) -> tuple[int, list[ChainBreak]]:
    """Walk the whole log in order; return how many events were checked and every break."""
    checked = 0
    breaks: list[ChainBreak] = []
    expected_prev = GENESIS_HASH
    last_id = 0
    while True:
        batch = list(AuditEvent.objects.filter(id__gt=last_id).order_by("id")[:batch_size])
        if not batch:
            break
        for event in batch:
            checked += 1
            if event.prev_hash != expected_prev:
                breaks.append(ChainBreak(event.id, "link to the previous event does not match"))
            if event.compute_hash() != event.hash:
                breaks.append(ChainBreak(event.id, "content does not match its hash"))
            expected_prev = event.hash
            last_id = event.id
    return checked, breaks
