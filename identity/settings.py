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


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return default if value in (None, "") else float(value)


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
    "audit",
    "scim",
    "events",
]

MIDDLEWARE = [
    "audit.middleware.AuditContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "identity.unavailable.DatabaseUnavailableMiddleware",
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

# PostgreSQL only, the engine that tests, benchmarks, `make run` and production all use.
database_url = os.environ.get("DATABASE_URL", "")
if not database_url:
    raise ImproperlyConfigured(
        "Set DATABASE_URL=postgres://user:password@host:port/name (`make run` and `make test` start a "
        "private PostgreSQL and set it for you)."
    )
DATABASES = {
    "default": dj_database_url.parse(
        database_url,
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
# A database that cannot be reached fails the request within seconds (a 503, see identity/unavailable.py)
# instead of holding a worker; a timeout given in DATABASE_URL (?connect_timeout=) wins.
DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", env_int("DATABASE_CONNECT_TIMEOUT", 5))
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("DATABASE_URL must name a PostgreSQL database (postgres://…): it is the only engine.")
# Streaming replicas of that database, comma-separated: searches, lists, counts and the admin's change
# lists read from them (identity/db_routing.py). Aliases replica1, replica2…; tests mirror default.
for _number, _url in enumerate(env_list("DATABASE_REPLICA_URL", ""), start=1):
    _replica = dj_database_url.parse(_url, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60), conn_health_checks=True)
    if _replica["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured("DATABASE_REPLICA_URL must name PostgreSQL replicas (postgres://…, comma-separated).")
    DATABASES[f"replica{_number}"] = {**_replica, "TEST": {"MIRROR": "default"}}
# Django's PostgreSQL backend, but a connection used in the last DATABASE_HEALTH_CHECK_IDLE_SECONDS is
# not health-checked again before a request's first query (identity/postgresql/base.py).
for _database in DATABASES.values():
    _database["ENGINE"] = "identity.postgresql"
DATABASE_HEALTH_CHECK_IDLE_SECONDS = env_float("DATABASE_HEALTH_CHECK_IDLE_SECONDS", 1.0)
DATABASE_JIT = env_bool("DATABASE_JIT", False)  # off: see identity/postgresql/base.py
DATABASE_ROUTERS = []
if len(DATABASES) > 1:
    DATABASE_ROUTERS = ["identity.db_routing.PrimaryRouter"]
    MIDDLEWARE.insert(0, "identity.db_routing.ReadRoutingMiddleware")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "users.User"
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

# Argon2id with Keycloak 26's parameters by default: a verify costs a tenth of what Django's
# defaults cost, and a migrated realm keeps the hash cost it had in Keycloak.
PASSWORD_HASHERS = [
    "users.hashers.ConfigurableArgon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
    # Hashes imported from Keycloak, as it wrote them: verified, then rewritten at the first login.
    "users.keycloak_hashers.KeycloakArgon2PasswordHasher",
    "users.keycloak_hashers.KeycloakPbkdf2Sha512PasswordHasher",
    "users.keycloak_hashers.KeycloakPbkdf2Sha256PasswordHasher",
    "users.keycloak_hashers.KeycloakPbkdf2PasswordHasher",
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
    "DEFAULT_PERMISSION_CLASSES": ["identity.api.permissions.HasScope"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["identity.api.parsers.JSONParser"],
    "DEFAULT_METADATA_CLASS": "identity.api.metadata.MethodsOnlyMetadata",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "identity.api.pagination.KeysetOrOffsetPagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "identity.api.errors.exception_handler",
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
OIDC_ISSUER_CACHE_SECONDS = env_int("OIDC_ISSUER_CACHE_SECONDS", 60)
# A verified token's signature check is reused this long (never past its exp); 0: checked every time.
OIDC_VERIFIED_TOKEN_CACHE_SECONDS = env_int("OIDC_VERIFIED_TOKEN_CACHE_SECONDS", 5)

# Users' Keycloak sessions, listed and ended through each realm's admin API (keycloak_bridge/sessions.py)
# as the service account of its `identity-backend` client, whose secret is derived from this key.
KEYCLOAK_ADMIN_CLIENT_KEY = os.environ.get("KEYCLOAK_ADMIN_CLIENT_KEY", "")
# Empty: the Keycloak of each tenant's issuer.
KEYCLOAK_ADMIN_URL = os.environ.get("KEYCLOAK_ADMIN_URL", "").rstrip("/")
KEYCLOAK_ADMIN_TIMEOUT_SECONDS = env_int("KEYCLOAK_ADMIN_TIMEOUT_SECONDS", 5)

# --- Security hardening: realms' keys, client addresses, the admin's sign-in, HTTPS (README "Security settings") ---
# A realm's JWKS fetch gives up after this many seconds in all; a failed one is not repeated before a
# pause that doubles from 1 s up to the cap, so a realm that is down slows down nobody else's tokens.
OIDC_JWKS_TIMEOUT_SECONDS = env_int("OIDC_JWKS_TIMEOUT_SECONDS", 2)
OIDC_JWKS_RETRY_MIN_SECONDS = 1
OIDC_JWKS_RETRY_MAX_SECONDS = env_int("OIDC_JWKS_RETRY_MAX_SECONDS", 60)
# Proxies of our own in front of the backend, each appending to X-Forwarded-For: the client's address
# is the Nth entry from the right. 0 ignores the header (the connection's address counts).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
REST_FRAMEWORK["NUM_PROXIES"] = TRUSTED_PROXY_COUNT
# The admin's messages carry secrets shown once (API client and reset tokens): keep them in the
# server-side session, not in a signed but readable cookie.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
# The admin's password form: after this many failed passwords for one login name, or from one client
# address, within the window, both are refused (the right password too) until the window passes.
ADMIN_LOGIN_FAILURES_PER_USERNAME = env_int("ADMIN_LOGIN_FAILURES_PER_USERNAME", 5)
ADMIN_LOGIN_FAILURES_PER_IP = env_int("ADMIN_LOGIN_FAILURES_PER_IP", 20)
ADMIN_LOGIN_LOCKOUT_SECONDS = env_int("ADMIN_LOGIN_LOCKOUT_SECONDS", 15 * 60)
# HTTPS: secure by default unless DEBUG (so `make run` works over http); `check --deploy` is clean.
# Plain-HTTP health probes of a load balancer are not redirected.
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", not DEBUG)
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 0 if DEBUG else 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", True)
# Behind a TLS-terminating proxy: the header it sets to "https" (e.g. X-Forwarded-Proto). Only name
# one that the proxy always sets or overwrites, or any caller could claim HTTPS.
_proxy_ssl_header = os.environ.get("DJANGO_SECURE_PROXY_SSL_HEADER", "").strip()
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_" + _proxy_ssl_header.upper().replace("-", "_"), "https") if _proxy_ssl_header else None)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # The AMQP client narrates every connection, and logs each refused one as an error with a trace:
    # the relay and the consumer report those themselves, in one line.
    "loggers": {"pika": {"level": "CRITICAL"}},
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

# --- Operators' single sign-on to the admin through Keycloak (keycloak_bridge/admin_sso.py) ---
# mozilla-django-oidc's authorization-code flow with PKCE against the `identity-admin` client of the
# operators' realm. Empty ADMIN_OIDC_ISSUER: no SSO, the admin signs in with passwords only.
ADMIN_OIDC_ISSUER = os.environ.get("ADMIN_OIDC_ISSUER", "").rstrip("/")
ADMIN_OIDC_CLIENT_ID = os.environ.get("ADMIN_OIDC_CLIENT_ID", "identity-admin")
ADMIN_OIDC_CLIENT_SECRET = os.environ.get("ADMIN_OIDC_CLIENT_SECRET", "")
# False removes the password form and OperatorBackend: operators then sign in through Keycloak only.
ADMIN_PASSWORD_LOGIN = env_bool("ADMIN_PASSWORD_LOGIN", True)
# The backend roles (users.Role names, in the issuer's tenant) that make is_staff and is_superuser.
ADMIN_OIDC_STAFF_ROLE = os.environ.get("ADMIN_OIDC_STAFF_ROLE", "operator")
ADMIN_OIDC_SUPERUSER_ROLE = os.environ.get("ADMIN_OIDC_SUPERUSER_ROLE", "superuser")
if not ADMIN_PASSWORD_LOGIN and not ADMIN_OIDC_ISSUER:
    raise ImproperlyConfigured("ADMIN_PASSWORD_LOGIN=false needs ADMIN_OIDC_ISSUER: nobody could sign in to the admin.")

AUTHENTICATION_BACKENDS = (["users.backends.OperatorBackend"] if ADMIN_PASSWORD_LOGIN else []) + (
    ["keycloak_bridge.admin_sso.AdminOIDCBackend"] if ADMIN_OIDC_ISSUER else [])
# mozilla-django-oidc's settings, from Keycloak's standard endpoints under the issuer.
OIDC_RP_CLIENT_ID = ADMIN_OIDC_CLIENT_ID
OIDC_RP_CLIENT_SECRET = ADMIN_OIDC_CLIENT_SECRET
OIDC_OP_AUTHORIZATION_ENDPOINT = f"{ADMIN_OIDC_ISSUER}/protocol/openid-connect/auth"
OIDC_OP_TOKEN_ENDPOINT = f"{ADMIN_OIDC_ISSUER}/protocol/openid-connect/token"
OIDC_OP_USER_ENDPOINT = f"{ADMIN_OIDC_ISSUER}/protocol/openid-connect/userinfo"
OIDC_OP_JWKS_ENDPOINT = f"{ADMIN_OIDC_ISSUER}/protocol/openid-connect/certs"
OIDC_OP_LOGOUT_ENDPOINT = f"{ADMIN_OIDC_ISSUER}/protocol/openid-connect/logout"
OIDC_OP_LOGOUT_URL_METHOD = "keycloak_bridge.admin_sso.keycloak_logout_url"
OIDC_RP_SIGN_ALGO = "RS256"
OIDC_RP_SCOPES = "openid"
OIDC_USE_PKCE = True
OIDC_PKCE_CODE_CHALLENGE_METHOD = "S256"
OIDC_STORE_ID_TOKEN = True
OIDC_CREATE_USER = False
OIDC_TIMEOUT = 10
OIDC_AUTHENTICATE_CLASS = "keycloak_bridge.admin_sso.AdminOIDCLoginView"
OIDC_CALLBACK_CLASS = "keycloak_bridge.admin_sso.AdminOIDCCallbackView"
LOGIN_REDIRECT_URL = "/admin/"
LOGIN_REDIRECT_URL_FAILURE = "/admin/login/"

# --- Verification codes, magic sign-in links and SMS codes (users/verification.py, users/delivery.py) ---
# SMS: the console logs messages (the development default); Twilio sends them (the default otherwise,
# so a production deployment without Twilio settings fails loudly instead of logging codes).
SMS_BACKEND = os.environ.get(
    "SMS_BACKEND", "users.delivery.ConsoleSms" if DEBUG else "users.delivery.TwilioSms")
TWILIO_ACCOUNT_SID = os.environ.get("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = os.environ.get("TWILIO_AUTH_TOKEN", "")
# A sender number in E.164, or a Messaging Service SID (MG…), sent as MessagingServiceSid.
TWILIO_FROM = os.environ.get("TWILIO_FROM", "")
TWILIO_BASE_URL = os.environ.get("TWILIO_BASE_URL", "https://api.twilio.com")
TWILIO_TIMEOUT_SECONDS = env_int("TWILIO_TIMEOUT_SECONDS", 10)
# E-mail through Django's backends: the console in development, SMTP otherwise.
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = 10
# For django.core.mail.backends.filebased.EmailBackend: one file per message in this folder.
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH") or None
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "no-reply@localhost")
# Links: {token} (magic links) or {id} and {code} (e-mail verification), {tenant} the tenant's slug,
# {state} the caller's opaque value (magic links); each is URL-quoted.
MAGIC_LINK_URL_TEMPLATE = os.environ.get(
    "MAGIC_LINK_URL_TEMPLATE", "http://127.0.0.1:8080/realms/{tenant}/magic-link?token={token}&state={state}")
EMAIL_VERIFICATION_URL_TEMPLATE = os.environ.get(
    "EMAIL_VERIFICATION_URL_TEMPLATE", "http://127.0.0.1:3000/verify-email?verification={id}&code={code}")
# Sends (codes, links, magic requests) allowed per number or address, and per end user's IP.
VERIFICATION_SEND_RATE_PER_DESTINATION = os.environ.get("VERIFICATION_SEND_RATE_PER_DESTINATION", "5/hour")
VERIFICATION_SEND_RATE_PER_IP = os.environ.get("VERIFICATION_SEND_RATE_PER_IP", "30/hour")
# False sends magic links and codes inline (the answer's timing then shows whether a user exists).
DELIVERY_IN_BACKGROUND = env_bool("DELIVERY_IN_BACKGROUND", True)
VERIFICATION_CODE_TTL_SECONDS = 10 * 60
VERIFICATION_LINK_TTL_SECONDS = 24 * 3600
VERIFICATION_PROOF_MAX_AGE_SECONDS = 15 * 60
MAGIC_LINK_TTL_SECONDS = 24 * 3600  # as long as the former Magic Link extension's links lived
MAGIC_SMS_TTL_SECONDS = 10 * 60

# SCIM 2.0 provisioning at /scim/v2 (scim/): the page size a list returns by default and at most,
# and how many matches a filter may have before it is refused as `tooMany` (its total is counted).
SCIM_DEFAULT_PAGE_SIZE = env_int("SCIM_DEFAULT_PAGE_SIZE", 100)
SCIM_MAX_PAGE_SIZE = env_int("SCIM_MAX_PAGE_SIZE", 200)
SCIM_MAX_COUNT = env_int("SCIM_MAX_COUNT", 10000)

# --- Domain events on RabbitMQ through the outbox (events/) ---
# Changes always write their events to the outbox; the relay (`manage.py relay_events`) publishes
# them to this broker and the command consumer (`manage.py consume_commands`) reads from it. Empty:
# events are off (a warning at start), and they wait in the outbox.
EVENTS_BROKER_URL = os.environ.get("EVENTS_BROKER_URL", "")
# ce-source of what this deployment publishes.
EVENTS_SOURCE = os.environ.get("EVENTS_SOURCE", "/identity-backend")
# The relay: rows per claim, the polling fallback when no NOTIFY comes, the longest wait after failures,
# and the least time between the starts of two rounds (commits within it share one round).
EVENTS_RELAY_BATCH = env_int("EVENTS_RELAY_BATCH", 500)
EVENTS_RELAY_POLL_SECONDS = env_int("EVENTS_RELAY_POLL_SECONDS", 5)
EVENTS_RELAY_MAX_BACKOFF_SECONDS = env_int("EVENTS_RELAY_MAX_BACKOFF_SECONDS", 30)
EVENTS_RELAY_LINGER_MS = env_int("EVENTS_RELAY_LINGER_MS", 50)
# The queue the command consumer reads (bound to the `users` exchange) and its dead-letter queue.
EVENTS_COMMANDS_QUEUE = os.environ.get("EVENTS_COMMANDS_QUEUE", "identity.users.commands")
