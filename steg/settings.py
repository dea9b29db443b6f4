"""Steg settings.

Every setting that differs between a laptop and production comes from an environment
variable, with a safe default for local use. ``STEG_ENV=production`` turns on the
production hardening and refuses to start with unsafe values (see docs/deployment.md).
A secret may also be read from a file: ``SECRET_KEY_FILE=/run/secrets/key``.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent


def envstr(name: str, default: str = "") -> str:
    """A string from the environment, or from the file named by NAME_FILE."""
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        return Path(file_path).read_text(encoding="utf-8").strip()
    return os.environ.get(name, default)


def envbool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def envint(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from exc


def envlist(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in envstr(name, default).split(",") if item.strip()]


STEG_ENV = envstr("STEG_ENV", "development")
if STEG_ENV not in ("development", "test", "production"):
    raise ImproperlyConfigured("STEG_ENV must be development, test or production")
PRODUCTION = STEG_ENV == "production"

DEV_SECRET_KEY = "django-insecure-steg-local-development-only"  # noqa: S105
SECRET_KEY = envstr("SECRET_KEY", "" if PRODUCTION else DEV_SECRET_KEY)
DEBUG = envbool("DEBUG", not PRODUCTION)
DATA_DIR = Path(envstr("STEG_DATA_DIR", str(BASE_DIR / "data")))

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "" if PRODUCTION else "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")
SITE_URL = envstr("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.usersessions",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.openid_connect",
    "csp",
    "django_htmx",
    "template_partials",
    "django_tasks",
    "django_tasks_db",
    "steg.core",
    "steg.accounts",
    "steg.audit",
    "steg.care",
    "steg.dialog",
    "steg.dashboard",
    "steg.programmes",
    "steg.questionnaires",
    "steg.tobacco",
    "steg.automation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "steg.core.middleware.RequestIdMiddleware",
    "steg.core.middleware.MaintenanceMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "steg.core.middleware.LanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "steg.accounts.middleware.SessionTimeoutMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "allauth.usersessions.middleware.UserSessionsMiddleware",
    "steg.accounts.middleware.StaffMfaRequiredMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "steg.core.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "steg.urls"
WSGI_APPLICATION = "steg.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "steg.core.context_processors.steg",
            ],
        },
    }
]

# Database: SQLite in the data folder by default (WAL, immediate transactions so that
# concurrent writers wait instead of failing); PostgreSQL through DATABASE_URL.
DATABASE_URL = envstr("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(DATA_DIR / "steg.sqlite3"),
            # Keep the connection between requests: opening one runs the PRAGMAs below.
            "CONN_MAX_AGE": 60,
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": (
                    "PRAGMA journal_mode=WAL;"
                    "PRAGMA synchronous=NORMAL;"
                    "PRAGMA foreign_keys=ON;"
                    "PRAGMA busy_timeout=20000;"
                ),
            },
        }
    }
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = envstr("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"

# django-allauth: e-mail login, no self sign-up (patients are invited), TOTP for staff.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_ADAPTER = "steg.accounts.adapter.AccountAdapter"
ACCOUNT_LOGOUT_ON_GET = False
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = True
ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED = False
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_SESSION_REMEMBER = False
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if PRODUCTION else "http"
# Failed logins: after 5 failures for one account within 15 minutes the account is locked
# for the rest of that window; 20 failures a minute from one address are refused.
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": f"20/m/ip,{envint('STEG_LOGIN_FAILURES', 5)}/15m/key",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    "reauthenticate": "10/m/user",
    "invitation_code": "10/15m/ip",  # wrong invitation codes (steg.care.views_invitations)
}
# Behind a proxy (nginx), how many proxies' X-Forwarded-For the rate limits trust (1 for one).
ALLAUTH_TRUSTED_PROXY_COUNT = envint("STEG_TRUSTED_PROXY_COUNT", 0)
MFA_ADAPTER = "steg.accounts.adapter.MFAAdapter"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Steg"
MFA_RECOVERY_CODE_COUNT = 10
# E-mail addresses are not verified (ACCOUNT_EMAIL_VERIFICATION = "none": administrators add
# staff, care units invite patients), so an unverified address must not block setting up TOTP.
MFA_ALLOW_UNVERIFIED_EMAIL = True
# The session list (log out everywhere) records each session at login. Updating it on every
# request would turn every page view into a write; the idle timeout keeps its own throttled
# timestamp in the session instead (steg.accounts.middleware).
USERSESSIONS_TRACK_ACTIVITY = False
SOCIALACCOUNT_ADAPTER = "steg.accounts.adapter.SocialAccountAdapter"
SOCIALACCOUNT_ONLY = False
SOCIALACCOUNT_LOGIN_ON_GET = False

# OpenID Connect for a region's e-ID (BankID, Freja eID through an identity broker).
# Off unless STEG_OIDC_CLIENT_ID is set; see docs/authentication.md.
OIDC_CLIENT_ID = envstr("STEG_OIDC_CLIENT_ID")
OIDC_ENABLED = bool(OIDC_CLIENT_ID)
STEG_OIDC_PERSONNUMMER_CLAIM = envstr("STEG_OIDC_PERSONNUMMER_CLAIM", "personal_identity_number")
SOCIALACCOUNT_PROVIDERS: dict[str, dict[str, object]] = {}
if OIDC_ENABLED:
    SOCIALACCOUNT_PROVIDERS["openid_connect"] = {
        "OAUTH_PKCE_ENABLED": True,
        "APPS": [
            {
                "provider_id": envstr("STEG_OIDC_PROVIDER_ID", "eid"),
                "name": envstr("STEG_OIDC_NAME", "e-legitimation"),
                "client_id": OIDC_CLIENT_ID,
                "secret": envstr("STEG_OIDC_CLIENT_SECRET"),
                "settings": {
                    "server_url": envstr("STEG_OIDC_SERVER_URL"),
                    "token_auth_method": envstr(
                        "STEG_OIDC_TOKEN_AUTH_METHOD", "client_secret_basic"
                    ),
                },
            }
        ],
    }

# Sessions: idle timeout and absolute lifetime, enforced by SessionTimeoutMiddleware.
SESSION_IDLE_TIMEOUT = timedelta(minutes=envint("STEG_SESSION_IDLE_MINUTES", 30))
SESSION_ABSOLUTE_LIFETIME = timedelta(hours=envint("STEG_SESSION_ABSOLUTE_HOURS", 12))
SESSION_COOKIE_AGE = int(SESSION_ABSOLUTE_LIFETIME.total_seconds())
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_FAILURE_VIEW = "steg.core.views.csrf_failure"

# Languages: Swedish by default, English by choice (no Accept-Language guessing).
LANGUAGE_CODE = "sv"
LANGUAGES = [("sv", _("Swedish")), ("en", _("English"))]
LANGUAGE_COOKIE_NAME = "steg_language"
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_COOKIE_SAMESITE = "Lax"
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "Europe/Stockholm"

STATIC_URL = "/static/"
STATIC_ROOT = Path(envstr("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# E-mail: printed to the console locally; SMTP in production (EMAIL_HOST etc.).
EMAIL_BACKEND = envstr(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if PRODUCTION
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = envstr("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", 25)
EMAIL_HOST_USER = envstr("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = envstr("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", "Steg <no-reply@steg.localhost>")

# Notifications (steg.dialog, see docs/notifications.md). SMS go through STEG_SMS_BACKEND, a
# dotted path: printed to the console locally; production must name one explicitly
# (steg.dialog.sms.NullSmsBackend sends none). Failed deliveries are retried with exponential
# back-off (STEG_NOTIFY_RETRY_SECONDS, doubling) up to STEG_NOTIFY_MAX_ATTEMPTS attempts.
STEG_SMS_BACKEND = envstr(
    "STEG_SMS_BACKEND", "" if PRODUCTION else "steg.dialog.sms.ConsoleSmsBackend"
)
# For STEG_SMS_BACKEND=steg.dialog.sms.Sms46ElksBackend (46elks.se, an example adapter): the
# API credentials (each may come from a *_FILE), the sender shown on the phone, the endpoint.
STEG_SMS_46ELKS_USERNAME = envstr("STEG_SMS_46ELKS_USERNAME")
STEG_SMS_46ELKS_PASSWORD = envstr("STEG_SMS_46ELKS_PASSWORD")
STEG_SMS_46ELKS_URL = envstr("STEG_SMS_46ELKS_URL", "https://api.46elks.com/a1/sms")
STEG_SMS_SENDER = envstr("STEG_SMS_SENDER", "Steg")
STEG_NOTIFY_MAX_ATTEMPTS = envint("STEG_NOTIFY_MAX_ATTEMPTS", 5)
STEG_NOTIFY_RETRY_SECONDS = envint("STEG_NOTIFY_RETRY_SECONDS", 60)
# Automation (steg.automation, see docs/automation.md). A firing handed to a worker is handed
# out again after STEG_AUTOMATION_LEASE_SECONDS if it has not fired by then (the worker died);
# a failing one is retried with back-off (STEG_AUTOMATION_RETRY_SECONDS, doubling) up to
# STEG_AUTOMATION_MAX_ATTEMPTS attempts; a time rule more than STEG_AUTOMATION_STALE_HOURS late
# (the scheduler was down) is skipped rather than sent at the wrong time of day.
STEG_AUTOMATION_LEASE_SECONDS = envint("STEG_AUTOMATION_LEASE_SECONDS", 600)
STEG_AUTOMATION_RETRY_SECONDS = envint("STEG_AUTOMATION_RETRY_SECONDS", 60)
STEG_AUTOMATION_MAX_ATTEMPTS = envint("STEG_AUTOMATION_MAX_ATTEMPTS", 5)
STEG_AUTOMATION_STALE_HOURS = envint("STEG_AUTOMATION_STALE_HOURS", 6)
# The development outbox (/dev/outbox/) shows every notification to anyone: never in production.
STEG_DEV_OUTBOX = envbool("STEG_DEV_OUTBOX", not PRODUCTION)

MAINTENANCE_MODE = envbool("STEG_MAINTENANCE", False)

# The care journey (docs/care-journey.md).
# The version of the terms of use that patients accept on activation; change it when the text
# changes, so that each enrolment records which version its patient accepted.
STEG_TERMS_VERSION = envstr("STEG_TERMS_VERSION", "2026-11")
# Days an invitation link and code stay valid.
STEG_INVITATION_DAYS = envint("STEG_INVITATION_DAYS", 14)
# The external video service for video meetings (Steg does not build video itself): a URL with
# `{room}`, replaced by a random room name for each meeting; empty means the therapist pastes a
# link for each video meeting.
STEG_VIDEO_URL_TEMPLATE = envstr("STEG_VIDEO_URL_TEMPLATE", "")
# Reminders of booked meetings go out this many hours before the start.
STEG_MEETING_REMINDER_HOURS = envint("STEG_MEETING_REMINDER_HOURS", 24)

# The therapist's dashboard (docs/dashboard.md): an active patient with no activity for this
# many days is flagged as inactive.
STEG_INACTIVE_DAYS = envint("STEG_INACTIVE_DAYS", 7)

# Content-Security-Policy: no inline script or style anywhere.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [SELF],
        "object-src": [NONE],
    }
}
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        # Invitation links carry a secret token: keep it out of the request and server logs.
        "redact_invitation_tokens": {"()": "steg.care.logging.RedactInvitationTokens"},
    },
    "formatters": {
        # Django's own for the development server (restated: configuring the logger below
        # replaces its handler).
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler"},
        "django.server": {
            "level": "INFO",
            "class": "logging.StreamHandler",
            "formatter": "django.server",
        },
    },
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django.request": {"filters": ["redact_invitation_tokens"]},
        "django.server": {
            "handlers": ["django.server"],
            "level": "INFO",
            "propagate": False,
            "filters": ["redact_invitation_tokens"],
        },
        "weasyprint": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}

if PRODUCTION:
    SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", False)
    if not SECURE_HSTS_PRELOAD:
        # Joining the browsers' preload list is the domain owner's decision, off by default.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    LANGUAGE_COOKIE_SECURE = True
    CSRF_COOKIE_HTTPONLY = True
    problems = []
    if DEBUG:
        problems.append("DEBUG must be off")
    if not SECRET_KEY or SECRET_KEY == DEV_SECRET_KEY or len(SECRET_KEY) < 50:
        problems.append("SECRET_KEY must be set to a random value of at least 50 characters")
    if DATABASES["default"]["ENGINE"].endswith("sqlite3") and not envbool(
        "STEG_ALLOW_SQLITE", False
    ):
        problems.append("DATABASE_URL must point to PostgreSQL (or set STEG_ALLOW_SQLITE=true)")
    if not ALLOWED_HOSTS:
        problems.append("ALLOWED_HOSTS must be set")
    if not STEG_SMS_BACKEND:
        problems.append(
            "STEG_SMS_BACKEND must be set (steg.dialog.sms.NullSmsBackend to send no SMS)"
        )
    if STEG_DEV_OUTBOX:
        problems.append("STEG_DEV_OUTBOX must be off")
    if problems:
        raise ImproperlyConfigured(
            "Refusing to start with unsafe production settings: " + "; ".join(problems)
        )

# Static files: whitenoise serves them in every mode; locally straight from the source folders.
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = not PRODUCTION
WHITENOISE_MAX_AGE = 31536000 if PRODUCTION else 0
