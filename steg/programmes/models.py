"""Treatment programmes as immutable, versioned content, and a patient's work in one.

A programme folder (see docs/programme-format.md) is imported as a `ProgrammeVersion`
identified by the hash of its files. Versions, steps, pages and their contents are never
edited in place: changed content is a new version. An enrolment is pinned to one version.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Programme(models.Model):
    slug = models.SlugField(_("identifier"), max_length=100, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("programme")
        verbose_name_plural = _("programmes")

    def __str__(self) -> str:
        return self.slug


class ProgrammeVersion(models.Model):
    class Guidance(models.TextChoices):
        GUIDED = "guided", _("guided")
        SELF_HELP = "self-help", _("self-help")

    programme = models.ForeignKey(Programme, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField(_("version"))
    content_hash = models.CharField(max_length=64, unique=True)
    languages = models.JSONField(default=list)
    titles = models.JSONField(default=dict)
    descriptions = models.JSONField(default=dict)
    audiences = models.JSONField(default=dict)
    guidance = models.CharField(max_length=20, choices=Guidance.choices)
    questionnaire_files = models.JSONField(default=dict)
    # The attributes content adapts to (programme.yaml `attributes`), by name:
    # {"tobacco": {"values": [...], "from": {"questionnaire": ..., "item": ...}}}.
    attributes = models.JSONField(default=dict, blank=True)
    # The automation rules (automations.yaml), as steg.automation.spec.to_json stores them.
    automations = models.JSONField(default=dict, blank=True)
    imported_at = models.DateTimeField(auto_now_add=True)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("programme version")
        verbose_name_plural = _("programme versions")
        constraints = [
            models.UniqueConstraint(fields=["programme", "number"], name="version_unique_number")
        ]

    def __str__(self) -> str:
        return f"{self.programme.slug} v{self.number}"

    def title(self, language: str) -> str:
        return str(self.titles.get(language) or self.titles.get(self.languages[0], ""))


class Step(models.Model):
    class Unlock(models.TextChoices):
        IMMEDIATELY = "immediately", _("at once")
        AFTER_PREVIOUS = "after_previous", _("when the previous step is done")
        DAYS_AFTER_START = "days_after_start", _("days after the start")
        DAYS_AFTER_QUIT_DATE = "days_after_quit_date", _("days after the quit date")
        THERAPIST = "therapist", _("when the therapist opens it")

    version = models.ForeignKey(ProgrammeVersion, on_delete=models.CASCADE, related_name="steps")
    key = models.SlugField(max_length=100)
    position = models.PositiveIntegerField()
    titles = models.JSONField(default=dict)
    summaries = models.JSONField(default=dict)
    unlock_kind = models.CharField(max_length=30, choices=Unlock.choices)
    unlock_days = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["version", "position"]
        constraints = [
            models.UniqueConstraint(fields=["version", "key"], name="step_unique_key"),
        ]

    def __str__(self) -> str:
        return self.key


class Page(models.Model):
    version = models.ForeignKey(ProgrammeVersion, on_delete=models.CASCADE, related_name="pages")
    step = models.ForeignKey(Step, on_delete=models.CASCADE, related_name="pages")
    key = models.SlugField(max_length=100)
    position = models.PositiveIntegerField(help_text="Order within the whole programme")
    # Shown only when this condition holds (`tobacco:snus|both`); empty: always shown.
    when = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ["version", "position"]
        constraints = [
            models.UniqueConstraint(fields=["version", "key"], name="page_unique_key"),
        ]

    def __str__(self) -> str:
        return self.key


class PageContent(models.Model):
    """One language version of a page: its title, blocks and plain text for search."""

    page = models.ForeignKey(Page, on_delete=models.CASCADE, related_name="contents")
    language = models.CharField(max_length=8)
    title = models.CharField(max_length=300)
    minutes = models.PositiveSmallIntegerField()
    blocks = models.JSONField(default=list)
    text = models.TextField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["page", "language"], name="pagecontent_unique_lang"),
        ]

    def __str__(self) -> str:
        return f"{self.page.key} ({self.language})"


class ProgrammeMedia(models.Model):
    """An image, audio or video file of a programme, stored once by content hash."""

    sha256 = models.CharField(max_length=64, unique=True)
    content_type = models.CharField(max_length=100)
    data = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.sha256


# --- a patient's work in an enrolment ------------------------------------------------------


class PageProgress(models.Model):
    enrolment = models.ForeignKey(
        "care.Enrolment", on_delete=models.CASCADE, related_name="page_progress"
    )
    page = models.ForeignKey(Page, on_delete=models.PROTECT, related_name="+")
    first_viewed_at = models.DateTimeField()
    last_viewed_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["enrolment", "page"], name="pageprogress_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.enrolment_id}: {self.page_id}"


class ExerciseAnswer(models.Model):
    """A patient's answer to one free-text exercise: the draft, and what was submitted."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        SUBMITTED = "submitted", _("submitted")

    enrolment = models.ForeignKey(
        "care.Enrolment", on_delete=models.CASCADE, related_name="exercise_answers"
    )
    key = models.SlugField(max_length=100)
    page = models.ForeignKey(Page, on_delete=models.PROTECT, related_name="+")
    draft = models.TextField(blank=True)
    submitted_text = models.TextField(blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    updated_at = models.DateTimeField()
    submitted_at = models.DateTimeField(null=True, blank=True)
    # The form token of the last submission: a repeated submit of the same form stores nothing.
    last_submission_token = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["enrolment", "key"], name="exerciseanswer_unique"),
        ]
        indexes = [models.Index(fields=["status", "submitted_at"])]

    def __str__(self) -> str:
        return f"{self.enrolment_id}: {self.key} ({self.status})"


class ChecklistTick(models.Model):
    enrolment = models.ForeignKey(
        "care.Enrolment", on_delete=models.CASCADE, related_name="checklist_ticks"
    )
    item_key = models.CharField(max_length=120)
    checked = models.BooleanField(default=False)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["enrolment", "item_key"], name="checklisttick_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.enrolment_id}: {self.item_key}={self.checked}"


class StepOpening(models.Model):
    """A therapist opened a step for one enrolment, whatever its unlock rule."""

    enrolment = models.ForeignKey(
        "care.Enrolment", on_delete=models.CASCADE, related_name="step_openings"
    )
    step_key = models.SlugField(max_length=100)
    # None: opened by an automation rule (`rule`).
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    rule = models.CharField(max_length=100, blank=True)
    opened_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["enrolment", "step_key"], name="stepopening_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.enrolment_id}: {self.step_key}"


class ProgressEvent(models.Model):
    """What the patient did, for the therapist's timeline and statistics."""

    class Kind(models.TextChoices):
        PAGE_VIEWED = "page_viewed", _("page viewed")
        PAGE_READ = "page_read", _("page read")
        EXERCISE_SAVED = "exercise_saved", _("exercise saved")
        EXERCISE_SUBMITTED = "exercise_submitted", _("exercise submitted")
        CHECKLIST_TICKED = "checklist_ticked", _("checklist ticked")
        STEP_OPENED = "step_opened", _("step opened by the therapist")
        QUESTIONNAIRE_SUBMITTED = "questionnaire_submitted", _("questionnaire submitted")

    enrolment = models.ForeignKey(
        "care.Enrolment", on_delete=models.CASCADE, related_name="progress_events"
    )
    kind = models.CharField(max_length=30, choices=Kind.choices)
    subject = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["enrolment", "-created_at"]),
            models.Index(fields=["kind", "-created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.enrolment_id}: {self.kind} {self.subject}"
