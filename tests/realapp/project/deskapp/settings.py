"""Settings of a small help-desk site built on Django's admin, for scriptcache's real-app tests.

Everything a test varies comes from the environment:
- DESKAPP_DB: the SQLite file (one per test session or test),
- DESKAPP_VARIANT_FILE: a file naming the active site change (a directory under variants/
  whose templates override the admin's), read on every template lookup, so a test switches
  the site's look the way its operators would (template overrides) without a restart,
- DESKAPP_SLOW_FILE: seconds by which form posts are answered late (a loaded server).
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "deskapp-test-only-not-secret"  # a loopback test site
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "shop",
]

MIDDLEWARE = [
    "deskapp.slow.SlowPosts",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "deskapp.urls"
VARIANTS_DIR = BASE_DIR / "variants"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
            # No cached loader: a switched variant shows on the next page.
            "loaders": [
                "deskapp.variant_loader.Loader",
                "django.template.loaders.app_directories.Loader",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DESKAPP_DB", str(BASE_DIR / "deskapp.sqlite3")),
    }
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"django.request": {"handlers": ["stderr"], "level": "ERROR"}},
}
