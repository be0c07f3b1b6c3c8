"""Settings for vidpipe manifests.

Everything comes from the environment, with safe development defaults. Production sets
DJANGO_DEBUG=0, DJANGO_SECRET_KEY, DJANGO_ALLOWED_HOSTS and DATABASE_URL.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from botocore.config import Config
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def env_bool(name: str, default: bool) -> bool:
    """A yes/no variable; unset or empty is `default`, anything else unknown is refused (a
    typo such as "ture" must not quietly mean "no")."""
    value = os.environ.get(name)
    if value is None or not value.strip():
        return default
    word = value.strip().lower()
    if word in TRUE_WORDS or word in FALSE_WORDS:
        return word in TRUE_WORDS
    raise ImproperlyConfigured(
        f"{name}={value!r} is not a yes/no value: use 1, true, yes or on, or 0, false, no or off."
    )


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or not value.strip():
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number.") from None


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None or not value.strip():
        return default
    try:
        return float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a number.") from None


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", True)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off.")
    SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production"

ALLOWED_HOSTS = env_list(
    "DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "manifests",
    # Webhook deliveries run as tasks: Django's Tasks framework (the backport of Django 6's)
    # and its database backend, whose `db_worker` runs them (README "Events and webhooks").
    "django_tasks",
    "django_tasks_db",
    # The Redis-backed backend's worker command (`rqworker`), for VIDPIPE_TASKS_BACKEND=rq.
    "django_rq",
    # Sign-in protection: counts failed logins, refuses them for a while (see below).
    "axes",
]

MIDDLEWARE = [
    # Reads a `Transfer-Encoding: chunked` body within the size limits (first: before any
    # middleware reads the body), so that Django sees it with its length.
    "manifests.chunked_bodies.ChunkedBodyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files straight from the WSGI app, compressed and cache-busted (no web server).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Names the request's user as the actor of the events its changes write.
    "manifests.actors.ActorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a sign-in refused by axes into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "vidpipe.urls"

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

WSGI_APPLICATION = "vidpipe.wsgi.application"
ASGI_APPLICATION = "vidpipe.asgi.application"

DATABASES = {
    "default": dj_database_url.config(
        env="DATABASE_URL",
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A new PostgreSQL connection per request costs more than many queries. Production keeps
    # them in psycopg's pool (Django 5.1+), one pool per worker process, opened at the first
    # query (after gunicorn forks). Unlike persistent connections (CONN_MAX_AGE), which Django
    # keeps per thread and so must be off under ASGI, where every request's sync code may run
    # in a new thread, a pool is safe with sync and ASGI workers alike. Each connection is
    # checked as it leaves the pool (one round trip; Django hands CONN_HEALTH_CHECKS to the
    # pool), so a database restart costs no failed request. DATABASE_POOL=0 falls back to
    # DATABASE_CONN_MAX_AGE, for sync workers only.
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = env_bool("DATABASE_CONN_HEALTH_CHECKS", True)
    if env_bool("DATABASE_POOL", not DEBUG):
        if DATABASES["default"]["CONN_MAX_AGE"] != 0:
            raise ImproperlyConfigured(
                "DATABASE_CONN_MAX_AGE must be 0 (or unset) while DATABASE_POOL is on: "
                "Django's connection pool replaces persistent connections."
            )
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            # Kept open while idle: a sync worker needs one.
            "min_size": env_int("DATABASE_POOL_MIN_SIZE", 1),
            # Most at once in one worker (an ASGI worker runs requests side by side); times
            # WEB_CONCURRENCY, it must stay under the server's max_connections.
            "max_size": env_int("DATABASE_POOL_MAX_SIZE", 4),
            # Seconds a request waits for a free connection before it fails.
            "timeout": env_int("DATABASE_POOL_TIMEOUT", 10),
        }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Defaults: options given in DATABASE_URL (?timeout=…) win.
    _sqlite_options = DATABASES["default"].setdefault("OPTIONS", {})
    for _option, _value in {
        # Seconds to wait for a competing writer's lock.
        "timeout": 20,
        # Every operation reads (locks its manifest: select_for_update is a no-op here)
        # before it writes. In a deferred transaction SQLite cannot wait to upgrade that
        # read to a write (it could deadlock), so it answers "database is locked" at
        # once, whatever the timeout. BEGIN IMMEDIATE takes the write lock up front and
        # waits for it, which also serialises the manifest's read-modify-write.
        "transaction_mode": "IMMEDIATE",
        # Write-ahead log: readers and the one writer no longer block each other, and
        # with synchronous=NORMAL a commit skips its fsync (only checkpoints sync), so
        # the write lock is held for less time. Still never corrupt; a power cut may lose
        # the last commits. WAL is stored in the file (db.sqlite3-wal and -shm appear
        # beside it while open); an in-memory database, as in the tests, ignores it.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
    }.items():
        _sqlite_options.setdefault(_option, _value)

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
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", BASE_DIR / "staticfiles"))
# The site's own static files (the favicon), beside those of the apps.
STATICFILES_DIRS = [BASE_DIR / "vidpipe" / "static"]
STORAGES = {
    # Local disk, with signed and expiring URLs (manifests.media_urls).
    "default": {"BACKEND": "manifests.media_urls.SignedURLStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

MEDIA_URL = os.environ.get("DJANGO_MEDIA_URL", "/media/")
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))

# Seconds a file URL handed out by the API or the admin is valid, at least (local disk: a
# signed URL, checked by the media view; S3: a presigned URL).
VIDPIPE_MEDIA_URL_SECONDS = env_int("VIDPIPE_MEDIA_URL_SECONDS", 3600)
if VIDPIPE_MEDIA_URL_SECONDS < 1:
    raise ImproperlyConfigured("VIDPIPE_MEDIA_URL_SECONDS must be at least 1.")

# --- Object storage (S3 protocol) ---------------------------------------------------------
# With a bucket, every stored file lives there (README "Object storage"); without one, on
# local disk under MEDIA_ROOT. Credentials come the way boto3 finds them (AWS_ACCESS_KEY_ID
# and AWS_SECRET_ACCESS_KEY, a profile, an instance role): never in settings.
VIDPIPE_S3_BUCKET = os.environ.get("VIDPIPE_S3_BUCKET", "")
# MinIO, Ceph, R2 and the like: their endpoint (empty: AWS's, for the region).
VIDPIPE_S3_ENDPOINT_URL = os.environ.get("VIDPIPE_S3_ENDPOINT_URL", "") or None
VIDPIPE_S3_REGION = os.environ.get("VIDPIPE_S3_REGION", "") or None
# A public base URL (a CDN in front of the bucket): plain URLs under it, unsigned. Anyone
# with a URL can then read the file, for ever: README "Object storage" says when to.
VIDPIPE_S3_PUBLIC_BASE_URL = os.environ.get("VIDPIPE_S3_PUBLIC_BASE_URL", "").rstrip("/")


def s3_storage(
    bucket: str, *, endpoint_url: str | None = None, region: str | None = None, public_base_url=""
) -> dict:
    """Django's STORAGES entry for a bucket (django-storages' S3 backend): private objects,
    presigned URLs unless a public base URL is given, a file never overwritten."""
    options = {
        "bucket_name": bucket,
        "endpoint_url": endpoint_url,
        "region_name": region,
        # No ACL on upload: the bucket's policy decides (private), as S3 now requires.
        "default_acl": None,
        # A new file never replaces another of the same name (as on disk: a suffix).
        "file_overwrite": False,
        "querystring_auth": not public_base_url,
        "querystring_expire": VIDPIPE_MEDIA_URL_SECONDS,
        # A storage that does not answer fails the request in seconds (503), not minutes.
        "client_config": Config(
            # Presigned URLs of Signature Version 4 (V2's are refused by most stores now).
            signature_version="s3v4",
            connect_timeout=5,
            read_timeout=30,
            retries={"max_attempts": 3, "mode": "standard"},
            # Endpoints of other stores (MinIO, moto) answer by path, not by bucket host.
            s3={"addressing_style": "path"} if endpoint_url else {},
        ),
    }
    if public_base_url:
        protocol, _, domain = public_base_url.partition("//")
        options.update(custom_domain=domain, url_protocol=protocol)
    return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options}


if VIDPIPE_S3_BUCKET:
    STORAGES["default"] = s3_storage(
        VIDPIPE_S3_BUCKET,
        endpoint_url=VIDPIPE_S3_ENDPOINT_URL,
        region=VIDPIPE_S3_REGION,
        public_base_url=VIDPIPE_S3_PUBLIC_BASE_URL,
    )
# Seconds a client is told to wait (Retry-After) when storage refuses a write (503).
VIDPIPE_STORAGE_RETRY_AFTER = env_int("VIDPIPE_STORAGE_RETRY_AFTER", 30)

# --- Who may read the files (manifests.media_urls; README "Who may read the files") ------
# Plain, unsigned URLs that anyone may read, forever (e.g. behind a CDN). See the README.
VIDPIPE_PUBLIC_MEDIA = env_bool("VIDPIPE_PUBLIC_MEDIA", False)
# nginx's internal location aliasing MEDIA_ROOT (e.g. /_protected_media/): the media view
# checks the signature, then lets nginx send the file (X-Accel-Redirect). Empty: the app
# streams it.
VIDPIPE_MEDIA_ACCEL_REDIRECT = os.environ.get("VIDPIPE_MEDIA_ACCEL_REDIRECT", "").strip()
if VIDPIPE_MEDIA_ACCEL_REDIRECT and not (
    VIDPIPE_MEDIA_ACCEL_REDIRECT.startswith("/") and VIDPIPE_MEDIA_ACCEL_REDIRECT.endswith("/")
):
    raise ImproperlyConfigured(
        f"VIDPIPE_MEDIA_ACCEL_REDIRECT={VIDPIPE_MEDIA_ACCEL_REDIRECT!r} must be a location "
        "path that starts and ends with '/', e.g. /_protected_media/."
    )

# --- Uploads -------------------------------------------------------------------------------
# Largest accepted image, in bytes (the API answers 413 above it).
VIDPIPE_MAX_UPLOAD_BYTES = env_int("VIDPIPE_MAX_UPLOAD_BYTES", 20 * 1024 * 1024)
# Largest accepted image, in pixels (width x height); guards against decompression bombs.
VIDPIPE_MAX_IMAGE_PIXELS = env_int("VIDPIPE_MAX_IMAGE_PIXELS", 50_000_000)
# Most frames accepted in an animated GIF or WebP.
VIDPIPE_MAX_IMAGE_FRAMES = env_int("VIDPIPE_MAX_IMAGE_FRAMES", 300)
# Bulk uploads (API, admin, `import_images`): most files per request (or per batch of the
# command), and the most bytes a bulk request's body may declare (413 above it, unread).
VIDPIPE_BULK_MAX_FILES = env_int("VIDPIPE_BULK_MAX_FILES", 100)
VIDPIPE_BULK_MAX_BYTES = env_int("VIDPIPE_BULK_MAX_BYTES", 256 * 1024 * 1024)
if VIDPIPE_BULK_MAX_FILES < 1:
    raise ImproperlyConfigured("VIDPIPE_BULK_MAX_FILES must be at least 1.")
# Django stops parsing a multipart body past this many files (400); never below the bulk
# limit, so that a bulk upload of VIDPIPE_BULK_MAX_FILES files is read whole. (Empty file
# inputs count too: the admin's change page sends one per asset row.)
DATA_UPLOAD_MAX_NUMBER_FILES = max(100, VIDPIPE_BULK_MAX_FILES)
# Asset thumbnails: longest side in pixels, and WEBP (keeps transparency) or JPEG.
VIDPIPE_THUMBNAIL_MAX_SIDE = env_int("VIDPIPE_THUMBNAIL_MAX_SIDE", 256)
# The formats offered are manifests.images.THUMBNAIL_FORMATS; a system check refuses others.
VIDPIPE_THUMBNAIL_FORMAT = os.environ.get("VIDPIPE_THUMBNAIL_FORMAT", "WEBP").strip().upper()
# A TrueType font file for contact-sheet labels; empty: the font that ships with Pillow.
VIDPIPE_CONTACT_SHEET_FONT = os.environ.get("VIDPIPE_CONTACT_SHEET_FONT", "")
# Bundles (a manifest as one zip: export and import). The largest bundle an import accepts
# (the one upload that may pass VIDPIPE_MAX_UPLOAD_BYTES), the most bytes its entries may
# expand to in all, how many times its compressed size one entry may expand to (zip bombs),
# and the most assets it may hold. Each image in it is held to the image limits above.
VIDPIPE_MAX_BUNDLE_BYTES = env_int("VIDPIPE_MAX_BUNDLE_BYTES", 1024 * 1024 * 1024)
VIDPIPE_BUNDLE_MAX_UNCOMPRESSED_BYTES = env_int(
    "VIDPIPE_BUNDLE_MAX_UNCOMPRESSED_BYTES", 2 * 1024 * 1024 * 1024
)
VIDPIPE_BUNDLE_MAX_RATIO = env_int("VIDPIPE_BUNDLE_MAX_RATIO", 100)
VIDPIPE_BUNDLE_MAX_ASSETS = env_int("VIDPIPE_BUNDLE_MAX_ASSETS", 5000)
# Multipart uploads stop as soon as one file passes VIDPIPE_MAX_UPLOAD_BYTES, whatever the
# request's Content-Length said; then the small-in-memory / large-on-disk handlers.
FILE_UPLOAD_HANDLERS = [
    "manifests.upload_handlers.UploadSizeLimitHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
# Uploads bigger than this go to a temporary file instead of memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = env_int("DJANGO_FILE_UPLOAD_MAX_MEMORY_SIZE", 2_621_440)
FILE_UPLOAD_PERMISSIONS = 0o644

# --- Cache ---------------------------------------------------------------------------------
# CACHE_URL (or REDIS_URL), e.g. redis://127.0.0.1:6379/0: Django's own Redis cache, shared by
# every worker of every server (rate limits count once for all of them). Unset: each process
# keeps its own local-memory cache, which is right for one process only.
CACHE_URL = (os.environ.get("CACHE_URL") or os.environ.get("REDIS_URL") or "").strip()
if CACHE_URL:
    if not CACHE_URL.startswith(("redis://", "rediss://", "unix://")):
        raise ImproperlyConfigured(
            f"CACHE_URL={CACHE_URL!r} is not a Redis URL: use redis://, rediss:// or unix://."
        )
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CACHE_URL,
            # Several installations may share one Redis: each keeps to its own keys.
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "vidpipe"),
            "TIMEOUT": 300,
        }
    }

# --- The admin at scale ---------------------------------------------------------------------
# The manifest changelist's tag filter counts the tags of at most the latest
# VIDPIPE_ADMIN_TAG_SAMPLE manifests of its view (live, deleted or all), and keeps the counts
# in the default cache for VIDPIPE_ADMIN_TAG_COUNTS_SECONDS (0: counted on every page view).
VIDPIPE_ADMIN_TAG_SAMPLE = env_int("VIDPIPE_ADMIN_TAG_SAMPLE", 10_000)
VIDPIPE_ADMIN_TAG_COUNTS_SECONDS = env_int("VIDPIPE_ADMIN_TAG_COUNTS_SECONDS", 60)
if VIDPIPE_ADMIN_TAG_SAMPLE < 1 or VIDPIPE_ADMIN_TAG_COUNTS_SECONDS < 0:
    raise ImproperlyConfigured(
        "VIDPIPE_ADMIN_TAG_SAMPLE must be at least 1 and VIDPIPE_ADMIN_TAG_COUNTS_SECONDS "
        "at least 0."
    )

# --- Tasks (webhook deliveries) -----------------------------------------------------------
# `database` (default): tasks are rows in this database, run by `manage.py webhook_worker`
# (the database backend's `db_worker`), so nothing else has to run. `rq`: tasks go through
# Redis (VIDPIPE_TASKS_REDIS_URL) to RQ workers (`manage.py webhook_worker` starts one).
VIDPIPE_TASKS_BACKEND = os.environ.get("VIDPIPE_TASKS_BACKEND", "database").strip().lower()
VIDPIPE_TASKS_REDIS_URL = os.environ.get("VIDPIPE_TASKS_REDIS_URL", "redis://127.0.0.1:6379/0")
TASK_BACKENDS = {
    "database": {"BACKEND": "django_tasks_db.DatabaseBackend"},
    "rq": {"BACKEND": "django_tasks_rq.RQBackend"},
}
if VIDPIPE_TASKS_BACKEND not in TASK_BACKENDS:
    raise ImproperlyConfigured(
        f"VIDPIPE_TASKS_BACKEND={VIDPIPE_TASKS_BACKEND!r}: use database or rq."
    )
TASKS = {"default": TASK_BACKENDS[VIDPIPE_TASKS_BACKEND]}
RQ_QUEUES = {"default": {"URL": VIDPIPE_TASKS_REDIS_URL, "DEFAULT_TIMEOUT": 300}}

# --- Webhooks ------------------------------------------------------------------------------
# Seconds to connect to a target, and to wait for each read of its answer.
VIDPIPE_WEBHOOK_CONNECT_TIMEOUT = env_float("VIDPIPE_WEBHOOK_CONNECT_TIMEOUT", 5)
VIDPIPE_WEBHOOK_READ_TIMEOUT = env_float("VIDPIPE_WEBHOOK_READ_TIMEOUT", 5)
# Attempts per delivery; the wait before attempt n+1 is BASE * 3**(n-1) seconds, give or
# take a fifth (jitter): with 8 attempts and 80 s, the last comes about a day after the first.
VIDPIPE_WEBHOOK_MAX_ATTEMPTS = env_int("VIDPIPE_WEBHOOK_MAX_ATTEMPTS", 8)
VIDPIPE_WEBHOOK_RETRY_BASE_SECONDS = env_float("VIDPIPE_WEBHOOK_RETRY_BASE_SECONDS", 80)
# An attempt whose worker died is taken up again this many seconds after it started.
VIDPIPE_WEBHOOK_LEASE_SECONDS = env_float("VIDPIPE_WEBHOOK_LEASE_SECONDS", 60)
# A run of the due deliveries that found some queues its successor this many seconds later
# (and keeps the "run queued" flag set meanwhile): while deliveries keep coming, changes find
# a run queued and queue none. A delivery waits at most this plus the worker's poll (0.2 s).
VIDPIPE_WEBHOOK_RUN_LINGER = env_float("VIDPIPE_WEBHOOK_RUN_LINGER", 1)
# Loopback targets (127.0.0.1, ::1): refused unless on (tests, a receiver on the same host).
# Private, link-local and metadata addresses are refused whatever this says.
VIDPIPE_WEBHOOK_ALLOW_LOOPBACK = env_bool("VIDPIPE_WEBHOOK_ALLOW_LOOPBACK", False)
if VIDPIPE_WEBHOOK_MAX_ATTEMPTS < 1:
    raise ImproperlyConfigured("VIDPIPE_WEBHOOK_MAX_ATTEMPTS must be at least 1.")
if VIDPIPE_WEBHOOK_RUN_LINGER < 0:
    raise ImproperlyConfigured("VIDPIPE_WEBHOOK_RUN_LINGER must not be negative (seconds).")

# --- REST framework ------------------------------------------------------------------------
REST_FRAMEWORK = {
    # Token first so that an anonymous request is told 401 with a WWW-Authenticate header.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["manifests.permissions.IsStaffOrReadOnly"],
    # JSON bodies only; the upload action alone takes multipart (see manifests.views).
    "DEFAULT_PARSER_CLASSES": ["manifests.parsers.JSONParser"],
    "DEFAULT_FILTER_BACKENDS": [
        "manifests.filters.FilterBackend",
        "manifests.filters.SearchFilter",
        "manifests.filters.OrderingFilter",
    ],
    "DEFAULT_THROTTLE_CLASSES": [
        "manifests.throttling.AnonymousThrottle",
        "manifests.throttling.UserThrottle",
    ],
    "DEFAULT_PAGINATION_CLASS": "manifests.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "manifests.schema.ApiAutoSchema",
    "EXCEPTION_HANDLER": "manifests.api_errors.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

# Rates as "<count>/<second|minute|hour|day>"; an empty value switches that limit off.
# Counters live in the default cache: shared by every worker and server with CACHE_URL.
VIDPIPE_THROTTLE_RATES = {
    "anon": os.environ.get("VIDPIPE_THROTTLE_ANON", "60/minute") or None,
    "user": os.environ.get("VIDPIPE_THROTTLE_USER", "1200/minute") or None,
}

# `?count=estimate` on the manifest and asset lists, and the admin changelists: a count is
# exact when the rows end on the page read, or when they number at most a page or this many
# (a probe reads that many keys, plus one); past that, PostgreSQL's planner estimate (README
# "Pagination at scale"). 0, the default: a page, which costs nothing more than the page.
# Counting further is paid on every page: reading 1,000 keys of a search that matches 2 %
# of 100,000 manifests took 13 ms on PostgreSQL, where its whole page took 10.
VIDPIPE_EXACT_COUNT_LIMIT = env_int("VIDPIPE_EXACT_COUNT_LIMIT", 0)
if VIDPIPE_EXACT_COUNT_LIMIT < 0:
    raise ImproperlyConfigured("VIDPIPE_EXACT_COUNT_LIMIT must be 0 or more.")
# Seconds a process keeps the planner's estimate of a query's rows (manifests.counting):
# statistics change only with ANALYZE, so an estimate a few seconds old is as good as a new
# one, and the pages read most skip planning their query twice. 0: asked every time.
VIDPIPE_COUNT_ESTIMATE_SECONDS = env_int("VIDPIPE_COUNT_ESTIMATE_SECONDS", 10)
if VIDPIPE_COUNT_ESTIMATE_SECONDS < 0:
    raise ImproperlyConfigured("VIDPIPE_COUNT_ESTIMATE_SECONDS must be 0 or more.")

SPECTACULAR_SETTINGS = {
    "TITLE": "vidpipe manifests API",
    "DESCRIPTION": (
        "Reusable libraries of reference assets (characters, objects, environments, styles) "
        "that storyboards and generation stages cite by stable tags such as CHAR_01."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # A webhook delivery's status is not a manifest's: each gets its own enum in the schema.
    "ENUM_NAME_OVERRIDES": {
        "StatusEnum": "manifests.models.Manifest.Status",
        "DeliveryStatusEnum": "manifests.models.WebhookDelivery.Status",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "manifests.schema.add_links",
    ],
}

# --- Security (production) -----------------------------------------------------------------
# Behind a TLS-terminating proxy, set DJANGO_SECURE_PROXY_SSL_HEADER=1 so that Django trusts
# X-Forwarded-Proto; only do so when the proxy always sets or strips that header.
if env_bool("DJANGO_SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("DJANGO_SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("DJANGO_CSRF_COOKIE_SECURE", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- Sign-in protection (django-axes) -------------------------------------------------------
# Every sign-in with a password (the admin's and the browsable API's login pages) first asks
# axes. After VIDPIPE_LOGIN_FAILURE_LIMIT failures for one username, or from one client
# address (each counted alone: a guesser cannot dodge by varying either), sign-in is refused
# for VIDPIPE_LOGIN_COOLOFF_MINUTES after the last counted failure, even with the right
# password. Failures older than that are forgotten. Attempts live in the database, shared by
# every worker. API tokens and existing sessions never go through it.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = env_bool("VIDPIPE_LOGIN_PROTECTION", True)
AXES_FAILURE_LIMIT = env_int("VIDPIPE_LOGIN_FAILURE_LIMIT", 5)
_cool_off_minutes = env_int("VIDPIPE_LOGIN_COOLOFF_MINUTES", 15)
if AXES_FAILURE_LIMIT < 1 or _cool_off_minutes < 1:
    raise ImproperlyConfigured(
        "VIDPIPE_LOGIN_FAILURE_LIMIT and VIDPIPE_LOGIN_COOLOFF_MINUTES must be at least 1."
    )
AXES_COOLOFF_TIME = timedelta(minutes=_cool_off_minutes)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
# Refused attempts during a lockout do not restart it: the page's time stays true.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# A success does not wipe the counts: it would let a guesser reset an address's count by
# signing in to an account of their own between guesses.
AXES_RESET_ON_SUCCESS = False
# Every failure kept for staff (admin: Access failures), besides the current counts.
AXES_ENABLE_ACCESS_FAILURE_LOG = True
# Log lines name the username and address (as the admin shows them); passwords never.
AXES_SENSITIVE_PARAMETERS = []
AXES_LOCKOUT_CALLABLE = "vidpipe.signin.lockout_response"
AXES_CLIENT_IP_CALLABLE = "vidpipe.signin.client_ip_address"
# How many reverse proxies that append to X-Forwarded-For stand in front of the app: the
# client address is read from that header only then (else anyone could write it). One when
# DJANGO_SECURE_PROXY_SSL_HEADER says there is a proxy.
VIDPIPE_PROXY_COUNT = env_int(
    "VIDPIPE_PROXY_COUNT", 1 if env_bool("DJANGO_SECURE_PROXY_SSL_HEADER", False) else 0
)

# --- Logging -------------------------------------------------------------------------------
# One console handler, on the root logger, prints every record once: Django's ("Unauthorized:
# /api/"), the app's (manifests.*, e.g. a file that could not be removed) and the libraries',
# with debug on or off. Django's default configuration, applied first, also gives "django" a
# console handler of its own (debug only) that printed its records a second time; naming
# "django" here removes that handler, and resets its children, so runserver's request log
# ("GET /api/ HTTP/1.1" 401) is declared again as Django declares it. As in Django's own
# defaults, "django" shows INFO in debug ("Watching for file changes with StatReloader"), and
# DJANGO_LOG_LEVEL, when set, governs it as it governs the root.
LOG_LEVEL = os.environ.get("DJANGO_LOG_LEVEL", "WARNING")
DJANGO_LOG_LEVEL = os.environ.get("DJANGO_LOG_LEVEL", "INFO" if DEBUG else "WARNING")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler"},
        "django.server": {"class": "logging.StreamHandler", "formatter": "django.server"},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": [], "level": DJANGO_LOG_LEVEL},
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
    },
}
