"""People and organisations: users, regions, care units and staff roles."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from django.db.models.fields.related_descriptors import RelatedManager


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("An e-mail address is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """Anyone who logs in: a patient, a member of staff, or both. Login is by e-mail."""

    email = models.EmailField(_("e-mail address"), unique=True)
    first_name = models.CharField(_("first name"), max_length=150, blank=True)
    last_name = models.CharField(_("last name"), max_length=150, blank=True)
    language = models.CharField(
        _("language"),
        max_length=8,
        blank=True,
        choices=[("sv", "Svenska"), ("en", "English")],
    )
    is_active = models.BooleanField(_("active"), default=True)
    date_joined = models.DateTimeField(_("joined"), default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []  # type: ignore[misc]

    if TYPE_CHECKING:
        memberships: RelatedManager[Membership]
        region_admin_roles: RelatedManager[RegionAdmin]

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.get_full_name() or self.email

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def get_short_name(self) -> str:
        return self.first_name or self.email

    @cached_property
    def staff_memberships(self) -> list[Membership]:
        """This user's unit memberships with their units and organisations (one query)."""
        return list(
            self.memberships.select_related("unit__organisation").order_by(
                "unit__organisation__name", "unit__name", "role"
            )
        )

    @cached_property
    def administered_organisations(self) -> list[Organisation]:
        return [ra.organisation for ra in self.region_admin_roles.select_related("organisation")]

    @property
    def is_staff_member(self) -> bool:
        """Staff must use a second factor; patients need not."""
        return bool(self.staff_memberships or self.administered_organisations)

    def units_with_role(self, *roles: str) -> list[Unit]:
        return [m.unit for m in self.staff_memberships if m.role in roles]

    @property
    def is_admin(self) -> bool:
        return bool(
            self.administered_organisations or self.units_with_role(Membership.Role.UNIT_ADMIN)
        )


class Organisation(models.Model):
    """A region or another care provider that runs Steg for its residents."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class UnitQuerySet(models.QuerySet["Unit"]):
    def administered_by(self, user: User) -> UnitQuerySet:
        """Units whose audit log and staff this user may manage."""
        return self.filter(
            models.Q(memberships__user=user, memberships__role=Membership.Role.UNIT_ADMIN)
            | models.Q(organisation__region_admins__user=user)
        ).distinct()


class Unit(models.Model):
    """A care unit (vårdenhet), e.g. a tobacco-cessation clinic at a health centre."""

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="units", verbose_name=_("organisation")
    )
    name = models.CharField(_("name"), max_length=200)
    hsa_id = models.CharField(_("HSA id"), max_length=64, blank=True)
    # A unit that takes referrals (a cessation clinic) appears as a receiving unit for the
    # referrers of its organisation.
    accepts_referrals = models.BooleanField(_("accepts referrals"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = UnitQuerySet.as_manager()

    class Meta:
        verbose_name = _("care unit")
        verbose_name_plural = _("care units")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organisation", "name"], name="unit_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A member of staff's role at one care unit."""

    class Role(models.TextChoices):
        THERAPIST = "therapist", _("therapist")
        UNIT_ADMIN = "unit_admin", _("unit administrator")
        AUTHOR = "author", _("content author")
        REFERRER = "referrer", _("referrer")

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    unit = models.ForeignKey(Unit, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["user", "unit", "role"], name="membership_unique")
        ]
        indexes = [models.Index(fields=["unit", "role"])]

    def __str__(self) -> str:
        return f"{self.user} – {self.get_role_display()} – {self.unit}"


class RegionAdmin(models.Model):
    """An administrator of a whole organisation (region): all of its units."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="region_admin_roles")
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="region_admins"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("region administrator")
        verbose_name_plural = _("region administrators")
        constraints = [
            models.UniqueConstraint(fields=["user", "organisation"], name="region_admin_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} – {self.organisation}"
