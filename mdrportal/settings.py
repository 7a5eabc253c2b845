"""Settings, all read from the environment (see README's configuration table)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import django_stubs_ext
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

from mdrportal.core.celery_config import beat_schedule, filesystem_broker_options, task_routes
from mdrportal.core.database_config import database_config
from mdrportal.core.env import (
    env_bool,
    env_fernet_keys,
    env_int,
    env_list,
    env_networks,
    env_rate,
    env_str,
    env_url,
)
from mdrportal.core.logging_config import logging_config

# Django's generic classes take their type arguments at run time too (`admin.ModelAdmin[Incident]`,
# `forms.ModelForm[Contact]`, `QuerySet[Incident]`), as the type checker reads them.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
# Where local state lives (SQLite, the filesystem broker, mail files, beat's schedule). Importing these
# settings creates nothing there: ./run (scripts/dev-env) prepares it for the embedded default.
VAR_DIR = Path(env_str("MDR_VAR_DIR", str(BASE_DIR / "var")))

# Off unless set: a deployment that forgets it serves no debug pages. ./run turns it on for the embedded default.
DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env_str("SECRET_KEY") or ""
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY must be set (for the embedded default: source scripts/dev-env, as ./run does)."
    )
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off.")
PUBLIC_BASE_URL = env_url("PUBLIC_BASE_URL", "http://127.0.0.1:8000", schemes=("http", "https")).rstrip("/")
CSRF_TRUSTED_ORIGINS = [PUBLIC_BASE_URL]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "phonenumber_field",
    # The second factor (mdrportal/web/second_factor.py): TOTP and recovery codes on django-otp's devices.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "tenants",
    "incidents",
    "escalation",
    "operations",
    "reports",
]

MIDDLEWARE = [
    "operations.middleware.ProbeMiddleware",  # /healthz and /metrics, before host checks and TLS redirects
    "mdrportal.logs.RequestIdMiddleware",
    "mdrportal.web.database_unavailable.DatabaseUnavailableMiddleware",  # 503, not a 500, while it is away
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "mdrportal.security.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Control characters (NUL above all) are refused in every page, link and API input (mdrportal/core/text_input.py).
    "mdrportal.core.text_input.SafeInputMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "mdrportal.web.second_factor.SecondFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "mdrportal.web.reader_time_zone.ReaderTimeZoneMiddleware",  # times in the reader's zone, named
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "mdrportal.urls"
WSGI_APPLICATION = "mdrportal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASE_URL = env_url(
    "DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}", schemes=("sqlite", "postgres", "postgresql")
)
DATABASES = {
    "default": database_config(
        DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 0, minimum=0), var_dir=VAR_DIR
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
# Times to the second with their zone named, in the admin as on the pages (mdrportal/formats).
FORMAT_MODULE_PATH = ["mdrportal.formats"]

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
STATICFILES_DIRS = [BASE_DIR / "mdrportal" / "static"]
# The app serves its own static files (gunicorn alone, no separate file server needed). In production they
# are collected (manage.py collectstatic) with hashed names and compressed copies, cached forever by browsers;
# in development they are found where they live, so no collectstatic step can be forgotten.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# The customer pages: sign-in is rate limited (mdrportal/web/login_guard.py) on every path that signs in.
LOGIN_URL = "login"
AUTHENTICATION_BACKENDS = ["mdrportal.web.login_guard.GuardedModelBackend"]

PHONENUMBER_DB_FORMAT = "E164"
PHONENUMBER_DEFAULT_FORMAT = "E164"

# REST API (/api/v1/): personal tokens (hashed, expiring: tenants/api_tokens.py), sessions for the browser;
# OpenAPI by drf-spectacular.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "mdrportal.api.token_authentication.PersonalTokenAuthentication",
        # Detection pipelines: `Bearer mdrk_...`, an integration key that is no person and decides nothing.
        "mdrportal.api.integration_keys.IntegrationKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # A signed-in person; an integration key only where a view lets keys in (integration_key_methods).
    "DEFAULT_PERMISSION_CLASSES": ["mdrportal.api.integration_keys.SignedInOrIntegrationKey"],
    "DEFAULT_PARSER_CLASSES": [
        "mdrportal.core.text_input.SafeJSONParser",
        "mdrportal.core.text_input.SafeFormParser",
        "mdrportal.core.text_input.SafeMultiPartParser",
    ],
    # Writes per person, per integration key (mdrportal/api/throttles.py), counted in the shared cache.
    "DEFAULT_THROTTLE_CLASSES": [
        "mdrportal.api.throttles.WriteThrottle",
        "mdrportal.api.throttles.IntegrationKeyThrottle",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "TITLE": "MDR Portal API",
    "DESCRIPTION": "Incidents from detection pipelines, response settings, actions, written authorizations "
    "and timelines. People authenticate with `Authorization: Token <key>` (POST /api/v1/auth/token/); "
    "detection pipelines with `Authorization: Bearer mdrk_...`, an integration key.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",  # tags and operation ids from the resource, not the version
    # Separate request and response components, so write-only fields (passwords, secrets) never appear
    # in a response schema and read-only ones never in a request.
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "IncidentStatusEnum": "incidents.models.IncidentStatus",
        "ActionStatusEnum": "incidents.models.ActionStatus",
        "ChannelEnum": "incidents.models.Channel",
        "PerformerEnum": "tenants.models.Performer",
        "RoleEnum": "tenants.models.Role",
        "ObservableKindEnum": "incidents.models.ObservableKind",
        "MessageSideEnum": "incidents.models.MessageSide",
        "NoteVisibilityEnum": "incidents.models.NoteVisibility",
        "ProtectedKindEnum": "tenants.protected_models.ProtectedKind",
    },
}

# Celery: the database is the truth, messages are nudges; a lost message only delays a step.
CELERY_BROKER_URL = env_url("CELERY_BROKER_URL", "filesystem://", schemes=("filesystem", "redis", "rediss"))
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's own filesystem transport lets a consumer read a message file before it is written whole.
    CELERY_BROKER_TRANSPORT = "mdrportal.filesystem_broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = filesystem_broker_options(VAR_DIR / "broker")
elif CELERY_BROKER_URL.startswith("redis://"):
    # kombu's Redis transport stopped the worker on a second broker loss (an AttributeError while closing).
    CELERY_BROKER_TRANSPORT = "mdrportal.redis_broker:Transport"
# One queue per kind of job, so that workers can be given to each and a slow kind never holds the others up:
# placing calls (a dispatcher waits for the calls-per-second slots), advancing call trees, connector calls,
# email, and the sweepers. A task not named here goes to "runs", so a new task still runs somewhere.
CELERY_QUEUES_BY_JOB = ("dial", "runs", "actions", "mail", "sweep")
# Declared, so a worker started without -Q consumes them all and a purge empties them all.
CELERY_TASK_QUEUES = [Queue(name) for name in CELERY_QUEUES_BY_JOB]
CELERY_TASK_DEFAULT_QUEUE = "runs"
CELERY_TASK_ROUTES = task_routes()
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BROKER_CONNECTION_TIMEOUT = 5
# A worker whose broker is gone (restarted, failed over) keeps trying to reconnect, for as long as it takes,
# at startup too: Celery's default gives up after 100 tries and the worker exits.
CELERY_BROKER_CONNECTION_RETRY = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# The workers log through LOGGING below (JSON in production), not Celery's own format.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5}

# Response actions: how long one connector call may take, and how failures are retried.
CONNECTOR_TIMEOUT_SECONDS = env_int("CONNECTOR_TIMEOUT_SECONDS", 15, minimum=1, maximum=120)
SOPHOS_TOKEN_URL = env_url(
    "SOPHOS_TOKEN_URL", "https://id.sophos.com/api/v2/oauth2/token", schemes=("http", "https")
)
# Off unless set (./run sets it for the embedded default): connector URLs must be https and not point at
# this network.
CONNECTOR_ALLOW_LOCAL_URLS = env_bool("CONNECTOR_ALLOW_LOCAL_URLS", False)
if CONNECTOR_ALLOW_LOCAL_URLS and not DEBUG:
    raise ImproperlyConfigured(
        "CONNECTOR_ALLOW_LOCAL_URLS is for the embedded default and tests: it cannot be on when DEBUG is off."
    )
# Networks (CIDR, comma-separated) that connector URLs may reach besides public addresses, such as the private
# network of an on-premises EDR manager; empty by default. Logged at start-up, shown in the connectors' admin.
CONNECTOR_ALLOWED_NETWORKS = env_networks("CONNECTOR_ALLOWED_NETWORKS")
# Connector secrets at rest (mdrportal/core/secret_fields.py): Fernet keys, comma-separated; the first encrypts.
# Unset in production is an error; the embedded default derives one from SECRET_KEY.
SECRETS_ENCRYPTION_KEYS = env_fernet_keys(
    "SECRETS_ENCRYPTION_KEYS", derive_from=SECRET_KEY if DEBUG else None
)
ACTION_MAX_ATTEMPTS = env_int("ACTION_MAX_ATTEMPTS", 5, minimum=1, maximum=20)
ACTION_RETRY_BASE_SECONDS = env_int("ACTION_RETRY_BASE_SECONDS", 10, minimum=0)
ACTION_RETRY_MAX_SECONDS = env_int("ACTION_RETRY_MAX_SECONDS", 600, minimum=0)
# A running attempt older than this is taken as lost (its worker died) and retried as a new attempt.
ACTION_RUN_TIMEOUT_SECONDS = env_int("ACTION_RUN_TIMEOUT_SECONDS", 120, minimum=1)
SWEEP_INTERVAL_SECONDS = env_int("SWEEP_INTERVAL_SECONDS", 5, minimum=1)
CELERY_BEAT_SCHEDULE = beat_schedule(sweep_interval_seconds=SWEEP_INTERVAL_SECONDS)

# Phone: unset credentials mean the simulated phone.
TWILIO_ACCOUNT_SID = env_str("TWILIO_ACCOUNT_SID")
TWILIO_AUTH_TOKEN = env_str("TWILIO_AUTH_TOKEN")
TWILIO_FROM_NUMBER = env_str("TWILIO_FROM_NUMBER")
TWILIO_API_BASE_URL = env_url("TWILIO_API_BASE_URL", "https://api.twilio.com", schemes=("http", "https"))
# Text messages: through Twilio's Messages API from this number, or from a messaging service; unset: simulated.
TWILIO_MESSAGING_FROM = env_str("TWILIO_MESSAGING_FROM")
TWILIO_MESSAGING_SERVICE_SID = env_str("TWILIO_MESSAGING_SERVICE_SID")
# The total time one text may take at Twilio: connect, TLS, sending and every read of the answer.
SMS_TIMEOUT_SECONDS = env_int("SMS_TIMEOUT_SECONDS", 10, minimum=1, maximum=60)

# Escalation: call trees, links and re-notification.
TWILIO_CPS = env_int("TWILIO_CPS", 1, minimum=1, maximum=100)
# How long past the ring timeout a placed call may stay without a final status before it counts as unanswered.
CALL_STATUS_GRACE_SECONDS = env_int("CALL_STATUS_GRACE_SECONDS", 30, minimum=0)
# A call that reached nobody (refused, never placed, failed) is placed again after base, 2 x base ... max.
CALL_RETRY_BASE_SECONDS = env_int("CALL_RETRY_BASE_SECONDS", 15, minimum=1)
CALL_RETRY_MAX_SECONDS = env_int("CALL_RETRY_MAX_SECONDS", 300, minimum=1)
LINK_MAX_AGE_HOURS = env_int("LINK_MAX_AGE_HOURS", 24, minimum=1)
RENOTIFY_DELAY_MINUTES = env_int("RENOTIFY_DELAY_MINUTES", 15, minimum=0)
RENOTIFY_ROUNDS = env_int("RENOTIFY_ROUNDS", 3, minimum=0, maximum=20)
# The length of a tenant's reminder "minute" in seconds: 60, except where a test runs reminders fast.
REMINDER_MINUTE_SECONDS = env_int("REMINDER_MINUTE_SECONDS", 60, minimum=1, maximum=60)
# The outbox (emails, texts, reminders, monthly reports): a message still "sending" this long after its send
# started belongs to a worker that died handing it over (failed, never resent); a claimed one whose nudge was
# lost is nudged again this long after it was claimed.
OUTBOX_STUCK_AFTER = timedelta(seconds=env_int("OUTBOX_STUCK_AFTER_SECONDS", 600, minimum=60))
OUTBOX_RESEND_UNSENT_AFTER = timedelta(seconds=env_int("OUTBOX_RESEND_UNSENT_AFTER_SECONDS", 30, minimum=1))
# Redis for the shared calls-per-second limit; unset means the database enforces it.
_BROKER_IS_REDIS = CELERY_BROKER_URL.startswith(("redis://", "rediss://"))
RATE_LIMIT_REDIS_URL = env_url(
    "RATE_LIMIT_REDIS_URL", CELERY_BROKER_URL if _BROKER_IS_REDIS else "", schemes=("redis", "rediss")
)

# Email: unset EMAIL_HOST means mail is written to the console and, one .eml file each, to var/mail.
EMAIL_HOST = env_str("EMAIL_HOST")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1, maximum=65535)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
else:
    EMAIL_BACKEND = "mdrportal.mail_backend.ConsoleAndFileBackend"
    EMAIL_FILE_PATH = str(VAR_DIR / "mail")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "MDR Ops <mdr-ops@localhost>")
# Where a customer's message in a thread is emailed when its incident has no owner: the MDR Ops queue.
MDR_QUEUE_EMAIL = env_str("MDR_QUEUE_EMAIL", "mdr-ops@localhost")

if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Logs: JSON lines in production (LOG_FORMAT=json), readable lines in development; both carry the request,
# incident, run and action ids and mask phone numbers (mdrportal/logs.py).
LOG_FORMAT = env_str("LOG_FORMAT", "plain" if DEBUG else "json")
if LOG_FORMAT not in {"json", "plain"}:
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r} is not one of json, plain.")
LOGGING = logging_config(log_format=LOG_FORMAT, level=env_str("LOG_LEVEL", "INFO"))

# Operations: /metrics answers only a scraper sending `Authorization: Bearer <METRICS_TOKEN>` (unset: off).
METRICS_TOKEN = env_str("METRICS_TOKEN") or ""
# manage.py prune_expired deletes API idempotency keys older than this.
IDEMPOTENCY_KEY_RETENTION_HOURS = env_int("IDEMPOTENCY_KEY_RETENTION_HOURS", 7 * 24, minimum=24)

# Errors to Sentry when SENTRY_DSN is set, with personal data off (mdrportal/error_reporting.py).
SENTRY_DSN = env_url("SENTRY_DSN", "", schemes=("http", "https"))
if SENTRY_DSN:
    from mdrportal.error_reporting import error_reporting_init

    error_reporting_init(
        dsn=SENTRY_DSN,
        environment=env_str("SENTRY_ENVIRONMENT", "production") or "production",
        release=env_str("SENTRY_RELEASE"),
    )

# Security hardening: client addresses behind proxies, the second factor, a shared cache for the API's
# throttles, and limits on test calls.
# How many proxies we run in front of the portal, each appending to X-Forwarded-For; 0 ignores the header.
# The client address it gives is used for the sign-in lock, throttles and authorization evidence.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0, maximum=5)
OTP_TOTP_ISSUER = "MDR Portal"
# Deciding in the portal needs a second factor passed at most this long ago.
SECOND_FACTOR_STEP_UP_HOURS = env_int("SECOND_FACTOR_STEP_UP_HOURS", 12, minimum=1, maximum=24 * 14)
# A personal API token stops working this many days after it was created (tenants/api_tokens.py).
API_TOKEN_TTL_DAYS = env_int("API_TOKEN_TTL_DAYS", 30, minimum=1, maximum=365)
# Test calls cost money and go to numbers customer admins type: at most this many per tenant in 24 hours.
TEST_CALLS_PER_TENANT_PER_DAY = env_int("TEST_CALLS_PER_TENANT_PER_DAY", 10, minimum=0, maximum=1000)
# The shared cache, for the API's throttles (mdrportal/api/throttles.py): every web process counts in it.
CACHE_URL = env_url("CACHE_URL", RATE_LIMIT_REDIS_URL or "", schemes=("redis", "rediss"))
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": CACHE_URL,
        "KEY_PREFIX": "mdrportal",
    }
    if CACHE_URL
    # The table is tenants.SharedCacheEntry, created by its migration.
    else {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "mdr_cache",
        "KEY_PREFIX": "mdrportal",
    }
}
API_TOKEN_RATE = env_rate("API_TOKEN_RATE", "10/min")
API_WRITE_RATE = env_rate("API_WRITE_RATE", "120/min")
# Per integration key: a 300-customer event opens an incident and proposes a few actions for each at once.
API_INTEGRATION_KEY_RATE = env_rate("API_INTEGRATION_KEY_RATE", "6000/min")
