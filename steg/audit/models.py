"""The audit log: who read or changed which patient's data, what, when and why.

Rows are append-only. Each row carries the SHA-256 of its own content and of the row before
it, so any edit, insertion or removal breaks the chain (`manage.py verify_audit`). On
PostgreSQL a trigger also refuses UPDATE and DELETE (migration 0002).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

GENESIS_HASH = "0" * 64


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def for_units(self, unit_ids: list[int]) -> AuditEventQuerySet:
        return self.filter(unit_id__in=unit_ids)


class AuditEvent(models.Model):
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    actor_role = models.CharField(_("role"), max_length=32, blank=True)
    unit = models.ForeignKey(
        "accounts.Unit",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("care unit"),
    )
    patient = models.ForeignKey(
        "care.Patient",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("patient"),
    )
    action = models.CharField(_("action"), max_length=100)
    object_type = models.CharField(_("object type"), max_length=100, blank=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    purpose = models.CharField(_("purpose"), max_length=100, blank=True)
    request_id = models.CharField(_("request id"), max_length=64, blank=True)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    created_at = models.DateTimeField(_("time"))
    detail = models.JSONField(_("detail"), default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["patient", "-created_at"], name="audit_patient_time"),
            # One kind of event of one patient, newest first: the logins on the therapist's
            # timeline, which along (patient, time) would walk every read of the patient's
            # data (each view of a page is an event) to find them.
            models.Index(
                fields=["patient", "action", "-created_at"], name="audit_patient_action_time"
            ),
            models.Index(fields=["actor", "-created_at"], name="audit_actor_time"),
            models.Index(fields=["unit", "-created_at"], name="audit_unit_time"),
            models.Index(fields=["action", "-created_at"], name="audit_action_time"),
            models.Index(fields=["-created_at"], name="audit_time"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.action}"

    def canonical(self) -> dict[str, Any]:
        """The fields covered by the hash, as plain JSON-compatible values."""
        return {
            "actor": self.actor_id,
            "actor_role": self.actor_role,
            "unit": self.unit_id,
            "patient": self.patient_id,
            "action": self.action,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "purpose": self.purpose,
            "request_id": self.request_id,
            "ip": self.ip,
            "created_at": self.created_at.isoformat(timespec="microseconds"),
            "detail": self.detail,
        }

    def compute_hash(self) -> str:
        payload = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(f"{self.prev_hash}|{payload}".encode()).hexdigest()
