"""Settings of the minimal pipeline: the project's own database (psycopg 3 pool) and channel layer
(channels-redis) settings, so the stack is configured exactly as the product's; nothing else installed."""

from __future__ import annotations

import os

from contactcenter.settings import CHANNEL_LAYERS, DATABASES, SECRET_KEY

__all__ = ["CHANNEL_LAYERS", "DATABASES", "SECRET_KEY"]

if os.environ.get("FLOOR_LAYER", "core") == "pubsub":
    # Variant: channels-redis's Pub/Sub layer (same Redis, same prefix) instead of the project's list-based
    # layer, to see what the layer's per-message Redis round trips cost.
    _core = CHANNEL_LAYERS["default"]["CONFIG"]
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": _core["hosts"], "prefix": _core["prefix"]},
        }
    }

DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["floor_app"]
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
ROOT_URLCONF = "floor_app.urls"
