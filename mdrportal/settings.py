"""Settings, all read from the environment (see README's configuration table)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from mdrportal.env import env_bool, env_int, env_list, env_rate, env_str, env_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("MDR_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", True)


def _secret_key() -> str:
    key = env_str("SECRET_KEY")
    if key:
        return key
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    # Generated once so that sessions and signed links survive restarts of the embedded default.
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
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
    "tenants",
    "incidents",
    "escalation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "mdrportal.security.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
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
    "default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 0, minimum=0))
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The web process and the worker share one file: wait for the lock instead of failing, and take the
    # write lock when a transaction starts so that a read-then-write cannot be overtaken.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not memory, so that a worker process started by a test sees the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-db-{os.getpid()}.sqlite3")}
else:
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
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

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# The app serves its own static files (gunicorn alone, no separate file server needed), found where they
# live, so that no collectstatic step can be forgotten.
WHITENOISE_USE_FINDERS = True
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "mdrportal" / "static"]

# The customer pages: sign-in is rate limited (mdrportal/login_guard.py) on every path that signs in.
LOGIN_URL = "login"
AUTHENTICATION_BACKENDS = ["mdrportal.login_guard.GuardedModelBackend"]

PHONENUMBER_DB_FORMAT = "E164"
PHONENUMBER_DEFAULT_FORMAT = "E164"

# REST API (/api/v1/): DRF tokens for integrations, sessions for the browser; OpenAPI by drf-spectacular.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
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
    "and timelines. Authenticate with `Authorization: Token <key>` (POST /api/v1/auth/token/).",
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
    },
}

# Celery: the database is the truth, messages are nudges; a lost message only delays a step.
CELERY_BROKER_URL = env_url("CELERY_BROKER_URL", "filesystem://", schemes=("filesystem", "redis", "rediss"))
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    (_broker_dir / "queue").mkdir(parents=True, exist_ok=True)
    (_broker_dir / "processed").mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
        "control_folder": str(_broker_dir / "control"),
    }
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BROKER_CONNECTION_TIMEOUT = 5
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5}

# Response actions: how long one connector call may take, and how failures are retried.
CONNECTOR_TIMEOUT_SECONDS = env_int("CONNECTOR_TIMEOUT_SECONDS", 15, minimum=1, maximum=120)
SOPHOS_TOKEN_URL = env_url(
    "SOPHOS_TOKEN_URL", "https://id.sophos.com/api/v2/oauth2/token", schemes=("http", "https")
)
# Off in production: connector URLs must then be https and not point at this network.
CONNECTOR_ALLOW_LOCAL_URLS = env_bool("CONNECTOR_ALLOW_LOCAL_URLS", DEBUG)
ACTION_MAX_ATTEMPTS = env_int("ACTION_MAX_ATTEMPTS", 5, minimum=1, maximum=20)
ACTION_RETRY_BASE_SECONDS = env_int("ACTION_RETRY_BASE_SECONDS", 10, minimum=0)
ACTION_RETRY_MAX_SECONDS = env_int("ACTION_RETRY_MAX_SECONDS", 600, minimum=0)
# A running attempt older than this is taken as lost (its worker died) and retried as a new attempt.
ACTION_RUN_TIMEOUT_SECONDS = env_int("ACTION_RUN_TIMEOUT_SECONDS", 120, minimum=1)
SWEEP_INTERVAL_SECONDS = env_int("SWEEP_INTERVAL_SECONDS", 5, minimum=1)
CELERY_BEAT_SCHEDULE = {
    "sweep-actions": {
        "task": "incidents.sweep_actions",
        "schedule": SWEEP_INTERVAL_SECONDS,
        "options": {"expires": SWEEP_INTERVAL_SECONDS},
    },
    "sweep-escalation": {
        "task": "escalation.sweep",
        "schedule": SWEEP_INTERVAL_SECONDS,
        "options": {"expires": SWEEP_INTERVAL_SECONDS},
    },
}

# Phone: unset credentials mean the simulated phone.
TWILIO_ACCOUNT_SID = env_str("TWILIO_ACCOUNT_SID")
TWILIO_AUTH_TOKEN = env_str("TWILIO_AUTH_TOKEN")
TWILIO_FROM_NUMBER = env_str("TWILIO_FROM_NUMBER")
TWILIO_API_BASE_URL = env_url("TWILIO_API_BASE_URL", "https://api.twilio.com", schemes=("http", "https"))

# Escalation: call trees, links and re-notification.
TWILIO_CPS = env_int("TWILIO_CPS", 1, minimum=1, maximum=100)
# How long past the ring timeout a placed call may stay without a final status before it counts as unanswered.
CALL_STATUS_GRACE_SECONDS = env_int("CALL_STATUS_GRACE_SECONDS", 30, minimum=0)
LINK_MAX_AGE_HOURS = env_int("LINK_MAX_AGE_HOURS", 24, minimum=1)
RENOTIFY_DELAY_MINUTES = env_int("RENOTIFY_DELAY_MINUTES", 15, minimum=0)
RENOTIFY_ROUNDS = env_int("RENOTIFY_ROUNDS", 3, minimum=0, maximum=20)
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

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

# Security hardening: client addresses behind proxies, the second factor, a shared cache for the API's
# throttles, and limits on test calls.
# How many proxies we run in front of the portal, each appending to X-Forwarded-For; 0 ignores the header.
# The client address it gives is used for the sign-in lock, throttles and authorization evidence.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0, maximum=5)
# The second factor (mdrportal/second_factor.py): TOTP and recovery codes on django-otp's devices.
INSTALLED_APPS += ["django_otp", "django_otp.plugins.otp_totp", "django_otp.plugins.otp_static"]
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
    "mdrportal.second_factor.SecondFactorMiddleware",
)
OTP_TOTP_ISSUER = "MDR Portal"
# Deciding in the portal needs a second factor passed at most this long ago.
SECOND_FACTOR_STEP_UP_HOURS = env_int("SECOND_FACTOR_STEP_UP_HOURS", 12, minimum=1, maximum=24 * 14)
# Control characters (NUL above all) are refused in every page, link and API input (mdrportal/text_input.py).
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.csrf.CsrfViewMiddleware"), "mdrportal.text_input.SafeInputMiddleware"
)
REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"] = [
    "mdrportal.text_input.SafeJSONParser",
    "mdrportal.text_input.SafeFormParser",
    "mdrportal.text_input.SafeMultiPartParser",
]
# Test calls cost money and go to numbers customer admins type: at most this many per tenant in 24 hours.
TEST_CALLS_PER_TENANT_PER_DAY = env_int("TEST_CALLS_PER_TENANT_PER_DAY", 10, minimum=0, maximum=1000)
# The shared cache, for the API's throttles (mdrportal/throttles.py): every web process counts in it.
CACHE_URL = env_url("CACHE_URL", RATE_LIMIT_REDIS_URL or "", schemes=("redis", "rediss"))
if CACHE_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}}
else:
    # The table is tenants.SharedCacheEntry, created by its migration.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "mdr_cache"}}
CACHES["default"]["KEY_PREFIX"] = "mdrportal"
API_TOKEN_RATE = env_rate("API_TOKEN_RATE", "10/min")
API_WRITE_RATE = env_rate("API_WRITE_RATE", "120/min")
REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"] = ["mdrportal.throttles.WriteThrottle"]
