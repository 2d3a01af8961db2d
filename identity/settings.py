"""Settings, read from environment variables only (each one is listed in the README)."""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return default if value in (None, "") else int(value)


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "Set DJANGO_SECRET_KEY (or DJANGO_DEBUG=true for a local development run)."
        )
    SECRET_KEY = "development-only-insecure-key"
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "users",
    "profiles",
    "keycloak_bridge",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "identity.urls"
WSGI_APPLICATION = "identity.wsgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

# SQLite is the zero-setup default for `make run`; tests, benchmarks and production use PostgreSQL.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "users.User"
AUTHENTICATION_BACKENDS = ["users.backends.OperatorBackend"]
# auth.W004 warns that usernames are not globally unique: they are unique per tenant by design,
# and OperatorBackend resolves `tenant/username`.
SILENCED_SYSTEM_CHECKS = ["auth.W004"]

# Shared across processes so that throttles hold behind a load balancer.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "identity_cache",
    }
}

# Argon2id with Keycloak 26's parameters by default: a verify costs about 13 ms instead of the
# ~118 ms of Django's defaults, and a migrated realm keeps the hash cost it had in Keycloak.
PASSWORD_HASHERS = [
    "users.hashers.ConfigurableArgon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
ARGON2_TIME_COST = env_int("ARGON2_TIME_COST", 5)
ARGON2_MEMORY_COST = env_int("ARGON2_MEMORY_COST", 7168)
ARGON2_PARALLELISM = env_int("ARGON2_PARALLELISM", 1)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = os.environ.get("DJANGO_STATIC_ROOT", str(BASE_DIR / "staticfiles"))

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "users.api.authentication.ApiClientAuthentication",
        "keycloak_bridge.authentication.KeycloakTokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["users.api.permissions.HasScope"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "users.api.pagination.KeysetOrOffsetPagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "users.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_RATES": {
        "credentials": os.environ.get("CREDENTIAL_VERIFY_RATE", "20/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Identity backend API",
    "DESCRIPTION": (
        "The source of truth for users, roles, groups and celebrity and fan profiles; Keycloak resolves "
        "users through it."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI's files are served from the package, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Phone numbers without a leading + are read in this region; empty means E.164 input is required.
PHONE_DEFAULT_REGION = os.environ.get("PHONE_DEFAULT_REGION", "") or None
PASSWORD_RESET_TTL_SECONDS = env_int("PASSWORD_RESET_TTL_SECONDS", 3600)
PASSWORD_RESET_MAX_TTL_SECONDS = 24 * 3600
API_CLIENT_LAST_USED_RESOLUTION_SECONDS = 60
API_CLIENT_CACHE_SECONDS = env_int("API_CLIENT_CACHE_SECONDS", 10)

# People's access tokens (keycloak_bridge/tokens.py): checked locally against the realm's keys.
OIDC_AUDIENCE = os.environ.get("OIDC_AUDIENCE", "identity-api")
OIDC_ALLOWED_ALGORITHMS = ["RS256", "ES256"]
OIDC_LEEWAY_SECONDS = env_int("OIDC_LEEWAY_SECONDS", 30)
OIDC_JWKS_CACHE_SECONDS = env_int("OIDC_JWKS_CACHE_SECONDS", 3600)
OIDC_JWKS_MIN_REFETCH_SECONDS = 10
OIDC_JWKS_TIMEOUT_SECONDS = 5
OIDC_ISSUER_CACHE_SECONDS = env_int("OIDC_ISSUER_CACHE_SECONDS", 60)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}

# --- Celebrity and fan profiles: mailing list, inventory and share pages (see profiles/README.md) ---
# The class that adds fans to the mailing list: the console logs (development), Mailchimp subscribes.
MAILING_LIST_BACKEND = os.environ.get("MAILING_LIST_BACKEND", "profiles.mailing.ConsoleMailingList")
MAILCHIMP_API_KEY = os.environ.get("MAILCHIMP_API_KEY", "")
MAILCHIMP_LIST_ID = os.environ.get("MAILCHIMP_LIST_ID", "")
# Empty: https://<data centre of the key>.api.mailchimp.com
MAILCHIMP_BASE_URL = os.environ.get("MAILCHIMP_BASE_URL", "")
MAILCHIMP_TIMEOUT_SECONDS = env_int("MAILCHIMP_TIMEOUT_SECONDS", 10)
# The class that finds events for event share pages: none by default, or the Inventory service over HTTP.
INVENTORY_SOURCE = os.environ.get("INVENTORY_SOURCE", "profiles.events_source.NullEventSource")
INVENTORY_BASE_URL = os.environ.get("INVENTORY_BASE_URL", "")
INVENTORY_API_TOKEN = os.environ.get("INVENTORY_API_TOKEN", "")
INVENTORY_TIMEOUT_SECONDS = env_int("INVENTORY_TIMEOUT_SECONDS", 5)
# Share pages: the public origin of canonical URLs (empty: the request's), site name and Facebook app id.
SHARE_BASE_URL = os.environ.get("SHARE_BASE_URL", "")
SHARE_SITE_NAME = os.environ.get("SHARE_SITE_NAME", "")
SHARE_FACEBOOK_APP_ID = os.environ.get("SHARE_FACEBOOK_APP_ID", "")
