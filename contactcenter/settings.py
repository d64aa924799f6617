"""Settings for the contact center, configured only through the environment (django-environ).

Two runtime modes share all code:
- embedded default: SQLite file, in-process channel layer, background work inside `serve`;
- scaled: PostgreSQL (`DATABASE_URL`) and Redis (`REDIS_URL`) with separate worker and timer processes.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any, cast

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env") if (BASE_DIR / ".env").exists() else None

DATA_DIR = Path(env.str("DATA_DIR", default=str(BASE_DIR / "data")))
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DEBUG", default=True)


def _local_secret_key() -> str:
    """A key generated once per checkout, so sessions survive restarts on a laptop."""
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


if DEBUG:
    SECRET_KEY = env.str("SECRET_KEY", default="") or _local_secret_key()
else:
    # Production must bring its own key; a generated one would differ between processes.
    SECRET_KEY = env.str("SECRET_KEY")

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_q",
    "contactcenter",
    "openlines",
    "crm",
    "kpi",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "contactcenter.security.ContentSecurityPolicyMiddleware",
    "contactcenter.outage.DatabaseOutageMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "contactcenter.text.FormTextMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "contactcenter.urls"
ASGI_APPLICATION = "contactcenter.asgi.application"

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
                "django.template.context_processors.i18n",
            ],
        },
    },
]


# --- Database -------------------------------------------------------------------------------------

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'contactcenter.sqlite3'}"),
}
_db = DATABASES["default"]
_db.setdefault("OPTIONS", {})
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes the write lock at BEGIN, so concurrent writers queue on the busy timeout
    # instead of failing with "database is locked" when they upgrade a read lock.
    _db["OPTIONS"].update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": env.int("SQLITE_BUSY_TIMEOUT", default=20),
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        }
    )
    # Keep each thread's connection: opening one (with the PRAGMAs) per websocket message or request cost
    # about a seventh of the message path in bench/ws_latency.py. SQLite connections are cheap to hold.
    _db["CONN_MAX_AGE"] = env.int("SQLITE_CONN_MAX_AGE", default=600)
    _db["TEST"] = {"NAME": str(DATA_DIR / "test_contactcenter.sqlite3")}
elif _db["ENGINE"] in ("django.db.backends.postgresql", "django.db.backends.postgresql_psycopg2"):
    _db["ENGINE"] = "django.db.backends.postgresql"
    # Persistent connections leak under ASGI (one per thread); the psycopg pool is the supported way.
    # The pool is configured here, not in the URL, because django-environ would turn it into a string.
    _db["CONN_MAX_AGE"] = 0
    # Fail fast during an outage (contactcenter/outage.py answers 503): a new connection gives up after
    # DATABASE_CONNECT_TIMEOUT seconds, a request waiting for a pooled one after DATABASE_POOL_TIMEOUT.
    _db["OPTIONS"].setdefault("connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=3))
    _db["OPTIONS"]["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=2),
        "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=20),
        "timeout": env.int("DATABASE_POOL_TIMEOUT", default=5),
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


# --- Channel layer and background work -------------------------------------------------------------

REDIS_URL = env.str("REDIS_URL", default="")
SCALED_MODE = bool(REDIS_URL)
# Every key this deployment writes to Redis (channel layer, cache, task queue) starts with this, so two
# deployments (or two parallel test workers) can share one Redis without reading each other's work.
REDIS_KEY_PREFIX = env.str("REDIS_KEY_PREFIX", default="cc")

CHANNEL_LAYERS: dict[str, Any]
if SCALED_MODE:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # channels_redis waits for messages with a 5-second BZPOPMIN, and redis-py >= 6 also gives
                # up reading after 5 s by default: under load the client timeout fired first, the consumer
                # holding the receive died and its websocket closed with 1011 (bench/idle_sockets.py,
                # 42 of 10,000 idle sockets). The read timeout must stay above the blocking wait.
                "hosts": [
                    {
                        "address": REDIS_URL,
                        "socket_timeout": env.float("CHANNEL_LAYER_SOCKET_TIMEOUT", default=30),
                    }
                ],
                "capacity": env.int("CHANNEL_LAYER_CAPACITY", default=1000),
                "expiry": env.int("CHANNEL_LAYER_EXPIRY", default=60),
                "prefix": REDIS_KEY_PREFIX,
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Rate limits of public endpoints (live chat) count in the cache: per process in the embedded mode,
# shared through Redis in the scaled mode.
CACHES: dict[str, Any] = (
    {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": REDIS_KEY_PREFIX,
        }
    }
    if SCALED_MODE
    else {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
)

Q_CLUSTER: dict[str, Any] = {
    # django-q2 names its Redis queue and its cluster statistics after the cluster.
    "name": f"{REDIS_KEY_PREFIX}-tasks",
    "workers": env.int("Q_WORKERS", default=2),
    "timeout": 60,
    "retry": 90,
    "max_attempts": 1,
    "ack_failures": True,
    "save_limit": 1000,
    "catch_up": False,
    "label": "Background tasks",
}
if SCALED_MODE:
    Q_CLUSTER["redis"] = REDIS_URL
else:
    # The embedded runner in `serve` executes these in the web process (see contactcenter.background).
    Q_CLUSTER["orm"] = "default"
    Q_CLUSTER["poll"] = 1

# E-mail (KPI notifications): EMAIL_URL such as smtp+tls://user:password@host:587; console by default.
vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="contactcenter@localhost")
# Absolute base of links in e-mails (the address staff open the site at). Unset, e-mails carry the path
# only (never a made-up host); links shown in the workspace are relative, so they follow the address the
# page was opened at.
SITE_URL = env.str("SITE_URL", default="").rstrip("/")
# Chat-list exports above this many rows run as a background task with a progress bar.
KPI_EXPORT_INLINE_MAX_ROWS = env.int("KPI_EXPORT_INLINE_MAX_ROWS", default=5000)

# Seconds without a heartbeat before a staff member counts as offline (reference §4.4: 15 min in a browser).
PRESENCE_IDLE_SECONDS = env.int("PRESENCE_IDLE_SECONDS", default=900)

# A resync also answers events below the page's cursor created up to this many seconds before the
# cursor's event, that the page does not list as held: ids are taken at insert but transactions commit out of
# order, so this must exceed the longest transaction that publishes events.
RESYNC_LOOKBACK = env.int("RESYNC_LOOKBACK", default=60)
# Pages also resync every this many seconds while connected: a push lost without the socket closing (the
# publishing process died between its commit and its push, or the channel layer dropped the message) is
# noticed by no reconnect, so this bounds how long such an event can stay missing.
RESYNC_INTERVAL = env.int("RESYNC_INTERVAL", default=30)

# Live chat widget abuse limits (per visitor, per IP for new visitor sessions). Raise them only for load
# tests (bench/ws_latency.py), where thousands of visitors come from one address.
LIVECHAT_RATE_LIMIT_SESSIONS_PER_MINUTE = env.int("LIVECHAT_RATE_LIMIT_SESSIONS_PER_MINUTE", default=30)
LIVECHAT_RATE_LIMIT_MESSAGES_PER_10S = env.int("LIVECHAT_RATE_LIMIT_MESSAGES_PER_10S", default=15)
LIVECHAT_RATE_LIMIT_ACTIONS_PER_10S = env.int("LIVECHAT_RATE_LIMIT_ACTIONS_PER_10S", default=60)
# Anonymous (widget) uploads, openlines/attachments.py: bytes stored per line; bytes per client address
# within the window; pixels of an image (read from its header); unattached files are deleted after this
# long; with a retention in days, files of conversations closed longer ago are deleted (0 keeps them).
LIVECHAT_UPLOAD_QUOTA_BYTES_PER_LINE = env.int("LIVECHAT_UPLOAD_QUOTA_BYTES_PER_LINE", default=1024**3)
LIVECHAT_UPLOAD_BYTES_PER_ADDRESS = env.int("LIVECHAT_UPLOAD_BYTES_PER_ADDRESS", default=100 * 1024**2)
LIVECHAT_UPLOAD_ADDRESS_WINDOW_SECONDS = env.int("LIVECHAT_UPLOAD_ADDRESS_WINDOW_SECONDS", default=3600)
LIVECHAT_UPLOAD_MAX_IMAGE_PIXELS = env.int("LIVECHAT_UPLOAD_MAX_IMAGE_PIXELS", default=40_000_000)
LIVECHAT_UPLOAD_UNATTACHED_SECONDS = env.int("LIVECHAT_UPLOAD_UNATTACHED_SECONDS", default=24 * 3600)
LIVECHAT_ATTACHMENT_RETENTION_DAYS = env.int("LIVECHAT_ATTACHMENT_RETENTION_DAYS", default=0)
# Limits of the other public endpoints (0 turns one off), counted in the cache like the live chat's:
# requests to one messenger channel's webhook (the app-level Meta URL: per client address) and requests
# per token (personal API token, REST connector token, bot secret) per minute; failed staff logins per
# client address within the window, and per username the failures (from any address) after which its
# owner is e-mailed, once per window.
WEBHOOK_RATE_LIMIT_PER_MINUTE = env.int("WEBHOOK_RATE_LIMIT_PER_MINUTE", default=3000)
API_RATE_LIMIT_PER_MINUTE = env.int("API_RATE_LIMIT_PER_MINUTE", default=6000)
LOGIN_RATE_LIMIT_FAILURES_PER_USERNAME = env.int("LOGIN_RATE_LIMIT_FAILURES_PER_USERNAME", default=10)
LOGIN_RATE_LIMIT_FAILURES_PER_IP = env.int("LOGIN_RATE_LIMIT_FAILURES_PER_IP", default=50)
LOGIN_RATE_LIMIT_WINDOW_SECONDS = env.int("LOGIN_RATE_LIMIT_WINDOW_SECONDS", default=900)
# Per (username, address): after LOGIN_LOCKOUT_FAILURES failures a delay of LOGIN_LOCKOUT_BASE_SECONDS,
# doubling with each further failure up to LOGIN_LOCKOUT_MAX_SECONDS (contactcenter.ratelimit).
LOGIN_LOCKOUT_FAILURES = env.int("LOGIN_LOCKOUT_FAILURES", default=5)
LOGIN_LOCKOUT_BASE_SECONDS = env.int("LOGIN_LOCKOUT_BASE_SECONDS", default=30)
LOGIN_LOCKOUT_MAX_SECONDS = env.int("LOGIN_LOCKOUT_MAX_SECONDS", default=900)
# Behind a reverse proxy: the request header carrying the client's address (e.g. X-Real-IP, or
# X-Forwarded-For, of which the last address is used). Unset: the socket peer is the client. Set it only
# when the proxy overwrites the header; otherwise clients could choose their address for the limits.
PROXY_ADDRESS_HEADER = env.str("PROXY_ADDRESS_HEADER", default="")
# Messenger connectors (docs/messenger-connectors.md, docs/messenger-adapters.md). The public base URL the
# platforms post webhooks to (e.g. https://cc.example.com behind a proxy); empty: the address the admin
# uses on the Contact Center page. The API URLs are the platforms' own unless a proxy or a test double
# stands in for them.
CONNECTORS_PUBLIC_URL = env.str("CONNECTORS_PUBLIC_URL", default="").rstrip("/")
CONNECTORS_TELEGRAM_API_URL = env.str("CONNECTORS_TELEGRAM_API_URL", default="https://api.telegram.org")
CONNECTORS_GRAPH_API_URL = env.str("CONNECTORS_GRAPH_API_URL", default="https://graph.facebook.com")
CONNECTORS_GRAPH_API_VERSION = env.str("CONNECTORS_GRAPH_API_VERSION", default="v25.0")
CONNECTORS_INSTAGRAM_API_URL = env.str("CONNECTORS_INSTAGRAM_API_URL", default="https://graph.instagram.com")
CONNECTORS_VIBER_API_URL = env.str("CONNECTORS_VIBER_API_URL", default="https://chatapi.viber.com/pa")
# Seconds a platform request may take (opening the connection: at most 5 of them).
CONNECTORS_HTTP_TIMEOUT = env.float("CONNECTORS_HTTP_TIMEOUT", default=15.0)
# Largest file downloaded from a platform (Telegram is capped at 20 MB, its bot download limit).
CONNECTORS_MAX_MEDIA_BYTES = env.int("CONNECTORS_MAX_MEDIA_BYTES", default=100 * 1024 * 1024)
# Password of the demo users `serve` creates on first start; empty: one is generated and printed.
DEMO_PASSWORD = env.str("DEMO_PASSWORD", default="")
# How often the timer loop looks for due deadlines.
TIMERS_INTERVAL_SECONDS = env.float("TIMERS_INTERVAL_SECONDS", default=0.5)
# A worker process whose heartbeat is older than this is reported unhealthy by /healthz.
WORKER_HEARTBEAT_STALE_SECONDS = env.int("WORKER_HEARTBEAT_STALE_SECONDS", default=30)


# --- Auth, i18n, static ----------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/admin/login/"

LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="en")
LANGUAGES = [
    ("en", "English"),
    ("cs", "Čeština"),
    ("ru", "Русский"),
    ("it", "Italiano"),
    ("vi", "Tiếng Việt"),
    ("pl", "Polski"),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# CRM: phone numbers written without a country code are read in this region, then in the fallbacks.
CRM_DEFAULT_PHONE_REGION = env.str("CRM_DEFAULT_PHONE_REGION", default="CZ")
CRM_PHONE_FALLBACK_REGIONS = env.list("CRM_PHONE_FALLBACK_REGIONS", default=["RU"])

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(DATA_DIR / "staticfiles")))
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(DATA_DIR / "media")))


# --- Security ---------------------------------------------------------------------------------------

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
# User-set outbound URLs (REST callbacks, bot webhooks) may reach loopback / private / reserved addresses
# only when this is on: tests and local development (openlines/outbound_guard.py).
OUTBOUND_ALLOW_PRIVATE_NETWORKS = env.bool("OUTBOUND_ALLOW_PRIVATE_NETWORKS", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # Load balancers check the web processes directly over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django_q": {"level": env.str("Q_LOG_LEVEL", default="WARNING")},
        "daphne": {"level": "WARNING"},
    },
}

# --- Packaging and operations (issue 24) --------------------------------------------------------------
# Whether SITE_URL was configured: when it was not, `serve` puts the address it listens on into SITE_URL
# so that links in notifications are absolute and point at the running server.
SITE_URL_SET = bool(env.str("SITE_URL", default=""))

# Every request gets an id (X-Request-ID), on its response and on the log records written meanwhile.
MIDDLEWARE.insert(0, "contactcenter.logs.RequestIdMiddleware")
# LOG_FORMAT: "plain" (default, for people) or "json" (one object per line, for log collectors).
LOG_FORMAT = env.str("LOG_FORMAT", default="plain")
if LOG_FORMAT not in ("plain", "json"):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"LOG_FORMAT must be 'plain' or 'json', not {LOG_FORMAT!r}")
LOGGING["filters"] = {"request_context": {"()": "contactcenter.logs.RequestContextFilter"}}
cast(dict[str, Any], LOGGING["formatters"])["json"] = {"()": "contactcenter.logs.JsonFormatter"}
cast(dict[str, Any], LOGGING["handlers"])["console"].update(filters=["request_context"], formatter=LOG_FORMAT)

# Static files through whitenoise in every web process: hashed, compressed names cached for a year, and
# livechat/widget.js at its stable URL with a short cache (contactcenter.staticfiles). With DEBUG on they
# are found in the source folders (no collectstatic); with DEBUG off, `collectstatic` writes STATIC_ROOT.
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
    "whitenoise.middleware.WhiteNoiseMiddleware",
)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "contactcenter.staticfiles.StaticStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG


def _static_headers_add(headers: Any, path: str, url: str) -> None:
    from contactcenter.staticfiles import static_headers_add

    static_headers_add(headers, path, url)


WHITENOISE_ADD_HEADERS_FUNCTION = _static_headers_add

# GET /metrics (Prometheus text) answers scrapers sending `Authorization: Bearer <METRICS_TOKEN>`; unset: off.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
